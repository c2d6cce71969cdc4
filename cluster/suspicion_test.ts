import assert from "node:assert/strict";
import { remainingSuspicionMs, Suspicion, suspicionTimeoutMs } from "./suspicion.ts";
import { FakeClock } from "./sim/fake_clock.ts";

Deno.test("suspicionTimeoutMs() is mult × max(1, log10(n)) × interval", () => {
  const cases: [number, number, number, number][] = [
    [4, 1, 1000, 4000],
    [4, 10, 1000, 4000],
    [4, 100, 1000, 8000],
    [4, 1000, 200, 2400],
    [5, 0, 1000, 5000],
  ];
  for (const [mult, n, iv, want] of cases) {
    assert.equal(Math.round(suspicionTimeoutMs(n, { mult, probeIntervalMs: iv })), want);
  }
});

Deno.test("remainingSuspicionMs() shrinks from max to min with confirmations (Lifeguard)", () => {
  // K = 3, min 2000, max 12000
  assert.equal(remainingSuspicionMs({ confirmations: 0, k: 3, elapsedMs: 0, minMs: 2000, maxMs: 12000 }), 12000);
  assert.equal(remainingSuspicionMs({ confirmations: 1, k: 3, elapsedMs: 0, minMs: 2000, maxMs: 12000 }), 7000); // 12000 − 10000·log2/log4
  assert.equal(remainingSuspicionMs({ confirmations: 3, k: 3, elapsedMs: 0, minMs: 2000, maxMs: 12000 }), 2000);
  assert.equal(remainingSuspicionMs({ confirmations: 3, k: 3, elapsedMs: 2500, minMs: 2000, maxMs: 12000 }), -500);
  assert.equal(remainingSuspicionMs({ confirmations: 0, k: 0, elapsedMs: 100, minMs: 2000, maxMs: 12000 }), 1900);
});

Deno.test("Suspicion fires at max without confirmations and sooner with them", () => {
  const clock = new FakeClock();
  const fired: [string, number, number][] = [];
  const mk = (name: string) =>
    new Suspicion({
      from: "a",
      k: 3,
      minMs: 2000,
      maxMs: 12000,
      clock,
      onTimeout: (c) => fired.push([name, clock.now(), c]),
    });
  mk("lonely");
  const s = mk("confirmed");
  clock.advance(1000);
  assert.equal(s.confirm("a"), false, "the suspecter is not a confirmation");
  assert.equal(s.confirm("b"), true);
  assert.equal(s.confirm("b"), false, "one vote per member");
  assert.equal(s.confirm("c"), true);
  assert.equal(s.confirm("d"), true);
  assert.equal(s.confirm("e"), false, "no more than K");
  clock.advance(20000);
  assert.deepEqual(fired, [["confirmed", 2000, 3], ["lonely", 12000, 0]]);
});

Deno.test("Suspicion.stop() cancels the timer", () => {
  const clock = new FakeClock();
  let fired = false;
  const s = new Suspicion({ from: "a", k: 0, minMs: 10, maxMs: 60, clock, onTimeout: () => (fired = true) });
  s.stop();
  clock.advance(100);
  assert.equal(fired, false);
});
