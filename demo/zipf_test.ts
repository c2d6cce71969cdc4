import { assert, assertEquals, assertThrows } from "../tests/_assert.ts";
import { seededRandom } from "./random.ts";
import { ZipfSampler } from "./zipf.ts";

Deno.test("seededRandom() repeats its sequence for one seed and differs across seeds", () => {
  const a = seededRandom(7), b = seededRandom(7), c = seededRandom(8);
  const xs = Array.from({ length: 5 }, a);
  assertEquals(Array.from({ length: 5 }, b), xs);
  assert(xs.some((x, i) => x !== Array.from({ length: 5 }, c)[i]), "seeds 7 and 8 gave the same sequence");
  assert(xs.every((x) => x >= 0 && x < 1), `out of [0,1): ${xs}`);
});

Deno.test("ZipfSampler.probability() follows 1/k^s normalised by H(n,s)", () => {
  const z = new ZipfSampler(4, { exponent: 1 });
  const h = 1 + 1 / 2 + 1 / 3 + 1 / 4;
  for (const k of [1, 2, 3, 4]) assert(Math.abs(z.probability(k) - 1 / k / h) < 1e-12, `rank ${k}`);
  assertEquals([z.probability(0), z.probability(5), z.probability(1.5)], [0, 0, 0]);
});

Deno.test("ZipfSampler.next() stays in 1..n and matches the distribution within 1% on 200,000 draws", () => {
  const n = 1000;
  const z = new ZipfSampler(n, { exponent: 0.8, seed: 3 });
  const counts = new Map<number, number>();
  const draws = 200_000;
  for (let i = 0; i < draws; i++) {
    const k = z.next();
    assert(Number.isInteger(k) && k >= 1 && k <= n, `rank ${k} out of range`);
    counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  for (const k of [1, 2, 10]) {
    const observed = (counts.get(k) ?? 0) / draws;
    assert(Math.abs(observed - z.probability(k)) < 0.01, `rank ${k}: ${observed} vs ${z.probability(k)}`);
  }
  // The head is hot: rank 1 is drawn far more often than rank 100.
  assert((counts.get(1) ?? 0) > 20 * (counts.get(100) ?? 0));
});

Deno.test("ZipfSampler is deterministic for a seed", () => {
  const a = new ZipfSampler(500, { seed: 11 }), b = new ZipfSampler(500, { seed: 11 });
  assertEquals(Array.from({ length: 50 }, () => a.next()), Array.from({ length: 50 }, () => b.next()));
});

Deno.test("ZipfSampler rejects bad item counts and exponents", () => {
  const cases: [number, number, string][] = [
    [0, 0.8, "item count 0"],
    [1.5, 0.8, "item count 1.5"],
    [10, 0, "exponent 0"],
    [10, Number.NaN, "exponent NaN"],
  ];
  for (const [n, s, msg] of cases) {
    assertThrows(() => new ZipfSampler(n, { exponent: s }), RangeError, msg);
  }
});
