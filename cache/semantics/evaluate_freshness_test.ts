import { deepStrictEqual, strictEqual } from "node:assert/strict";
import {
  type CachedResponse,
  evaluateFreshness,
  type EvaluateOptions,
  type FreshnessAction,
  requestNoCache,
  staleIfErrorAllowed,
  staleWhileRevalidateWindowMs,
} from "./evaluate_freshness.ts";
import type { HeaderList } from "./header_getter.ts";
import { formatHttpDate } from "./http_date.ts";

const T0 = Date.UTC(2026, 0, 1);
const at = (s: number) => formatHttpDate(T0 + s * 1000);

/** A response received at T0 (no delay) with the given headers. */
function stored(headers: HeaderList, status = 200): CachedResponse {
  return { status, headers, requestTime: T0, responseTime: T0 };
}

const cases: {
  name: string;
  res: HeaderList;
  req?: HeaderList;
  ageS: number;
  opts?: Partial<EvaluateOptions>;
  want: FreshnessAction;
  reason: string;
}[] = [
  { name: "serves a fresh response", res: [["cache-control", "max-age=60"]], ageS: 59, want: "serve", reason: "fresh" },
  {
    name: "revalidates when age equals the lifetime (fresh means lifetime > age)",
    res: [["cache-control", "max-age=60"]],
    ageS: 60,
    want: "revalidate",
    reason: "stale",
  },
  {
    name: "revalidates a stale response",
    res: [["cache-control", "max-age=60"]],
    ageS: 61,
    want: "revalidate",
    reason: "stale",
  },
  {
    name: "serves within a heuristic lifetime",
    res: [["date", at(0)], ["last-modified", at(-1000)]],
    ageS: 99,
    want: "serve",
    reason: "fresh",
  },
  {
    name: "revalidates a fresh response with unqualified no-cache",
    res: [["cache-control", "max-age=600, no-cache"]],
    ageS: 0,
    want: "revalidate",
    reason: "response-no-cache",
  },
  {
    name: "serves a fresh response with qualified no-cache (those fields are not stored)",
    res: [["cache-control", 'max-age=600, no-cache="set-cookie"']],
    ageS: 0,
    want: "serve",
    reason: "fresh",
  },
  {
    name: "revalidates for request no-cache",
    res: [["cache-control", "max-age=600"]],
    req: [["cache-control", "no-cache"]],
    ageS: 1,
    want: "revalidate",
    reason: "request-no-cache",
  },
  {
    name: "revalidates for Pragma: no-cache without Cache-Control",
    res: [["cache-control", "max-age=600"]],
    req: [["pragma", "no-cache"]],
    ageS: 1,
    want: "revalidate",
    reason: "request-no-cache",
  },
  {
    name: "ignores Pragma: no-cache when the request has Cache-Control",
    res: [["cache-control", "max-age=600"]],
    req: [["pragma", "no-cache"], ["cache-control", "max-stale=5"]],
    ageS: 1,
    want: "serve",
    reason: "fresh",
  },
  {
    name: "serves despite request no-cache with ignoreRequestNoCache",
    res: [["cache-control", "max-age=600"]],
    req: [["cache-control", "no-cache, max-age=0"]],
    ageS: 1,
    opts: { ignoreRequestNoCache: true },
    want: "serve",
    reason: "fresh",
  },
  {
    name: "revalidates when older than request max-age",
    res: [["cache-control", "max-age=600"]],
    req: [["cache-control", "max-age=10"]],
    ageS: 11,
    want: "revalidate",
    reason: "request-max-age",
  },
  {
    name: "serves when exactly as old as request max-age",
    res: [["cache-control", "max-age=600"]],
    req: [["cache-control", "max-age=10"]],
    ageS: 10,
    want: "serve",
    reason: "fresh",
  },
  {
    name: "revalidates for request max-age=0 (a browser reload)",
    res: [["cache-control", "max-age=600"]],
    req: [["cache-control", "max-age=0"]],
    ageS: 1,
    want: "revalidate",
    reason: "request-max-age",
  },
  {
    name: "revalidates when min-fresh is not met",
    res: [["cache-control", "max-age=60"]],
    req: [["cache-control", "min-fresh=30"]],
    ageS: 31,
    want: "revalidate",
    reason: "request-min-fresh",
  },
  {
    name: "serves when min-fresh is met",
    res: [["cache-control", "max-age=60"]],
    req: [["cache-control", "min-fresh=30"]],
    ageS: 30,
    want: "serve",
    reason: "fresh",
  },
  {
    name: "serves stale within max-stale=N",
    res: [["cache-control", "max-age=60"]],
    req: [["cache-control", "max-stale=30"]],
    ageS: 90,
    want: "serve-stale",
    reason: "request-max-stale",
  },
  {
    name: "revalidates beyond max-stale=N",
    res: [["cache-control", "max-age=60"]],
    req: [["cache-control", "max-stale=30"]],
    ageS: 91,
    want: "revalidate",
    reason: "stale",
  },
  {
    name: "serves any staleness for max-stale without a value",
    res: [["cache-control", "max-age=60"]],
    req: [["cache-control", "max-stale"]],
    ageS: 1e6,
    want: "serve-stale",
    reason: "request-max-stale",
  },
  {
    name: "never serves stale with must-revalidate, even with max-stale",
    res: [["cache-control", "max-age=60, must-revalidate"]],
    req: [["cache-control", "max-stale"]],
    ageS: 61,
    want: "revalidate",
    reason: "must-revalidate",
  },
  {
    name: "serves a fresh must-revalidate response",
    res: [["cache-control", "max-age=60, must-revalidate"]],
    ageS: 59,
    want: "serve",
    reason: "fresh",
  },
  {
    name: "never serves stale with proxy-revalidate in a shared cache",
    res: [["cache-control", "max-age=60, proxy-revalidate"]],
    req: [["cache-control", "max-stale"]],
    ageS: 61,
    want: "revalidate",
    reason: "proxy-revalidate",
  },
  {
    name: "ignores proxy-revalidate in a private cache",
    res: [["cache-control", "max-age=60, proxy-revalidate"]],
    req: [["cache-control", "max-stale"]],
    ageS: 61,
    opts: { shared: false },
    want: "serve-stale",
    reason: "request-max-stale",
  },
  {
    name: "treats s-maxage as proxy-revalidate in a shared cache",
    res: [["cache-control", "s-maxage=60"]],
    req: [["cache-control", "max-stale"]],
    ageS: 61,
    want: "revalidate",
    reason: "s-maxage",
  },
  {
    name: "serves stale while revalidating within stale-while-revalidate (RFC 5861 example)",
    res: [["cache-control", "max-age=600, stale-while-revalidate=30"]],
    ageS: 630,
    want: "serve-stale-revalidate",
    reason: "stale-while-revalidate",
  },
  {
    name: "revalidates past the stale-while-revalidate window (RFC 5861 example)",
    res: [["cache-control", "max-age=600, stale-while-revalidate=30"]],
    ageS: 631,
    want: "revalidate",
    reason: "stale",
  },
  {
    name: "does not apply stale-while-revalidate with must-revalidate",
    res: [["cache-control", "max-age=600, stale-while-revalidate=30, must-revalidate"]],
    ageS: 610,
    want: "revalidate",
    reason: "must-revalidate",
  },
  {
    name: "does not apply stale-while-revalidate to a request with no-cache",
    res: [["cache-control", "max-age=600, stale-while-revalidate=30"]],
    req: [["cache-control", "no-cache"]],
    ageS: 610,
    want: "revalidate",
    reason: "request-no-cache",
  },
  {
    name: "does not stretch a request's max-stale=N with stale-while-revalidate",
    res: [["cache-control", "max-age=600, stale-while-revalidate=30"]],
    req: [["cache-control", "max-stale=5"]],
    ageS: 610,
    want: "revalidate",
    reason: "stale",
  },
  {
    name: "answers only-if-cached from a fresh response",
    res: [["cache-control", "max-age=60"]],
    req: [["cache-control", "only-if-cached"]],
    ageS: 10,
    want: "serve",
    reason: "fresh",
  },
  {
    name: "gives miss-only-if-cached (504) when a stale response would need the origin",
    res: [["cache-control", "max-age=60"]],
    req: [["cache-control", "only-if-cached"]],
    ageS: 61,
    want: "miss-only-if-cached",
    reason: "stale",
  },
  {
    name: "combines only-if-cached with max-stale to serve stale",
    res: [["cache-control", "max-age=60"]],
    req: [["cache-control", "only-if-cached, max-stale"]],
    ageS: 6100,
    want: "serve-stale",
    reason: "request-max-stale",
  },
  {
    name: "answers from cache despite request no-store (it only forbids storing)",
    res: [["cache-control", "max-age=60"]],
    req: [["cache-control", "no-store"]],
    ageS: 1,
    want: "serve",
    reason: "fresh",
  },
  {
    name: "treats a response that arrived with Age as older",
    res: [["cache-control", "max-age=60"], ["age", "50"]],
    ageS: 11,
    want: "revalidate",
    reason: "stale",
  },
  {
    name: "revalidates an invalid Expires at once",
    res: [["expires", "0"]],
    ageS: 0,
    want: "revalidate",
    reason: "stale",
  },
];

