import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { type CachedResponse, evaluateFreshness, type FreshnessAction } from "./evaluate_freshness.ts";
import { expiresAtMs } from "./expires_at.ts";
import type { HeaderList } from "./header_getter.ts";
import { formatHttpDate } from "./http_date.ts";
import { isStorable } from "./is_storable.ts";
import { parseTargetedCacheControl, responseCacheControl } from "./targeted_cache_control.ts";

const CDN = ["CDN-Cache-Control"];
const T0 = Date.UTC(2026, 0, 1);
const at = (s: number) => formatHttpDate(T0 + s * 1000);

/** Parsing: RFC 9213 §2.1 (Dictionary) and the choices of the module doc. */
const parseCases: { name: string; value: string; want: Record<string, unknown> | undefined }[] = [
  { name: "max-age as an Integer", value: "max-age=600", want: { maxAge: 600 } },
  {
    name: "RFC 9213 §2.3 example with stale-while-revalidate",
    value: "max-age=60, stale-while-revalidate=30",
    want: { maxAge: 60, staleWhileRevalidate: 30 },
  },
  { name: "no-store as a Boolean", value: "no-store", want: { noStore: true } },
  { name: "no-store=?0 is absent", value: "no-store=?0, max-age=5", want: { noStore: false, maxAge: 5 } },
  { name: "private as a Boolean", value: "private", want: { private: true, privateFields: undefined } },
  {
    name: "qualified private as a String",
    value: 'private="x-user, set-cookie"',
    want: { private: true, privateFields: ["x-user", "set-cookie"] },
  },
  {
    name: "qualified no-cache as a String",
    value: 'no-cache="set-cookie"',
    want: { noCache: true, noCacheFields: ["set-cookie"] },
  },
  { name: "s-maxage", value: "s-maxage=30", want: { sMaxAge: 30 } },
  {
    name: "an unknown directive is kept as an extension",
    value: "foobar, max-age=3600",
    want: { maxAge: 3600, extensions: { foobar: true } },
  },
  { name: "parameters are ignored", value: "max-age=60;foo=bar", want: { maxAge: 60 } },
  { name: "max-age above 2^31 is clamped", value: "max-age=99999999999", want: { maxAge: 2147483648 } },
  { name: "a negative max-age means stale", value: "max-age=-5", want: { maxAge: 0 } },
  {
    name: "request-only directives are ignored",
    value: "max-stale=5, only-if-cached",
    want: { maxStale: undefined, onlyIfCached: false },
  },
  { name: "OWS around commas", value: "max-age=60 ,\tno-transform", want: { maxAge: 60, noTransform: true } },
  { name: "a later duplicate key wins (Dictionary)", value: "max-age=60, max-age=10", want: { maxAge: 10 } },
  { name: "space before = is not a Dictionary: ignored", value: "max-age =100", want: undefined },
  { name: "space after = is not a Dictionary: ignored", value: "max-age= 100", want: undefined },
  { name: "an invalid member makes the field invalid", value: "max-age=10000, &&&&&", want: undefined },
  { name: "a String max-age is the wrong type: ignored", value: 'max-age="10000"', want: undefined },
  { name: "a Decimal max-age is the wrong type: ignored", value: "max-age=1.5", want: undefined },
  { name: "upper-case keys are not a Dictionary: ignored", value: "MaX-aGe=3600", want: undefined },
  { name: "a trailing comma is invalid", value: "max-age=60,", want: undefined },
  { name: "an unterminated string is invalid", value: 'private="x', want: undefined },
  { name: "an empty field is ignored", value: "", want: undefined },
  { name: "an integer of 16 digits is invalid", value: "max-age=1234567890123456", want: undefined },
];

for (const c of parseCases) {
  Deno.test(`parseTargetedCacheControl() ${c.name}`, () => {
    const cc = parseTargetedCacheControl(c.value);
    if (c.want === undefined) return strictEqual(cc, undefined);
    if (cc === undefined) throw new Error(`"${c.value}" was ignored`);
    for (const [k, v] of Object.entries(c.want)) deepStrictEqual((cc as unknown as Record<string, unknown>)[k], v, k);
  });
}

