import { strictEqual } from "node:assert/strict";
import { crc32c, crc32cCombine } from "./crc32c.ts";

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

Deno.test("crc32cCombine() gives the CRC of the concatenation from the two parts' CRCs", () => {
  const data = Uint8Array.from({ length: 70_000 }, (_, i) => (i * 131 + (i >> 7)) & 0xff);
  for (const [a, b] of [[0, 0], [0, 1], [1, 0], [5, 9], [300, 1024], [17, 16_000], [1, 65_536], [3, 69_997]]) {
    const left = data.subarray(0, a), right = data.subarray(a, a + b);
    const whole = crc32c(data.subarray(0, a + b));
    strictEqual(crc32cCombine(crc32c(left), crc32c(right), right.length), whole, `${a} + ${b} bytes`);
  }
  // A wrong length gives another CRC (the combination depends on it).
  const l = data.subarray(0, 100), r = data.subarray(100, 1100);
  strictEqual(crc32cCombine(crc32c(l), crc32c(r), 999) === crc32c(data.subarray(0, 1100)), false);
});
