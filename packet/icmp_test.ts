import { assertEquals, assertThrows } from "../tests/_assert.ts";
import { ipv4ToInt } from "../core/addr.ts";
import { fromHex, toHex } from "./_hex.ts";
import { decodeIcmp, encodeFragNeeded, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED } from "./icmp.ts";

// Expected packet computed independently with Python's struct module (see tests/fixtures/dataplane.md).
const ORIGINAL = "45100028123440003f06151f0a00000a0a000064c350005000000001000000005002200000000000";
const EXPECTED = "45c0003800000000400165fa0a0000020a00000a03043392000005c8" +
  "45100028123440003f06151f0a00000a0a000064c350005000000001";

Deno.test("encodeFragNeeded() quotes the IP header plus 8 bytes with the next-hop MTU", () => {
  const out = encodeFragNeeded(fromHex(ORIGINAL), { src: ipv4ToInt("10.0.0.2"), mtu: 1480 });
  assertEquals(toHex(out), EXPECTED);
  const icmp = decodeIcmp(out.subarray(20));
  assertEquals([icmp.type, icmp.code, icmp.nextHopMtu], [ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 1480]);
});

Deno.test("encodeFragNeeded() rejects an MTU below 68 and a non-IPv4 original", () => {
  assertThrows(() => encodeFragNeeded(fromHex(ORIGINAL), { src: 1, mtu: 67 }), RangeError, "MTU 67");
  assertThrows(() => encodeFragNeeded(fromHex("60000000"), { src: 1, mtu: 1480 }), SyntaxError);
});

const DECODE: { description: string; input: string; expected: string }[] = [
  { description: "a short message", input: "0304", expected: "length 2 is less than header size 8" },
  { description: "a bad checksum", input: "03043393000005c8", expected: "checksum is wrong" },
];
for (const c of DECODE) {
  Deno.test(`decodeIcmp() rejects ${c.description}`, () => {
    assertThrows(() => decodeIcmp(fromHex(c.input)), SyntaxError, c.expected);
  });
}
