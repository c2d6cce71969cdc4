import assert from "node:assert/strict";
import { Estimator } from "./estimator.ts";

const totals = (conns: number) => ({ conns, inPkts: conns * 10, outPkts: 0, inBytes: conns * 1000, outBytes: 0 });

Deno.test("Estimator.update() samples every 2 s and smooths with weight 1/4", () => {
  const e = new Estimator();
  e.update(totals(0), 0);
  assert.equal(e.update(totals(100), 1000), false, "no sample before 2 s");
  assert.equal(e.update(totals(200), 2000), true);
  // 200 conns in 2 s = 100/s; avg = 0 + 100/4 = 25
  assert.equal(e.rates.cps, 25);
  assert.equal(e.rates.inPps, 250);
  e.update(totals(400), 4000); // sample 100/s: 25 + 75/4 = 43.75
  assert.equal(e.rates.cps, 43.75);
  for (let t = 6000, c = 600; t <= 60_000; t += 2000, c += 200) e.update(totals(c), t);
  assert.ok(Math.abs(e.rates.cps - 100) < 0.1, `converges to the steady rate: ${e.rates.cps}`);
});
