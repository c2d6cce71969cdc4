import assert from "node:assert/strict";
import { makeDests, run } from "../../tests/conformance/scheduler_suite.ts";
import { RoundRobin } from "./rr.ts";

Deno.test("RoundRobin.schedule() cycles A B C", () => {
  const d = makeDests([{}, {}, {}]);
  assert.equal(run(new RoundRobin(), d, 7), "ABCABCA");
});

Deno.test("RoundRobin.schedule() skips weight 0 and overloaded servers", () => {
  const d = makeDests([{}, { weight: 0 }, {}, { overloaded: true }]);
  assert.equal(run(new RoundRobin(), d, 5), "ACACA");
});

Deno.test("RoundRobin.schedule() continues after the last choice when the list changes", () => {
  const d = makeDests([{}, {}, {}]);
  const s = new RoundRobin();
  assert.equal(run(s, d, 2), "AB");
  assert.equal(run(s, [d[0], d[1]], 3), "ABA");
});
