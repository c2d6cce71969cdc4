import { deepStrictEqual } from "node:assert/strict";
import { type FreshnessLifetime, freshnessLifetimeMs, type FreshnessOptions } from "./freshness_lifetime.ts";
import type { HeaderList } from "./header_getter.ts";
import { formatHttpDate } from "./http_date.ts";

const T0 = Date.UTC(2026, 0, 1);
const at = (s: number) => formatHttpDate(T0 + s * 1000);

const cases: { name: string; headers: HeaderList; opts?: Partial<FreshnessOptions>; want: FreshnessLifetime }[] = [
  {
    name: "prefers s-maxage over max-age in a shared cache",
    headers: [["cache-control", "max-age=10, s-maxage=100"]],
    want: { lifetimeMs: 100_000, heuristic: false, source: "s-maxage" },
  },
  {
    name: "ignores s-maxage in a private cache",
    headers: [["cache-control", "max-age=10, s-maxage=100"]],
    opts: { shared: false },
    want: { lifetimeMs: 10_000, heuristic: false, source: "max-age" },
  },
  {
    name: "prefers max-age over Expires",
    headers: [["date", at(0)], ["expires", at(3600)], ["cache-control", "max-age=60"]],
    want: { lifetimeMs: 60_000, heuristic: false, source: "max-age" },
  },
  {
    name: "uses Expires minus Date",
    headers: [["date", at(0)], ["expires", at(300)]],
    want: { lifetimeMs: 300_000, heuristic: false, source: "expires" },
  },
  {
    name: "uses the response time for a missing Date",
    headers: [["expires", at(300)]],
    opts: { responseTime: T0 + 100_000 },
    want: { lifetimeMs: 200_000, heuristic: false, source: "expires" },
  },
  {
    name: "treats Expires in the past as lifetime 0",
    headers: [["date", at(100)], ["expires", at(0)]],
    want: { lifetimeMs: 0, heuristic: false, source: "expires" },
  },
  {
    name: "treats an invalid Expires (0) as already expired, with no heuristic",
    headers: [["expires", "0"], ["last-modified", at(-86_400)], ["date", at(0)]],
    want: { lifetimeMs: 0, heuristic: false, source: "expires" },
  },
  {
    name: "treats two different Expires lines as invalid (stale)",
    headers: [["date", at(0)], ["expires", at(300)], ["expires", at(600)]],
    want: { lifetimeMs: 0, heuristic: false, source: "expires" },
  },
  {
    name: "treats an invalid max-age as 0 even when Expires is later",
    headers: [["cache-control", "max-age=1.5"], ["date", at(0)], ["expires", at(300)]],
    want: { lifetimeMs: 0, heuristic: false, source: "max-age" },
  },
  {
    name: "computes a heuristic lifetime of 10% of Date minus Last-Modified",
    headers: [["date", at(0)], ["last-modified", at(-10_000)]],
    want: { lifetimeMs: 1_000_000, heuristic: true, source: "heuristic" },
  },
  {
    name: "caps the heuristic lifetime at heuristicMaxS",
    headers: [["date", at(0)], ["last-modified", at(-100 * 86_400)]],
    opts: { heuristicMaxS: 3600 },
    want: { lifetimeMs: 3_600_000, heuristic: true, source: "heuristic" },
  },
  {
    name: "caps the heuristic lifetime at one day by default",
    headers: [["date", at(0)], ["last-modified", at(-100 * 86_400)]],
    want: { lifetimeMs: 86_400_000, heuristic: true, source: "heuristic" },
  },
  {
    name: "uses heuristicPercent",
    headers: [["date", at(0)], ["last-modified", at(-1000)]],
    opts: { heuristicPercent: 50 },
    want: { lifetimeMs: 500_000, heuristic: true, source: "heuristic" },
  },
  {
    name: "gives a Last-Modified in the future a heuristic lifetime of 0",
    headers: [["date", at(0)], ["last-modified", at(100)]],
    want: { lifetimeMs: 0, heuristic: true, source: "heuristic" },
  },
  {
    name: "applies heuristics to a 404",
    headers: [["date", at(0)], ["last-modified", at(-1000)]],
    opts: { status: 404 },
    want: { lifetimeMs: 100_000, heuristic: true, source: "heuristic" },
  },
  {
    name: "does not apply heuristics to a 302",
    headers: [["date", at(0)], ["last-modified", at(-1000)]],
    opts: { status: 302 },
    want: { lifetimeMs: 0, heuristic: false, source: "none" },
  },
  {
    name: "applies heuristics to a 302 marked public",
    headers: [["date", at(0)], ["last-modified", at(-1000)], ["cache-control", "public"]],
    opts: { status: 302 },
    want: { lifetimeMs: 100_000, heuristic: true, source: "heuristic" },
  },
  {
    name: "does not apply heuristics when heuristicPercent is 0",
    headers: [["date", at(0)], ["last-modified", at(-1000)]],
    opts: { heuristicPercent: 0 },
    want: { lifetimeMs: 0, heuristic: false, source: "none" },
  },
  {
    name: "gives 0 without any freshness information",
    headers: [["content-type", "text/plain"]],
    want: { lifetimeMs: 0, heuristic: false, source: "none" },
  },
];

for (const c of cases) {
  Deno.test(`freshnessLifetimeMs() ${c.name}`, () => {
    const opts: FreshnessOptions = { shared: true, responseTime: T0, ...c.opts };
    deepStrictEqual(freshnessLifetimeMs(c.headers, opts), c.want);
    deepStrictEqual(freshnessLifetimeMs(new Headers(c.headers), opts), c.want, "same result from a Headers object");
  });
}
