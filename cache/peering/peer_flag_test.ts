import assert from "node:assert/strict";
import { parsePeerFlag } from "./peer_flag.ts";

const valid: [string, ReturnType<typeof parsePeerFlag>][] = [
  ["10.0.0.2:3128", { host: "10.0.0.2", httpPort: 3128, icpPort: 3130, type: "sibling" }],
  ["10.0.0.2:3128:4827/parent", { host: "10.0.0.2", httpPort: 3128, icpPort: 4827, type: "parent" }],
  ["cache2.example:8080:0/sibling", { host: "cache2.example", httpPort: 8080, icpPort: 0, type: "sibling" }],
  ["[::1]:3128:3130/parent", { host: "::1", httpPort: 3128, icpPort: 3130, type: "parent" }],
];
for (const [input, expected] of valid) {
  Deno.test(`parsePeerFlag() parses ${input}`, () => assert.deepEqual(parsePeerFlag(input), expected));
}

const invalid: [string, RegExp][] = [
  ["10.0.0.2", /expected HOST:HTTP_PORT/],
  ["10.0.0.2:3128/cousin", /type "cousin" is not sibling or parent/],
  ["10.0.0.2:0", /HTTP port "0" is not a port number/],
  ["10.0.0.2:3128:70000", /ICP port "70000"/],
  ["10.0.0.2:3128:1:2", /expected HOST/],
  ["bad host:3128", /expected HOST/],
];
for (const [input, message] of invalid) {
  Deno.test(`parsePeerFlag() rejects ${input}`, () => assert.throws(() => parsePeerFlag(input), message));
}
