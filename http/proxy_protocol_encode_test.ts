import assert from "node:assert/strict";
import { encodeProxyV2 } from "./proxy_protocol.ts";

const hex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
const SIG = "0d0a0d0a000d0a515549540a";

const table = [
  {
    description: "TCP over IPv4",
    input: { srcAddr: "192.0.2.1", srcPort: 51000, dstAddr: "10.0.0.100", dstPort: 80 },
    expect: SIG + "21" + "11" + "000c" + "c0000201" + "0a000064" + "c738" + "0050",
  },
  {
    description: "TCP over IPv6",
    input: { srcAddr: "2001:db8::1", srcPort: 1, dstAddr: "::1", dstPort: 443 },
    expect: SIG + "21" + "21" + "0024" + "20010db8000000000000000000000001" + "00000000000000000000000000000001" +
      "0001" + "01bb",
  },
  {
    description: "mixed families as IPv4-mapped IPv6",
    input: { srcAddr: "192.0.2.1", srcPort: 2, dstAddr: "::1", dstPort: 3 },
    expect: SIG + "21" + "21" + "0024" + "00000000000000000000ffffc0000201" + "00000000000000000000000000000001" +
      "0002" + "0003",
  },
];

for (const { description, input, expect } of table) {
  Deno.test(`encodeProxyV2() encodes ${description}`, () => {
    assert.equal(hex(encodeProxyV2(input)), expect);
  });
}

Deno.test("encodeProxyV2() rejects a port out of range and a non-address", () => {
  assert.throws(
    () => encodeProxyV2({ srcAddr: "1.2.3.4", srcPort: 70000, dstAddr: "1.2.3.4", dstPort: 1 }),
    RangeError,
  );
  assert.throws(() => encodeProxyV2({ srcAddr: "host", srcPort: 1, dstAddr: "::1", dstPort: 1 }), TypeError);
});
