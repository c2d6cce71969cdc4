import { assertEquals, assertThrows } from "../tests/_assert.ts";
import { internetChecksum } from "./checksum.ts";
import { fromHex, toHex } from "./_hex.ts";
import {
  completePartialChecksum,
  decodeVnetHeader,
  VNET_F_NEEDS_CSUM,
  VNET_GSO_TCPV4,
  writeVnetHeader,
} from "./vnet_header.ts";

const DECODE: { description: string; input: string; expected: Record<string, number> | string }[] = [
  {
    description: "a TCPv4 GSO super-frame needing a checksum",
    // flags 1, gso 1, hdr_len 66, gso_size 1448, csum_start 34, csum_offset 16 (little-endian)
    input: "01 01 4200 a805 2200 1000",
    expected: {
      flags: VNET_F_NEEDS_CSUM,
      gsoType: VNET_GSO_TCPV4,
      hdrLen: 66,
      gsoSize: 1448,
      csumStart: 34,
      csumOffset: 16,
    },
  },
  {
    description: "a plain frame",
    input: "00 00 0000 0000 0000 0000",
    expected: { flags: 0, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 0, csumOffset: 0 },
  },
  { description: "a truncated header", input: "01 01 4200", expected: "length 4 is less than header size 10" },
];

for (const c of DECODE) {
  Deno.test(`decodeVnetHeader() ${typeof c.expected === "string" ? "rejects" : "decodes"} ${c.description}`, () => {
    const input = fromHex(c.input);
    if (typeof c.expected === "string") {
      assertThrows(() => decodeVnetHeader(input), SyntaxError, c.expected);
      return;
    }
    assertEquals({ ...decodeVnetHeader(input) }, c.expected);
  });
}

Deno.test("writeVnetHeader() round-trips", () => {
  const buf = new Uint8Array(10);
  writeVnetHeader(buf, 0, { flags: 1, gsoType: 1, hdrLen: 66, gsoSize: 1448, csumStart: 34, csumOffset: 16 });
  assertEquals(toHex(buf), "01014200a80522001000");
});

Deno.test("completePartialChecksum() turns a pseudo-header sum into the full TCP checksum", () => {
  // Ethernet + IPv4 (10.0.0.10 -> 10.0.0.100) + TCP SYN, 20-byte header, no payload.
  const frame = fromHex(
    "020000000001 020000000010 0800" +
      "45000028000140004006 0000 0a00000a0a000064" +
      "c350005000000001000000005002200000000000",
  );
  // Pseudo-header: src, dst, zero, proto 6, TCP length 20.
  const pseudo = fromHex("0a00000a 0a000064 0006 0014");
  const full = internetChecksum(
    frame,
    34,
    20,
    (() => {
      let s = 0;
      for (let i = 0; i < pseudo.length; i += 2) s += (pseudo[i] << 8) | pseudo[i + 1];
      while (s > 0xffff) s = (s & 0xffff) + (s >>> 16);
      return s;
    })(),
  );
  // CHECKSUM_PARTIAL: the field holds the folded (not complemented) pseudo-header sum.
  const pseudoSum = ~internetChecksum(pseudo) & 0xffff;
  frame[34 + 16] = pseudoSum >> 8;
  frame[34 + 17] = pseudoSum & 0xff;
  completePartialChecksum(frame, 34, 16);
  assertEquals((frame[50] << 8) | frame[51], full);
  assertThrows(() => completePartialChecksum(frame, 60, 16), RangeError, "outside");
});
