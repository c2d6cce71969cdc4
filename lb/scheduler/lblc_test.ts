import assert from "node:assert/strict";
import { flow, makeDests } from "../../tests/conformance/scheduler_suite.ts";
import { LBLC_EXPIRATION_MS, LocalityLeastConnection } from "./lblc.ts";

Deno.test("LocalityLeastConnection.schedule() binds a destination to its first wlc choice", () => {
  const d = makeDests([{ weight: 4 }, { weight: 4 }]);
  const s = new LocalityLeastConnection();
  assert.equal(s.schedule(d, flow(1, 500), 0)?.id, 0);
  d[0].activeConns = 3; // still within weight: stays although B is emptier
  assert.equal(s.schedule(d, flow(2, 500), 1)?.id, 0);
  assert.equal(s.schedule(d, flow(3, 501), 2)?.id, 1);
});

Deno.test("LocalityLeastConnection.schedule() remaps when active > weight and a server is under half load", () => {
  const d = makeDests([{ weight: 2 }, { weight: 4 }]);
  const s = new LocalityLeastConnection();
  assert.equal(s.schedule(d, flow(1, 7), 0)?.id, 0);
  d[0].activeConns = 3; // > weight 2
  d[1].activeConns = 2; // 2*2 = 4, not < 4: nobody under half load, binding holds
  assert.equal(s.schedule(d, flow(1, 7), 1)?.id, 0);
  d[1].activeConns = 1; // 1*2 < 4: B is under half load → remap by wlc (A 768/2, B 256/4 → B)
  assert.equal(s.schedule(d, flow(1, 7), 2)?.id, 1);
  assert.equal(s.schedule(d, flow(1, 7), 3)?.id, 1, "binding moved");
});

Deno.test("LocalityLeastConnection.schedule() drops bindings idle past the expiration", () => {
  const d = makeDests([{}, {}]);
  const s = new LocalityLeastConnection();
  s.schedule(d, flow(1, 7), 0);
  assert.equal(s.size, 1);
  s.schedule(d, flow(1, 8), LBLC_EXPIRATION_MS + 60_001);
  assert.equal(s.size, 1, "the idle binding for 7 was swept");
});
