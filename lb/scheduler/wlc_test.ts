import assert from "node:assert/strict";
import { flow, makeDests, run } from "../../tests/conformance/scheduler_suite.ts";
import { WeightedLeastConnection } from "./wlc.ts";

Deno.test("WeightedLeastConnection.schedule() picks the least overhead per weight", () => {
  // A: 256/1 = 256; B: 512/3 = 170.7 → B
  const d = makeDests([{ weight: 1, active: 1 }, { weight: 3, active: 2 }]);
  assert.equal(new WeightedLeastConnection().schedule(d, flow(1), 0)?.id, 1);
  // A: 256/1; B: 768/3 = 256 → tie, the earlier one
  d[1].activeConns = 3;
  assert.equal(new WeightedLeastConnection().schedule(d, flow(1), 0)?.id, 0);
});

Deno.test("WeightedLeastConnection.schedule() fills servers 3:1 by weight from empty", () => {
  const d = makeDests([{ weight: 3 }, { weight: 1 }]);
  // A0 B0 → A (first); A1: 256/3 vs 0 → B; A 256/3 vs B 256 → A; A 512/3 → A; A 768/3=256 vs 256 → A (tie)
  const seq = run(new WeightedLeastConnection(), d, 8, (x) => x.activeConns++);
  assert.equal(seq, "ABAAABAA");
});
