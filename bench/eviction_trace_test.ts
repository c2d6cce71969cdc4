import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { zipfTrace } from "./eviction_trace.ts";
import { simulate } from "./eviction.ts";

Deno.test("zipfTrace() replays the same trace for the same seed", () => {
  const a = zipfTrace({ requests: 1000, objects: 100, alpha: 0.8, seed: 7 });
  const b = zipfTrace({ requests: 1000, objects: 100, alpha: 0.8, seed: 7 });
  assertEquals(a, b);
  const c = zipfTrace({ requests: 1000, objects: 100, alpha: 0.8, seed: 8 });
  ok(c.requests.some((id, i) => id !== a.requests[i]));
});

Deno.test("zipfTrace() makes popular objects more frequent with a larger alpha", () => {
  const distinct = (alpha: number) =>
    new Set(zipfTrace({ requests: 5000, objects: 1000, alpha, seed: 1 }).requests).size;
  ok(distinct(1.2) < distinct(0.6));
});

Deno.test("simulate() hits everything but the first requests when the cache holds the working set", () => {
  const t = zipfTrace({ requests: 2000, objects: 50, alpha: 1, seed: 3 });
  const distinct = new Set(t.requests).size;
  const r = simulate(t, "sieve", t.workingSetBytes);
  assertEquals(r.objectHitRatio, (2000 - distinct) / 2000);
});
