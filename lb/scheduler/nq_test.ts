import assert from "node:assert/strict";
import { flow, makeDests, run } from "../../tests/conformance/scheduler_suite.ts";
import { NeverQueue } from "./nq.ts";

Deno.test("NeverQueue.schedule() gives an idle server the connection even at low weight", () => {
  const d = makeDests([{ weight: 10, active: 1 }, { weight: 1, active: 0 }]);
  assert.equal(new NeverQueue().schedule(d, flow(1), 0)?.id, 1);
});

Deno.test("NeverQueue.schedule() falls back to shortest expected delay when all are busy", () => {
  const d = makeDests([{ weight: 1 }, { weight: 2 }]);
  // A idle → A; B idle → B; (A 2/1, B 2/2) → B; (2, 3/2) → B; (2, 2) → A
  assert.equal(run(new NeverQueue(), d, 5, (x) => x.activeConns++), "ABBBA");
});