for (const c of cases) {
  Deno.test(`evaluateFreshness() ${c.name}`, () => {
    const opts: EvaluateOptions = { shared: true, ...c.opts };
    const d = evaluateFreshness(c.req ?? [], stored(c.res), T0 + c.ageS * 1000, opts);
    deepStrictEqual([d.action, d.reason], [c.want, c.reason]);
    const d2 = evaluateFreshness(new Headers(c.req ?? []), { ...stored(c.res) }, T0 + c.ageS * 1000, opts);
    deepStrictEqual([d2.action, d2.reason], [c.want, c.reason], "same with a Headers object");
  });
}

Deno.test("evaluateFreshness() reports age, lifetime, staleness and heuristic", () => {
  const res = stored([["date", at(0)], ["last-modified", at(-1000)]]);
  deepStrictEqual(evaluateFreshness([], res, T0 + 150_000, { shared: true }), {
    action: "revalidate",
    ageMs: 150_000,
    freshnessMs: 100_000,
    staleMs: 50_000,
    heuristic: true,
    reason: "stale",
  });
});

Deno.test("requestNoCache() honours Pragma only without Cache-Control", () => {
  strictEqual(requestNoCache([["pragma", "no-cache"]]), true);
  strictEqual(requestNoCache([["pragma", "x, No-Cache"]]), true);
  strictEqual(requestNoCache([["pragma", "no-cache-please"]]), false);
  strictEqual(requestNoCache([["pragma", "no-cache"], ["cache-control", "max-age=5"]]), false);
  strictEqual(requestNoCache([["cache-control", "no-cache"]]), true);
  strictEqual(requestNoCache([]), false);
});

