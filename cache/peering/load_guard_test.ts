import assert from "node:assert/strict";
import { LoadGuard } from "./load_guard.ts";

Deno.test("LoadGuard says origin_failing after consecutive failures, until a success or the window ends", () => {
  let now = 0;
  const g = new LoadGuard({ originFailures: 3, originWindowMs: 1000, now: () => now });
  const url = "http://o.example:8080/a";
  const steps: [boolean | "tick", string | undefined][] = [
    [false, undefined],
    [false, undefined],
    [false, "origin_failing"],
    [true, undefined],
    [false, undefined],
    [false, undefined],
    [false, "origin_failing"],
    ["tick", undefined],
  ];
  for (const [input, expected] of steps) {
    if (input === "tick") now += 1001;
    else g.originResult("http://o.example:8080/other/path", input);
    assert.equal(g.reason(url), expected);
  }
  assert.equal(g.reason("http://other.example/"), undefined);
});

Deno.test("LoadGuard says loading while the store loads", () => {
  const g = new LoadGuard();
  g.setLoading(true);
  assert.equal(g.reason("http://a/"), "loading");
  g.setLoading(false);
  assert.equal(g.reason("http://a/"), undefined);
});
