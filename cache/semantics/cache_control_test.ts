import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { type CacheControl, MAX_DELTA_SECONDS, parseCacheControl, parseDeltaSeconds } from "./cache_control.ts";

const BASE: CacheControl = parseCacheControl(null);

const cases: { name: string; input: string | null; want: Partial<CacheControl> }[] = [
  { name: "returns no directives for null", input: null, want: {} },
  { name: "returns no directives for an empty value", input: "", want: {} },
  { name: "parses max-age", input: "max-age=3600", want: { maxAge: 3600 } },
  { name: "parses s-maxage", input: "s-maxage=60", want: { sMaxAge: 60 } },
  {
    name: "treats directive names case-insensitively",
    input: "Max-Age=5, NO-STORE",
    want: { maxAge: 5, noStore: true },
  },
  { name: "accepts a quoted max-age", input: 'max-age="10"', want: { maxAge: 10 } },
  {
    name: "tolerates whitespace around separators",
    input: " public ,\tmax-age = 7 ,",
    want: { public: true, maxAge: 7 },
  },
  { name: "treats a negative max-age as 0 (stale)", input: "max-age=-1", want: { maxAge: 0 } },
  { name: "treats a fractional max-age as 0 (stale)", input: "max-age=1.5", want: { maxAge: 0 } },
  { name: "treats max-age without a value as 0 (stale)", input: "max-age", want: { maxAge: 0 } },
  { name: "keeps the smallest of duplicated max-age values", input: "max-age=60, max-age=5", want: { maxAge: 5 } },
  { name: "clamps delta-seconds to 2^31", input: "max-age=99999999999999999999", want: { maxAge: MAX_DELTA_SECONDS } },
  { name: "parses unqualified no-cache", input: "no-cache", want: { noCache: true } },
  {
    name: "parses qualified no-cache with a quoted field list",
    input: 'no-cache="Set-Cookie, X-Foo", max-age=5',
    want: { noCache: true, noCacheFields: ["set-cookie", "x-foo"], maxAge: 5 },
  },
  {
    name: "lets unqualified no-cache win over a qualified one",
    input: 'no-cache="set-cookie", no-cache',
    want: { noCache: true },
  },
  { name: "treats an empty no-cache field list as unqualified", input: 'no-cache=""', want: { noCache: true } },
  { name: "parses unqualified private", input: "private", want: { private: true } },
  {
    name: "parses qualified private",
    input: 'private="x-user"',
    want: { private: true, privateFields: ["x-user"] },
  },
  {
    name: "lets unqualified private win in either order",
    input: 'private, private="x-user"',
    want: { private: true },
  },
  {
    name: "parses the revalidation directives",
    input: "must-revalidate, proxy-revalidate, no-transform, immutable, must-understand",
    want: { mustRevalidate: true, proxyRevalidate: true, noTransform: true, immutable: true, mustUnderstand: true },
  },
  { name: "parses max-stale without a value as unlimited", input: "max-stale", want: { maxStale: Infinity } },
  { name: "parses max-stale with a value", input: "max-stale=30", want: { maxStale: 30 } },
  { name: "keeps the smaller of max-stale and max-stale=N", input: "max-stale, max-stale=30", want: { maxStale: 30 } },
  { name: "ignores an invalid max-stale (grants nothing)", input: "max-stale=abc", want: {} },
  { name: "parses min-fresh", input: "min-fresh=20", want: { minFresh: 20 } },
  { name: "keeps the largest duplicated min-fresh", input: "min-fresh=20, min-fresh=40", want: { minFresh: 40 } },
  { name: "ignores an invalid min-fresh", input: "min-fresh=-4", want: {} },
  { name: "parses only-if-cached", input: "only-if-cached", want: { onlyIfCached: true } },
  {
    name: "parses the RFC 5861 example",
    input: "max-age=600, stale-while-revalidate=30",
    want: { maxAge: 600, staleWhileRevalidate: 30 },
  },
  {
    name: "parses stale-if-error",
    input: "max-age=600, stale-if-error=1200",
    want: { maxAge: 600, staleIfError: 1200 },
  },
  { name: "ignores an invalid stale-while-revalidate", input: "stale-while-revalidate=x", want: {} },
  {
    name: "keeps unknown directives as extensions",
    input: 'community="UCI", foo, bar=baz',
    want: { extensions: { community: "UCI", foo: true, bar: "baz" } },
  },
  {
    name: "does not split a quoted string at its commas",
    input: 'foo="a, max-age=9", no-store',
    want: { noStore: true, extensions: { foo: "a, max-age=9" } },
  },
  {
    name: "unescapes quoted-pairs",
    input: 'foo="a\\"b", public',
    want: { public: true, extensions: { foo: 'a"b' } },
  },
  {
    name: "lets an unterminated quoted string swallow the rest",
    input: 'foo="abc, no-store',
    want: { extensions: { foo: "abc, no-store" } },
  },
  {
    name: "does not let __proto__ change the extensions object",
    input: "__proto__=x, a",
    want: { extensions: { a: true } },
  },
  { name: "skips empty list members", input: ",,, no-store ,,", want: { noStore: true } },
];

for (const c of cases) {
  Deno.test(`parseCacheControl() ${c.name}`, () => {
    deepStrictEqual(parseCacheControl(c.input), { ...BASE, extensions: {}, ...c.want });
  });
}

Deno.test("parseDeltaSeconds() accepts only digits", () => {
  strictEqual(parseDeltaSeconds("0"), 0);
  strictEqual(parseDeltaSeconds("0042"), 42);
  strictEqual(parseDeltaSeconds("2147483649"), MAX_DELTA_SECONDS);
  for (const bad of [undefined, "", "+1", "-1", "1e3", " 1", "0x10", "1.0"]) {
    strictEqual(parseDeltaSeconds(bad), undefined);
  }
});

Deno.test("parseCacheControl() returns frozen results, memoised by value", () => {
  const a = parseCacheControl('max-age=5, private="x"');
  strictEqual(parseCacheControl('max-age=5, private="x"'), a);
  strictEqual(Object.isFrozen(a), true);
  strictEqual(Object.isFrozen(a.privateFields), true);
  strictEqual(Object.isFrozen(a.extensions), true);
  strictEqual(Object.isFrozen(parseCacheControl(null)), true);
});