Deno.test("parseTargetedCacheControl() memoises invalid values as invalid", () => {
  strictEqual(parseTargetedCacheControl("max-age =1"), undefined);
  strictEqual(parseTargetedCacheControl("max-age =1"), undefined);
  strictEqual(parseTargetedCacheControl(null), undefined);
});

Deno.test("responseCacheControl() takes the first usable field of the target list (RFC 9213 §2.2)", () => {
  const headers: HeaderList = [
    ["cache-control", "max-age=1"],
    ["cdn-cache-control", "max-age=20"],
    ["acme-cdn-cache-control", "max-age=300"],
  ];
  const first = responseCacheControl(headers, ["ACME-CDN-Cache-Control", "CDN-Cache-Control"]);
  deepStrictEqual([first.cc.maxAge, first.targeted, first.useExpires], [300, "acme-cdn-cache-control", false]);
  const invalidFirst = responseCacheControl(
    [["acme-cdn-cache-control", "max-age = 300"], ...headers.slice(0, 2)],
    ["ACME-CDN-Cache-Control", "CDN-Cache-Control"],
  );
  deepStrictEqual([invalidFirst.cc.maxAge, invalidFirst.targeted], [20, "cdn-cache-control"]);
  const none = responseCacheControl(headers, []);
  deepStrictEqual([none.cc.maxAge, none.targeted, none.useExpires], [1, undefined, true]);
  const fallBack = responseCacheControl([["cache-control", "max-age=1"], ["cdn-cache-control", "max-age =9"]], CDN);
  deepStrictEqual([fallBack.cc.maxAge, fallBack.useExpires], [1, true]);
});

/** Reuse, after the cache-tests `cdn-cache-control` cases (response received at T0, Date T0). */
const reuseCases: { name: string; res: HeaderList; ageS: number; want: FreshnessAction }[] = [
  { name: "CDN max-age makes it fresh", res: [["cdn-cache-control", "max-age=3600"]], ageS: 10, want: "serve" },
  {
    name: "an upstream Age above CDN max-age makes it stale",
    res: [["cdn-cache-control", "max-age=3600"], ["age", "7200"]],
    ageS: 0,
    want: "revalidate",
  },
  { name: "CDN max-age=0 is stale", res: [["cdn-cache-control", "max-age=0"]], ageS: 1, want: "revalidate" },
  {
    name: "CDN max-age wins over a past Expires",
    res: [["cdn-cache-control", "max-age=3600"], ["expires", at(-10000)]],
    ageS: 10,
    want: "serve",
  },
  {
    name: "CDN max-age wins over an invalid Expires",
    res: [["cdn-cache-control", "max-age=3600"], ["expires", "0"]],
    ageS: 10,
    want: "serve",
  },
  {
    name: "CDN max-age=0 wins over a future Expires",
    res: [["cdn-cache-control", "max-age=0"], ["expires", at(10000)]],
    ageS: 1,
    want: "revalidate",
  },
  {
    name: "a long CDN max-age wins over a short Cache-Control max-age",
    res: [["cache-control", "max-age=1"], ["cdn-cache-control", "max-age=3600"]],
    ageS: 10,
    want: "serve",
  },
  {
    name: "a short CDN max-age wins over a long Cache-Control max-age",
    res: [["cache-control", "max-age=3600"], ["cdn-cache-control", "max-age=1"]],
    ageS: 2,
    want: "revalidate",
  },
  {
    name: "CDN no-cache wins over Cache-Control max-age and Expires",
    res: [["cdn-cache-control", "no-cache"], ["cache-control", "max-age=10000"], ["expires", at(10000)]],
    ageS: 1,
    want: "revalidate",
  },
  {
    name: "CDN s-maxage applies to this shared cache",
    res: [["cdn-cache-control", "s-maxage=60, max-age=1"]],
    ageS: 30,
    want: "serve",
  },
  {
    name: "a Cache-Control stale-while-revalidate does not apply under a CDN field",
    res: [["cache-control", "max-age=1, stale-while-revalidate=60"], ["cdn-cache-control", "max-age=1"]],
    ageS: 5,
    want: "revalidate",
  },
  {
    name: "a CDN field with a space before = is ignored: Cache-Control max-age=1 applies",
    res: [["cache-control", "max-age=1"], ["cdn-cache-control", "max-age =100"]],
    ageS: 5,
    want: "revalidate",
  },
];

