import { assertEquals, assertThrows } from "../tests/_assert.ts";
import { ipv4ToInt } from "../core/addr.ts";
import { fromHex, toHex } from "./_hex.ts";
import { decodeIpv4Header, IPPROTO_TCP, writeIpv4Header } from "./ipv4.ts";

const GOOD = "4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7";

const DECODE: { description: string; input: string; expected: Record<string, unknown> | string }[] = [
  {
    description: "a UDP header with DF",
    input: GOOD,
    expected: {
      headerBytes: 20,
      tos: 0,
      totalLength: 0x73,
      id: 0,
      df: true,
      mf: false,
      fragmentOffset: 0,
      ttl: 64,
      protocol: 17,
      checksum: 0xb861,
      src: ipv4ToInt("192.168.0.1"),
      dst: ipv4ToInt("192.168.0.199"),
    },
  },
  { description: "a truncated header", input: "4500 0073 0000", expected: "length 6 is less than header size 20" },
  {
    description: "version 6",
    input: "6500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7",
    expected: "version 6 is not 4",
  },
  {
    description: "IHL 4",
    input: "4400 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7",
    expected: "IHL 4 is less than 5",
  },
  {
    description: "IHL beyond the data",
    input: "4600 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7",
    expected: "header length 24 exceeds packet length 20",
  },
  {
    description: "total length below the header length",
    input: "4500 0010 0000 4000 4011 b8c4 c0a8 0001 c0a8 00c7",
    expected: "total length 16 is less than header length 20",
  },
  {
    description: "a wrong checksum",
    input: "4500 0073 0000 4000 4011 b862 c0a8 0001 c0a8 00c7",
    expected: "checksum 0xb862 is wrong",
  },
];

for (const c of DECODE) {
  Deno.test(`decodeIpv4Header() ${typeof c.expected === "string" ? "rejects" : "decodes"} ${c.description}`, () => {
    const input = fromHex(c.input);
    if (typeof c.expected === "string") {
      assertThrows(() => decodeIpv4Header(input), SyntaxError, c.expected);
      return;
    }
    assertEquals({ ...decodeIpv4Header(input) }, c.expected);
  });
}

Deno.test("decodeIpv4Header() skips the checksum when asked", () => {
  const h = decodeIpv4Header(fromHex("4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7"), 0, {
    verifyChecksum: false,
  });
  assertEquals(h.checksum, 0);
});

Deno.test("writeIpv4Header() reproduces a known header with its checksum", () => {
  const buf = new Uint8Array(22);
  writeIpv4Header(buf, 2, {
    totalLength: 0x73,
    df: true,
    ttl: 64,
    protocol: 17,
    src: ipv4ToInt("192.168.0.1"),
    dst: ipv4ToInt("192.168.0.199"),
  });
  assertEquals(toHex(buf.subarray(2)), GOOD.replace(/\s+/g, ""));
});

Deno.test("writeIpv4Header() rejects short buffers and bad lengths", () => {
  const f = { totalLength: 40, protocol: IPPROTO_TCP, src: 1, dst: 2 };
  assertThrows(() => writeIpv4Header(new Uint8Array(19), 0, f), RangeError, "19 bytes left, need 20");
  assertThrows(() => writeIpv4Header(new Uint8Array(20), 0, { ...f, totalLength: 19 }), RangeError, "not in 20..65535");
});
