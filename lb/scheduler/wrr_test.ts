import assert from "node:assert/strict";
import { makeDests, run } from "../../tests/conformance/scheduler_suite.ts";
import { WeightedRoundRobin } from "./wrr.ts";

const table: { weights: number[]; expect: string }[] = [
  // cw = 4: A; cw = 3: A B; cw = 2: A B C; cw = 1: A B C
  { weights: [4, 3, 2], expect: "AABABCABC" + "AABABCABC" },
  // gcd 2, mw = 4 - 1 = 3: cw = 3: A; cw = 1: A B
  { weights: [4, 2], expect: "AAB" + "AAB" },
  { weights: [1, 1, 1], expect: "ABCABC" },
  { weights: [0, 2, 1], expect: "BBCBBC" },
  { weights: [5, 1], expect: "AAAAAB" + "AAAAAB" },
];

for (const { weights, expect } of table) {
  Deno.test(`WeightedRoundRobin.schedule() with weights ${weights} gives ${expect}`, () => {
    const d = makeDests(weights.map((weight) => ({ weight })));
    const s = new WeightedRoundRobin();
    s.update(d);
    assert.equal(run(s, d, expect.length), expect);
  });
}

Deno.test("WeightedRoundRobin.update() restarts from the list head after a weight change", () => {
  const d = makeDests([{ weight: 2 }, { weight: 1 }]);
  const s = new WeightedRoundRobin();
  s.update(d);
  assert.equal(run(s, d, 2), "AA");
  d[1].weight = 2;
  s.update(d);
  // cw stays 2 (valid), position back at head: A B, then cw = 1: A B.
  assert.equal(run(s, d, 4), "ABAB");
});

Deno.test("WeightedRoundRobin.schedule() skips an overloaded server", () => {
  const d = makeDests([{ weight: 3, overloaded: true }, { weight: 1 }]);
  const s = new WeightedRoundRobin();
  s.update(d);
  assert.equal(run(s, d, 3), "BBB");
});
