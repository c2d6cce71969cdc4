import { assertEquals, assertThrows } from "../tests/_assert.ts";
import { ipv4ToInt } from "../core/addr.ts";
import { fromHex, toHex } from "./_hex.ts";
import { decapsulateIpip, encapsulateIpip, writeIpipHeader } from "./ipip.ts";

// Expected values computed independently with Python's struct module (see tests/fixtures/dataplane.md).
const INNER = "45100028123440003f06151f0a00000a0a000064 c350005000000001000000005002200000000000";
const OUTER = "4510003c000740004004269b0a0000020a00000b";
const DIP = ipv4ToInt("10.0.0.2");
const RIP = ipv4ToInt("10.0.0.11");

Deno.test("encapsulateIpip() writes the outer header in the headroom, copying TOS and DF", () => {
  const inner = fromHex(INNER);
  const buf = new Uint8Array(20 + inner.length);
  buf.set(inner, 20);
  const len = encapsulateIpip(buf, 20, { src: DIP, dst: RIP, id: 7 });
  assertEquals(len, 60);
  assertEquals(toHex(buf), (OUTER + INNER).replace(/\s+/g, ""));
});

Deno.test("writeIpipHeader() writes the same outer header as encapsulateIpip() through a DataView", () => {
  const inner = fromHex(INNER);
  const buf = new Uint8Array(30 + inner.length);
  buf.set(inner, 30);
  assertEquals(writeIpipHeader(new DataView(buf.buffer), 30, DIP, RIP, 7), 60);
  assertEquals(toHex(buf.subarray(10)), (OUTER + INNER).replace(/\s+/g, ""));
  // DF clear and another TOS are copied too (checksum computed independently with Python).
  const noDf = fromHex(INNER);
  noDf[1] = 0;
  noDf[6] = 0;
  const b2 = new Uint8Array(20 + noDf.length);
  b2.set(noDf, 20);
  writeIpipHeader(new DataView(b2.buffer), 20, DIP, RIP, 0x10007);
  assertEquals(toHex(b2.subarray(0, 20)), "4500003c00070000400466ab0a0000020a00000b");
});

Deno.test("encapsulateIpip() rejects missing headroom and non-IPv4 inner packets", () => {
  const inner = fromHex(INNER);
  assertThrows(() => encapsulateIpip(inner, 0, { src: DIP, dst: RIP, id: 1 }), RangeError, "0 bytes of headroom");
  const buf = new Uint8Array(60);
  buf[20] = 0x60;
  assertThrows(() => encapsulateIpip(buf, 20, { src: DIP, dst: RIP, id: 1 }), SyntaxError, "not IPv4");
});

const DECAP: { description: string; input: string; expected: string }[] = [
  { description: "an IP-in-IP packet", input: OUTER + INNER, expected: "ok" },
  {
    description: "an outer packet that is not protocol 4",
    input: "4510003c0007400040062699 0a0000020a00000b" + INNER,
    expected: "outer protocol 6 is not 4",
  },
  {
    description: "a truncated inner packet",
    input: OUTER + "45100028123440003f06151f0a00000a0a000064",
    expected: "inner total length 40 exceeds the 20 bytes carried",
  },
  { description: "a truncated outer header", input: "4510003c0007", expected: "length 6 is less than header size 20" },
];

for (const c of DECAP) {
  Deno.test(`decapsulateIpip() ${c.expected === "ok" ? "splits" : "rejects"} ${c.description}`, () => {
    const input = fromHex(c.input);
    if (c.expected !== "ok") {
      assertThrows(() => decapsulateIpip(input), SyntaxError, c.expected);
      return;
    }
    const d = decapsulateIpip(input);
    assertEquals(d.outer.src, DIP);
    assertEquals(d.outer.dst, RIP);
    assertEquals(toHex(d.inner), INNER.replace(/\s+/g, ""));
  });
}
