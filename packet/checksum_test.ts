import { assertEquals } from "../tests/_assert.ts";
import { fromHex } from "./_hex.ts";
import { internetChecksum, onesComplementSum } from "./checksum.ts";

const CASES: { description: string; input: string; expected: number }[] = [
  { description: "RFC 1071 §3 example words", input: "0001 f203 f4f5 f6f7", expected: 0x220d },
  {
    description: "IPv4 header with zeroed checksum field",
    input: "4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7",
    expected: 0xb861,
  },
  {
    description: "IPv4 header with correct checksum verifies to 0",
    input: "4500 0073 0000 4000 4011 b861 c0a8 0001 c0a8 00c7",
    expected: 0,
  },
  { description: "odd length pads a zero byte on the right", input: "01", expected: 0xfeff },
  { description: "empty input", input: "", expected: 0xffff },
  { description: "end-around carry", input: "ffff ffff 0001", expected: 0xfffe },
];

for (const c of CASES) {
  Deno.test(`internetChecksum() ${c.description}`, () => {
    assertEquals(internetChecksum(fromHex(c.input)), c.expected);
  });
}

Deno.test("onesComplementSum() continues from a partial sum", () => {
  const bytes = fromHex("4500 0073 0000 4000 4011 0000 c0a8 0001 c0a8 00c7");
  const first = onesComplementSum(bytes, 0, 10);
  assertEquals(internetChecksum(bytes, 10, 10, first), 0xb861);
});