const sieCases: {
  name: string;
  res: string;
  req?: string;
  ageS: number;
  opts?: { shared?: boolean; defaultStaleIfErrorS?: number };
  want: boolean;
}[] = [
  {
    name: "allows stale within stale-if-error (RFC 5861 example)",
    res: "max-age=600, stale-if-error=1200",
    ageS: 1800,
    want: true,
  },
  {
    name: "refuses past stale-if-error (RFC 5861 example)",
    res: "max-age=600, stale-if-error=1200",
    ageS: 1801,
    want: false,
  },
  { name: "refuses a stale response without stale-if-error", res: "max-age=600", ageS: 601, want: false },
  { name: "allows a still fresh response", res: "max-age=600", ageS: 100, want: true },
  { name: "uses the request's stale-if-error", res: "max-age=600", req: "stale-if-error=60", ageS: 660, want: true },
  {
    name: "lets the request's stale-if-error limit the response's",
    res: "max-age=600, stale-if-error=1200",
    req: "stale-if-error=10",
    ageS: 700,
    want: false,
  },
  {
    name: "uses defaultStaleIfErrorS like Squid's max_stale",
    res: "max-age=600",
    ageS: 4000,
    opts: { defaultStaleIfErrorS: 3600 },
    want: true,
  },
  {
    name: "refuses with must-revalidate",
    res: "max-age=600, stale-if-error=1200, must-revalidate",
    ageS: 700,
    want: false,
  },
  { name: "refuses with s-maxage in a shared cache", res: "s-maxage=600, stale-if-error=1200", ageS: 700, want: false },
  {
    name: "allows with proxy-revalidate in a private cache",
    res: "max-age=600, stale-if-error=1200, proxy-revalidate",
    ageS: 700,
    opts: { shared: false },
    want: true,
  },
  { name: "refuses with no-cache", res: "no-cache, stale-if-error=1200", ageS: 10, want: false },
];

for (const c of sieCases) {
  Deno.test(`staleIfErrorAllowed() ${c.name}`, () => {
    const req: HeaderList = c.req ? [["cache-control", c.req]] : [];
    const got = staleIfErrorAllowed(req, stored([["cache-control", c.res]]), T0 + c.ageS * 1000, {
      shared: c.opts?.shared ?? true,
      defaultStaleIfErrorS: c.opts?.defaultStaleIfErrorS,
    });
    strictEqual(got, c.want);
  });
}

Deno.test("staleWhileRevalidateWindowMs() gives the window, or 0 when stale serving is prohibited", () => {
  strictEqual(staleWhileRevalidateWindowMs([["cache-control", "max-age=600, stale-while-revalidate=30"]]), 30_000);
  strictEqual(staleWhileRevalidateWindowMs([["cache-control", "max-age=600"]]), 0);
  strictEqual(staleWhileRevalidateWindowMs([["cache-control", "stale-while-revalidate=30, must-revalidate"]]), 0);
  strictEqual(staleWhileRevalidateWindowMs([["cache-control", "s-maxage=5, stale-while-revalidate=30"]]), 0);
  strictEqual(
    staleWhileRevalidateWindowMs([["cache-control", "s-maxage=5, stale-while-revalidate=30"]], { shared: false }),
    30_000,
  );
  strictEqual(staleWhileRevalidateWindowMs([["cache-control", "no-cache, stale-while-revalidate=30"]]), 0);
});
