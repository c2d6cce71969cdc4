import assert from "node:assert/strict";
import { flow, makeDests } from "../../tests/conformance/scheduler_suite.ts";
import { LocalityLeastConnectionReplicated } from "./lblcr.ts";

Deno.test("LocalityLeastConnectionReplicated.schedule() grows the set when its member is overloaded", () => {
  const d = makeDests([{ weight: 2 }, { weight: 4 }, { weight: 4 }]);
  const s = new LocalityLeastConnectionReplicated(10_000);
  assert.equal(s.schedule(d, flow(1, 7), 0)?.id, 0);
  assert.deepEqual(s.members(7), [0]);
  d[0].activeConns = 3; // > weight, and B is idle (under half load)
  assert.equal(s.schedule(d, flow(2, 7), 1)?.id, 1);
  assert.deepEqual(s.members(7), [1, 0]);
  // Next: the set's least loaded (overhead per weight) is B (0) vs A (768/2) → B.
  assert.equal(s.schedule(d, flow(3, 7), 2)?.id, 1);
});

Deno.test("LocalityLeastConnectionReplicated.schedule() drops the most loaded member after the expiration", () => {
  const d = makeDests([{ weight: 2 }, { weight: 4 }]);
  const s = new LocalityLeastConnectionReplicated(10_000);
  s.schedule(d, flow(1, 7), 0);
  d[0].activeConns = 3;
  s.schedule(d, flow(1, 7), 1);
  assert.deepEqual(s.members(7), [1, 0]);
  d[0].activeConns = 1;
  d[1].activeConns = 3; // A: 256/2 = 128, B: 768/4 = 192 → B is the most loaded
  assert.equal(s.schedule(d, flow(1, 7), 20_000)?.id, 0);
  assert.deepEqual(s.members(7), [0]);
});
