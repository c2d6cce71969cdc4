import { assertEquals, assertThrows } from "../tests/_assert.ts";
import { fromHex } from "./_hex.ts";
import { decodeTcpHeader, formatTcpFlags, TCP_ACK, TCP_FIN, TCP_PSH, TCP_RST, TCP_SYN } from "./tcp.ts";

const DECODE: { description: string; input: string; expected: Record<string, unknown> | string }[] = [
  {
    description: "a SYN with options",
    input: "c350 0050 00000001 00000000 a002 faf0 1234 0000 020405b4 0402080a 00000000 00000000 01030307",
    expected: {
      srcPort: 50000,
      dstPort: 80,
      seq: 1,
      ack: 0,
      headerBytes: 40,
      flags: TCP_SYN,
      window: 0xfaf0,
      checksum: 0x1234,
    },
  },
  {
    description: "a FIN+ACK",
    input: "c350 0050 00000010 00000020 5011 01f6 0000 0000",
    expected: {
      srcPort: 50000,
      dstPort: 80,
      seq: 16,
      ack: 32,
      headerBytes: 20,
      flags: TCP_FIN | TCP_ACK,
      window: 502,
      checksum: 0,
    },
  },
  { description: "a truncated header", input: "c350 0050 0000", expected: "length 6 is less than header size 20" },
  {
    description: "a data offset below 5",
    input: "c350 0050 00000010 00000020 4011 01f6 0000 0000",
    expected: "data offset 4 is outside 5..5",
  },
  {
    description: "a data offset beyond the data",
    input: "c350 0050 00000010 00000020 6011 01f6 0000 0000",
    expected: "data offset 6 is outside 5..5",
  },
];

for (const c of DECODE) {
  Deno.test(`decodeTcpHeader() ${typeof c.expected === "string" ? "rejects" : "decodes"} ${c.description}`, () => {
    const input = fromHex(c.input);
    if (typeof c.expected === "string") {
      assertThrows(() => decodeTcpHeader(input), SyntaxError, c.expected);
      return;
    }
    assertEquals({ ...decodeTcpHeader(input) }, c.expected);
  });
}

Deno.test("formatTcpFlags() prints tcpdump's letters", () => {
  const table: [number, string][] = [
    [TCP_SYN, "S"],
    [TCP_SYN | TCP_ACK, "S."],
    [TCP_FIN | TCP_ACK, "F."],
    [TCP_PSH | TCP_ACK, "P."],
    [TCP_RST, "R"],
    [0, "none"],
  ];
  for (const [flags, text] of table) assertEquals(formatTcpFlags(flags), text);
});
