import { strictEqual } from "node:assert/strict";
import { crc32c } from "./crc32c.ts";

const enc = new TextEncoder();
const CASES: { description: string; input: Uint8Array; crc: number }[] = [
  { description: "empty input", input: new Uint8Array(0), crc: 0 },
  { description: "the check string 123456789", input: enc.encode("123456789"), crc: 0xe3069283 },
  { description: "32 zero bytes (RFC 3720 B.4)", input: new Uint8Array(32), crc: 0x8a9136aa },
  { description: "32 0xFF bytes (RFC 3720 B.4)", input: new Uint8Array(32).fill(0xff), crc: 0x62a8ab43 },
  {
    description: "32 ascending bytes (RFC 3720 B.4)",
    input: Uint8Array.from({ length: 32 }, (_, i) => i),
    crc: 0x46dd794e,
  },
];

for (const c of CASES) {
  Deno.test(`crc32c() of ${c.description}`, () => {
    strictEqual(crc32c(c.input), c.crc);
  });
}

Deno.test("crc32c() is incremental across any split", () => {
  const data = Uint8Array.from({ length: 1000 }, (_, i) => (i * 31 + 7) & 0xff);
  const whole = crc32c(data);
  for (const split of [0, 1, 7, 8, 9, 500, 999, 1000]) {
    strictEqual(crc32c(data.subarray(split), crc32c(data.subarray(0, split))), whole, `split at ${split}`);
  }
});
