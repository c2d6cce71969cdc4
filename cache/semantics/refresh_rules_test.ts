import { deepStrictEqual, strictEqual, throws } from "node:assert/strict";
import { freshnessLifetimeMs } from "./freshness_lifetime.ts";
import type { HeaderList } from "./header_getter.ts";
import { formatHttpDate } from "./http_date.ts";
import { type HeuristicParams, type RefreshPattern, RefreshRules } from "./refresh_rules.ts";

const DEFAULT: HeuristicParams = { heuristicPercent: 10, heuristicMinS: 0, heuristicMaxS: 86400 };
const RULES: RefreshPattern[] = [
  { regex: "\\.(css|js)$", minS: 600, percent: 50, maxS: 7200 },
  { regex: "^http://static\\.example\\.org/", minS: 3600, percent: 20, maxS: 86400 },
  { regex: "/CGI-BIN/", minS: 0, percent: 0, maxS: 0, ignoreCase: true },
  { regex: "\\.css$", minS: 1, percent: 1, maxS: 1 }, // never reached for .css: the first match wins
];

const urlCases: { url: string; want: HeuristicParams }[] = [
  { url: "http://example.org/a.css", want: { heuristicPercent: 50, heuristicMinS: 600, heuristicMaxS: 7200 } },
  { url: "http://static.example.org/a.css", want: { heuristicPercent: 50, heuristicMinS: 600, heuristicMaxS: 7200 } },
  {
    url: "http://static.example.org/logo.png",
    want: { heuristicPercent: 20, heuristicMinS: 3600, heuristicMaxS: 86400 },
  },
  { url: "http://example.org/cgi-bin/x", want: { heuristicPercent: 0, heuristicMinS: 0, heuristicMaxS: 0 } },
  { url: "http://example.org/a.CSS", want: DEFAULT },
  { url: "http://example.org/a.css?v=1", want: DEFAULT },
  { url: "http://example.org/", want: DEFAULT },
];

for (const c of urlCases) {
  Deno.test(`RefreshRules.forUrl() ${c.url}`, () => {
    deepStrictEqual({ ...new RefreshRules(RULES, DEFAULT).forUrl(c.url) }, c.want);
  });
}

Deno.test("RefreshRules rejects an invalid regex", () => {
  throws(() => new RefreshRules([{ regex: "a(b", minS: 0, percent: 0, maxS: 0 }], DEFAULT), SyntaxError);
});

const T0 = Date.UTC(2026, 0, 1);
const at = (s: number) => formatHttpDate(T0 + s * 1000);

/** Heuristic lifetimes with Squid-like min/percent/max (RFC 9111 §4.2.2), in seconds. */
const lifeCases: { name: string; res: HeaderList; params: HeuristicParams; status?: number; want: number }[] = [
  {
    name: "percent of (Date − Last-Modified) between min and max",
    res: [["date", at(0)], ["last-modified", at(-10_000)]],
    params: { heuristicPercent: 20, heuristicMinS: 60, heuristicMaxS: 7200 },
    want: 2000,
  },
  {
    name: "raised to min",
    res: [["date", at(0)], ["last-modified", at(-100)]],
    params: { heuristicPercent: 20, heuristicMinS: 60, heuristicMaxS: 7200 },
    want: 60,
  },
  {
    name: "capped at max",
    res: [["date", at(0)], ["last-modified", at(-1_000_000)]],
    params: { heuristicPercent: 20, heuristicMinS: 60, heuristicMaxS: 7200 },
    want: 7200,
  },
  {
    name: "min without Last-Modified",
    res: [["date", at(0)]],
    params: { heuristicPercent: 20, heuristicMinS: 60, heuristicMaxS: 7200 },
    want: 60,
  },
  {
    name: "nothing without Last-Modified and min 0 (the default rule)",
    res: [["date", at(0)]],
    params: DEFAULT,
    want: 0,
  },
  {
    name: "min with percent 0",
    res: [["date", at(0)], ["last-modified", at(-10_000)]],
    params: { heuristicPercent: 0, heuristicMinS: 30, heuristicMaxS: 7200 },
    want: 30,
  },
  {
    name: "never over explicit max-age",
    res: [["date", at(0)], ["cache-control", "max-age=5"], ["last-modified", at(-10_000)]],
    params: { heuristicPercent: 20, heuristicMinS: 600, heuristicMaxS: 7200 },
    want: 5,
  },
  {
    name: "never over Expires",
    res: [["date", at(0)], ["expires", at(7)]],
    params: { heuristicPercent: 20, heuristicMinS: 600, heuristicMaxS: 7200 },
    want: 7,
  },
  {
    name: "not for a status that is not heuristically cacheable",
    res: [["date", at(0)], ["last-modified", at(-10_000)]],
    params: { heuristicPercent: 20, heuristicMinS: 600, heuristicMaxS: 7200 },
    status: 302,
    want: 0,
  },
];

for (const c of lifeCases) {
  Deno.test(`freshnessLifetimeMs() with refresh rule parameters: ${c.name}`, () => {
    const life = freshnessLifetimeMs(c.res, { shared: true, responseTime: T0, status: c.status ?? 200, ...c.params });
    strictEqual(life.lifetimeMs, c.want * 1000);
  });
}
