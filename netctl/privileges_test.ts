import { assertEquals, assertStringIncludes } from "../tests/_assert.ts";
import { missingNetCapabilities, parseCapEff, privilegeMessage } from "./privileges.ts";

const CASES: { description: string; status: string; expected: string[] }[] = [
  { description: "root (all capabilities)", status: "Name:\tdeno\nCapEff:\t000001ffffffffff\n", expected: [] },
  { description: "nobody (none)", status: "CapEff:\t0000000000000000\n", expected: ["CAP_NET_RAW", "CAP_NET_ADMIN"] },
  { description: "only CAP_NET_RAW", status: "CapEff:\t0000000000002000\n", expected: ["CAP_NET_ADMIN"] },
  { description: "only CAP_NET_ADMIN", status: "CapEff:\t0000000000001000\n", expected: ["CAP_NET_RAW"] },
  { description: "no CapEff line (cannot tell)", status: "Name:\tdeno\n", expected: [] },
];

for (const c of CASES) {
  Deno.test(`missingNetCapabilities() for ${c.description}`, () => {
    assertEquals(missingNetCapabilities(c.status), c.expected);
  });
}

Deno.test("parseCapEff() reads the hex mask", () => {
  assertEquals(parseCapEff("CapEff:\t0000000000003000"), 0x3000n);
});

Deno.test("privilegeMessage() names what is missing and the proxy alternative", () => {
  const m = privilegeMessage('Cannot start DR forwarding on "eth0"', ["CAP_NET_RAW"]);
  assertStringIncludes(m, "missing CAP_NET_RAW");
  assertStringIncludes(m, "--method proxy works unprivileged");
});
