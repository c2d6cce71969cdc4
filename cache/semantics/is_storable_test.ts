import { deepStrictEqual } from "node:assert/strict";
import type { HeaderList } from "./header_getter.ts";
import { formatHttpDate } from "./http_date.ts";
import { isStorable, type StorableDecision, type StorableOptions } from "./is_storable.ts";

const T0 = Date.UTC(2026, 0, 1);
const LM: HeaderList = [["date", formatHttpDate(T0)], ["last-modified", formatHttpDate(T0 - 86_400_000)]];

const ok = (stripFields: string[] = []): StorableDecision => ({ storable: true, reason: "ok", stripFields });
const no = (reason: string): StorableDecision => ({ storable: false, reason, stripFields: [] });

const cases: {
  name: string;
  method?: string;
  req?: HeaderList;
  status?: number;
  res: HeaderList;
  opts?: Partial<StorableOptions>;
  want: StorableDecision;
}[] = [
  { name: "stores a 200 with max-age", res: [["cache-control", "max-age=60"]], want: ok() },
  { name: "stores a 200 with only Last-Modified (heuristic)", res: LM, want: ok() },
  { name: "stores a 200 with only an ETag (validator, revalidate each time)", res: [["etag", '"a"']], want: ok() },
  { name: "stores a 200 with Expires", res: [["expires", formatHttpDate(T0 + 60_000)]], want: ok() },
  { name: "refuses a HEAD response", method: "HEAD", res: [["cache-control", "max-age=60"]], want: no("method") },
  { name: "refuses a POST response", method: "POST", res: [["cache-control", "max-age=60"]], want: no("method") },
  { name: "refuses a 206 partial response", status: 206, res: [["cache-control", "max-age=60"]], want: no("status") },
  {
    name: "stores a 206 part when the caller keeps parts (RFC 9111 §3.3)",
    status: 206,
    res: [["cache-control", "max-age=60"]],
    opts: { partial: true },
    want: ok(),
  },
  {
    name: "refuses a no-store 206 part",
    status: 206,
    res: [["cache-control", "max-age=60, no-store"]],
    opts: { partial: true },
    want: no("no-store"),
  },
  { name: "stores a 206 part heuristically", status: 206, res: LM, opts: { partial: true }, want: ok() },
  { name: "refuses a 304", status: 304, res: [["cache-control", "max-age=60"]], want: no("status") },
  { name: "refuses an interim 1xx", status: 103, res: [["cache-control", "max-age=60"]], want: no("status") },
  { name: "stores a 404 heuristically", status: 404, res: LM, want: ok() },
  { name: "stores a 301 heuristically", status: 301, res: LM, want: ok() },
  { name: "stores a 410 heuristically", status: 410, res: LM, want: ok() },
  { name: "stores a 501 heuristically", status: 501, res: LM, want: ok() },
  { name: "refuses a 302 without explicit freshness", status: 302, res: LM, want: no("no-freshness") },
  { name: "stores a 302 with max-age", status: 302, res: [["cache-control", "max-age=60"]], want: ok() },
  { name: "refuses a 500 without explicit freshness", status: 500, res: LM, want: no("no-freshness") },
  { name: "stores a 503 with s-maxage", status: 503, res: [["cache-control", "s-maxage=5"]], want: ok() },
  { name: "stores a 302 marked public", status: 302, res: [["cache-control", "public"], ...LM], want: ok() },
  { name: "refuses no-store", res: [["cache-control", "max-age=60, no-store"]], want: no("no-store") },
  {
    name: "refuses a request with no-store",
    req: [["cache-control", "no-store"]],
    res: [["cache-control", "max-age=60"]],
    want: no("request-no-store"),
  },
  {
    name: "ignores no-store with must-understand for an understood status",
    res: [["cache-control", "max-age=60, no-store, must-understand"]],
    want: ok(),
  },
  {
    name: "refuses must-understand for a status it does not understand",
    status: 299,
    res: [["cache-control", "max-age=60, no-store, must-understand"]],
    want: no("must-understand"),
  },
  { name: "refuses private in a shared cache", res: [["cache-control", "private, max-age=60"]], want: no("private") },
  {
    name: "stores private in a private cache",
    res: [["cache-control", "private, max-age=60"]],
    opts: { shared: false },
    want: ok(),
  },
  {
    name: "stores qualified private without the named fields",
    res: [["cache-control", 'private="x-user", max-age=60'], ["x-user", "bob"]],
    want: ok(["x-user"]),
  },
  {
    name: "stores qualified no-cache without the named fields",
    res: [["cache-control", 'no-cache="set-cookie", max-age=60'], ["set-cookie", "a=b"]],
    want: ok(["set-cookie"]),
  },
  {
    name: "refuses an Authorization request without public, s-maxage or must-revalidate",
    req: [["authorization", "Basic YTpi"]],
    res: [["cache-control", "max-age=60"]],
    want: no("authorization"),
  },
  {
    name: "stores an Authorization request with public",
    req: [["authorization", "Basic YTpi"]],
    res: [["cache-control", "public, max-age=60"]],
    want: ok(),
  },
  {
    name: "stores an Authorization request with s-maxage",
    req: [["authorization", "Basic YTpi"]],
    res: [["cache-control", "s-maxage=60"]],
    want: ok(),
  },
  {
    name: "stores an Authorization request with must-revalidate",
    req: [["authorization", "Basic YTpi"]],
    res: [["cache-control", "max-age=60, must-revalidate"]],
    want: ok(),
  },
  {
    name: "stores an Authorization request in a private cache",
    req: [["authorization", "Basic YTpi"]],
    res: [["cache-control", "max-age=60"]],
    opts: { shared: false },
    want: ok(),
  },
  { name: "refuses Vary: *", res: [["cache-control", "max-age=60"], ["vary", "Accept, *"]], want: no("vary-star") },
  { name: "stores Vary on named fields", res: [["cache-control", "max-age=60"], ["vary", "Accept"]], want: ok() },
  {
    name: "refuses Set-Cookie under the default pass policy",
    res: [["cache-control", "max-age=60"], ["set-cookie", "sid=1"]],
    want: no("set-cookie"),
  },
  {
    name: "stores Set-Cookie with public under the pass policy",
    res: [["cache-control", "public, max-age=60"], ["set-cookie", "sid=1"]],
    want: ok(),
  },
  {
    name: "stores without Set-Cookie under the strip policy",
    res: [["cache-control", "max-age=60"], ["set-cookie", "sid=1"]],
    opts: { setCookie: "strip" },
    want: ok(["set-cookie"]),
  },
  {
    name: "stores Set-Cookie under the store policy",
    res: [["cache-control", "max-age=60"], ["set-cookie", "sid=1"]],
    opts: { setCookie: "store" },
    want: ok(),
  },
  {
    name: "refuses a response that could only ever be refetched",
    res: [["cache-control", "max-age=0"]],
    want: no("useless"),
  },
  {
    name: "refuses no-cache without a validator (every use would refetch)",
    res: [["cache-control", "no-cache, max-age=3600"]],
    want: no("useless"),
  },
  {
    name: "stores no-cache with an ETag (revalidated on each use)",
    res: [["cache-control", "no-cache"], ["etag", '"a"']],
    want: ok(),
  },
  {
    name: "stores max-age=0 with stale-if-error",
    res: [["cache-control", "max-age=0, stale-if-error=60"]],
    want: ok(),
  },
  {
    name: "stores a useless response when requireUseful is off",
    res: [["cache-control", "max-age=0"]],
    opts: { requireUseful: false },
    want: ok(),
  },
];

for (const c of cases) {
  Deno.test(`isStorable() ${c.name}`, () => {
    const opts: StorableOptions = { shared: true, ...c.opts };
    const req = { method: c.method ?? "GET", headers: c.req ?? [] };
    const res = { status: c.status ?? 200, headers: c.res };
    deepStrictEqual(isStorable(req, res, opts), c.want);
    deepStrictEqual(
      isStorable({ ...req, headers: new Headers(req.headers) }, { ...res, headers: new Headers(res.headers) }, opts),
      c.want,
      "same with Headers objects",
    );
  });
}
