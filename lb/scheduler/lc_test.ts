import assert from "node:assert/strict";
import { flow, makeDests } from "../../tests/conformance/scheduler_suite.ts";
import { LeastConnection } from "./lc.ts";

Deno.test("LeastConnection.schedule() uses overhead active*256 + inactive", () => {
  // overheads: A 256, B 300, C 257 → A
  const d = makeDests([{ active: 1 }, { inactive: 300 }, { active: 1, inactive: 1 }]);
  assert.equal(new LeastConnection().schedule(d, flow(1), 0)?.id, 0);
  // B 255 inactive beats one active connection
  d[1].inactConns = 255;
  assert.equal(new LeastConnection().schedule(d, flow(1), 0)?.id, 1);
});

Deno.test("LeastConnection.schedule() ignores weight except 0 and keeps the first on ties", () => {
  const d = makeDests([{ weight: 0 }, { weight: 1, active: 2 }, { weight: 100, active: 2 }, { weight: 1, active: 2 }]);
  assert.equal(new LeastConnection().schedule(d, flow(1), 0)?.id, 1);
});
