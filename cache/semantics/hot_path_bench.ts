/**
 * Benchmarks of the functions on the cache-hit path. Run with
 * `deno bench cache/semantics/hot_path_bench.ts`; compare figures from one run only.
 */

import { parseCacheControl } from "./cache_control.ts";
import { currentAgeMs } from "./current_age.ts";
import { evaluateFreshness } from "./evaluate_freshness.ts";
import type { HeaderList } from "./header_getter.ts";
import { formatHttpDate, parseHttpDate } from "./http_date.ts";
import { isStorable } from "./is_storable.ts";
import { varyKey } from "./vary.ts";
import { cacheKey } from "./cache_key.ts";
import { stripHopByHop } from "./hop_by_hop.ts";

const T0 = Date.UTC(2026, 0, 1);
const storedHeaders: HeaderList = [
  ["date", formatHttpDate(T0)],
  ["server", "origin/1.0"],
  ["content-type", "text/html; charset=utf-8"],
  ["content-length", "1024"],
  ["cache-control", "public, max-age=3600, stale-while-revalidate=60"],
  ["etag", '"5f3c-1024"'],
  ["last-modified", formatHttpDate(T0 - 86_400_000)],
  ["vary", "accept-encoding"],
];
const meta = { status: 200, headers: storedHeaders, requestTime: T0, responseTime: T0 };
const browserHeaders = new Headers({
  host: "www.example.org",
  "user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120 Safari/537.36",
  accept: "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
  "accept-encoding": "gzip, deflate, br",
  "accept-language": "en-GB,en;q=0.9",
  connection: "keep-alive",
});
const plainRequest: HeaderList = [["host", "www.example.org"], ["accept", "*/*"]];
let now = T0 + 10_000;

Deno.bench("parseCacheControl() typical response value", { group: "cache-control", baseline: true }, () => {
  parseCacheControl("public, max-age=3600, stale-while-revalidate=60");
});
let n = 0;
Deno.bench("parseCacheControl() a new value every call (no memo hit)", { group: "cache-control" }, () => {
  parseCacheControl(`public, max-age=${n++ & 0xffffff}, stale-while-revalidate=60`);
});
Deno.bench("parseCacheControl() with a quoted field list", { group: "cache-control" }, () => {
  parseCacheControl('private="set-cookie, x-user", max-age=60, must-revalidate');
});
Deno.bench("parseCacheControl() null (request without Cache-Control)", { group: "cache-control" }, () => {
  parseCacheControl(null);
});

Deno.bench("evaluateFreshness() hit, header list request", { group: "freshness", baseline: true }, () => {
  evaluateFreshness(plainRequest, meta, now++, { shared: true });
});
Deno.bench("evaluateFreshness() hit, browser Headers request", { group: "freshness" }, () => {
  evaluateFreshness(browserHeaders, meta, now++, { shared: true });
});
Deno.bench("currentAgeMs()", { group: "freshness" }, () => {
  currentAgeMs(meta, now++);
});

Deno.bench("formatHttpDate() same second (memoised)", { group: "date", baseline: true }, () => {
  formatHttpDate(T0 + 500);
});
Deno.bench("formatHttpDate() new second every call", { group: "date" }, () => {
  formatHttpDate(now += 1000);
});
Deno.bench("Date.prototype.toUTCString() for comparison", { group: "date" }, () => {
  new Date(now += 1000).toUTCString();
});
Deno.bench("parseHttpDate() IMF-fixdate (memo hit)", { group: "date" }, () => {
  parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT");
});
Deno.bench("parseHttpDate() IMF-fixdate, a new value every call", { group: "date" }, () => {
  parseHttpDate(formatHttpDate(now += 1000));
});

Deno.bench("cacheKey()", { group: "lookup", baseline: true }, () => {
  cacheKey("http://www.example.org/static/app.js?v=123");
});
Deno.bench("varyKey() accept-encoding from browser Headers", { group: "lookup" }, () => {
  varyKey(["accept-encoding"], browserHeaders);
});
Deno.bench("stripHopByHop() response headers", { group: "lookup" }, () => {
  stripHopByHop(storedHeaders);
});
Deno.bench("isStorable() typical response", { group: "lookup" }, () => {
  isStorable({ method: "GET", headers: plainRequest }, { status: 200, headers: storedHeaders }, { shared: true });
});
