import assert from "node:assert/strict";
import { REPLAY_WINDOW, ReplayGuard } from "./replay_guard.ts";

Deno.test("ReplayGuard: sequence by sequence (epoch, seq) -> verdict", () => {
  const g = new ReplayGuard();
  const steps: [number, number, string][] = [
    [100, 1, "ok"],
    [100, 1, "replay"],
    [100, 3, "ok"],
    [100, 2, "ok"], // late but not seen
    [100, 2, "replay"],
    [100, 3 + REPLAY_WINDOW, "ok"],
    [100, 3, "too-old"],
    [99, 1000, "old-epoch"], // an earlier life of the sender
    [101, 1, "ok"], // restarted: a newer epoch starts over
    [100, 5000, "old-epoch"],
    [101, 1, "replay"],
  ];
  assert.deepEqual(steps.map(([e, s]) => g.check("d1", e, s)), steps.map((x) => x[2]));
  assert.equal(g.check("d2", 1, 1), "ok");
});
