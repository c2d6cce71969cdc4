import { assertEquals, assertThrows } from "../tests/_assert.ts";
import { fromHex, toHex } from "./_hex.ts";
import { decodeEthernet, encodeEthernetFrame, formatMac, parseMac } from "./ethernet.ts";

const DECODE: {
  description: string;
  input: string;
  expected: { dst: string; src: string; etherType: number } | string;
}[] = [
  {
    description: "an IPv4 frame",
    input: "02 00 00 00 00 01 02 00 00 00 00 02 08 00 45",
    expected: { dst: "02:00:00:00:00:01", src: "02:00:00:00:00:02", etherType: 0x0800 },
  },
  {
    description: "a broadcast ARP frame",
    input: "ff ff ff ff ff ff 0a bb cc dd ee ff 08 06",
    expected: { dst: "ff:ff:ff:ff:ff:ff", src: "0a:bb:cc:dd:ee:ff", etherType: 0x0806 },
  },
  {
    description: "a truncated header",
    input: "ff ff ff ff ff ff 00 00",
    expected: "length 8 is less than header size 14",
  },
];

for (const c of DECODE) {
  Deno.test(`decodeEthernet() ${typeof c.expected === "string" ? "rejects" : "decodes"} ${c.description}`, () => {
    const input = fromHex(c.input);
    if (typeof c.expected === "string") {
      assertThrows(() => decodeEthernet(input), SyntaxError, c.expected);
      return;
    }
    const h = decodeEthernet(input);
    assertEquals({ dst: formatMac(h.dst), src: formatMac(h.src), etherType: h.etherType }, c.expected);
  });
}

Deno.test("encodeEthernetFrame() writes header then payload", () => {
  const frame = encodeEthernetFrame(
    { dst: parseMac("02:00:00:00:00:01"), src: parseMac("02-00-00-00-00-02"), etherType: 0x0806 },
    fromHex("beef"),
  );
  assertEquals(toHex(frame), "020000000001020000000002" + "0806" + "beef");
});

Deno.test("parseMac() rejects malformed text", () => {
  for (const bad of ["", "02:00:00:00:00", "02:00:00:00:00:0g", "02:00:00:00:00:001"]) {
    assertThrows(() => parseMac(bad), SyntaxError, "Cannot parse MAC address");
  }
});