for (const c of reuseCases) {
  Deno.test(`evaluateFreshness() with CDN-Cache-Control: ${c.name}`, () => {
    const meta: CachedResponse = {
      status: 200,
      headers: [["date", at(0)], ...c.res],
      requestTime: T0,
      responseTime: T0,
    };
    strictEqual(evaluateFreshness([], meta, T0 + c.ageS * 1000, { shared: true, targetedFields: CDN }).action, c.want);
  });
}

Deno.test("evaluateFreshness() without a target list keeps using Cache-Control", () => {
  const meta: CachedResponse = {
    status: 200,
    headers: [["cache-control", "max-age=3600"], ["cdn-cache-control", "max-age=1"]],
    requestTime: T0,
    responseTime: T0,
  };
  strictEqual(evaluateFreshness([], meta, T0 + 5000, { shared: true }).action, "serve");
});

/** Storing, after the cache-tests `cdn-cache-control` cases. */
const storeCases: { name: string; res: HeaderList; want: string }[] = [
  {
    name: "CDN private refuses what Cache-Control max-age allows",
    res: [["cdn-cache-control", "private"], ["cache-control", "max-age=10000"], ["expires", at(10000)]],
    want: "private",
  },
  {
    name: "CDN no-store refuses what Cache-Control max-age allows",
    res: [["cache-control", "max-age=10000"], ["cdn-cache-control", "no-store"], ["expires", at(10000)]],
    want: "no-store",
  },
  {
    name: "CDN max-age stores what Cache-Control no-store refuses",
    res: [["cache-control", "no-store"], ["cdn-cache-control", "max-age=10000"]],
    want: "ok",
  },
  {
    name: "an invalid CDN field (unknown type) leaves Cache-Control no-store in force",
    res: [["cdn-cache-control", "max-age=10000, &&&&&"], ["cache-control", "no-store"]],
    want: "no-store",
  },
  {
    name: "an invalid CDN field (wrong type) leaves Cache-Control no-store in force",
    res: [["cdn-cache-control", 'max-age="10000"'], ["cache-control", "no-store"]],
    want: "no-store",
  },
  {
    name: "Expires does not give explicit freshness under a CDN field",
    res: [["cdn-cache-control", "must-revalidate"], ["expires", at(10000)]],
    want: "useless",
  },
  {
    name: "CDN qualified private keeps the response, minus the named field",
    res: [["cdn-cache-control", 'private="x-user", max-age=60'], ["x-user", "alice"]],
    want: "ok:x-user",
  },
];

for (const c of storeCases) {
  Deno.test(`isStorable() with CDN-Cache-Control: ${c.name}`, () => {
    const d = isStorable({ method: "GET", headers: [] }, { status: 200, headers: [["date", at(0)], ...c.res] }, {
      shared: true,
      targetedFields: CDN,
    });
    strictEqual(d.storable ? (d.stripFields.length ? `ok:${d.stripFields.join(",")}` : "ok") : d.reason, c.want);
  });
}

Deno.test("expiresAtMs() follows the targeted field", () => {
  const meta: CachedResponse = {
    status: 200,
    headers: [["date", at(0)], ["cache-control", "max-age=10"], ["cdn-cache-control", "max-age=600"]],
    requestTime: T0,
    responseTime: T0,
  };
  strictEqual(expiresAtMs(meta, { shared: true, targetedFields: CDN }), T0 + 600_000);
  strictEqual(expiresAtMs(meta, { shared: true }), T0 + 10_000);
});
