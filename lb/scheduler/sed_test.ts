import assert from "node:assert/strict";
import { flow, makeDests, run } from "../../tests/conformance/scheduler_suite.ts";
import { ShortestExpectedDelay } from "./sed.ts";

Deno.test("ShortestExpectedDelay.schedule() compares (active + 1) / weight and ignores inactive", () => {
  // A: 1/1 = 1; B: 3/3 = 1 → tie, A
  const d = makeDests([{ weight: 1, inactive: 50 }, { weight: 3, active: 2 }]);
  assert.equal(new ShortestExpectedDelay().schedule(d, flow(1), 0)?.id, 0);
  d[1].activeConns = 1; // B: 2/3 → B
  assert.equal(new ShortestExpectedDelay().schedule(d, flow(1), 0)?.id, 1);
});

Deno.test("ShortestExpectedDelay.schedule() sequence for weights 1 and 2 from empty", () => {
  const d = makeDests([{ weight: 1 }, { weight: 2 }]);
  // (A 1/1, B 1/2) → B; (1, 2/2) → A (tie → first); (2, 1) → B; (2, 3/2) → B; (2, 2) → A
  assert.equal(run(new ShortestExpectedDelay(), d, 5, (x) => x.activeConns++), "BABBA");
});
