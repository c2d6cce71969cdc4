/**
 * Scenario tests: the functions of this module chained the way the request state machine uses
 * them, with a clock advanced by hand (varnishtest-style sequences, no I/O). At the end, a
 * robustness test: the parsers and decision functions never throw on malformed header values;
 * inputs come from a seeded PRNG, so a failure is reproducible from the printed seed and index.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import {
  ageHeaderValue,
  cacheKey,
  conditionalHeadersFor,
  currentAgeMs,
  evaluateClientConditional,
  evaluateFreshness,
  expiresAtMs,
  formatHttpDate,
  freshnessLifetimeMs,
  type HeaderList,
  invalidationTargets,
  isStorable,
  mergeHeadersFrom304,
  normalizeAcceptEncoding,
  parseCacheControl,
  parseEntityTagList,
  parseHttpDate,
  parseRange,
  parseVary,
  select304Targets,
  staleIfErrorAllowed,
  stripHopByHop,
  varyKey,
  varyMatches,
} from "./mod.ts";
import type { StoredMeta } from "../store/store.ts";

const T0 = Date.UTC(2026, 0, 1, 12);
const OPTS = { shared: true };

/** Builds the StoredMeta the cache would store for a response, or fails the test. */
function store(
  url: string,
  req: HeaderList,
  status: number,
  wire: HeaderList,
  requestTime: number,
  responseTime: number,
) {
  const headers = stripHopByHop(wire);
  const d = isStorable({ method: "GET", headers: req }, { status, headers }, OPTS);
  strictEqual(d.storable, true, d.reason);
  const vary = parseVary(headers.find(([n]) => n === "vary")?.[1] ?? null);
  if (vary === "*") throw new Error("Vary: * is not storable");
  const meta: StoredMeta = {
    primary: cacheKey(url),
    variant: varyKey(vary, req),
    status,
    headers: headers.filter(([n]) => !d.stripFields.includes(n)),
    vary,
    requestTime,
    responseTime,
    expiresAt: 0,
    bodyBytes: 1000,
  };
  meta.expiresAt = expiresAtMs(meta, OPTS);
  return meta;
}

Deno.test("semantics: store, hit with Age, go stale, revalidate with a 304, hit again", () => {
  const wire: HeaderList = [
    ["Date", formatHttpDate(T0)],
    ["Cache-Control", "max-age=60"],
    ["ETag", '"v1"'],
    ["Connection", "keep-alive"],
    ["Keep-Alive", "timeout=5"],
  ];
  let meta = store("http://Origin.example/page", [], 200, wire, T0 - 500, T0);
  strictEqual(meta.headers.some(([n]) => n === "keep-alive"), false, "hop-by-hop fields are not stored");
  strictEqual(meta.expiresAt, T0 + 59_500, "the 0.5 s response delay counts as age");

  // 30 s later: a hit, Age 30 (30 s resident + 0.5 s delay, rounded down).
  let d = evaluateFreshness([], meta, T0 + 30_000, OPTS);
  strictEqual(d.action, "serve");
  strictEqual(ageHeaderValue(d.ageMs), "30");

  // 61 s later: stale; revalidate with the stored validator.
  d = evaluateFreshness([], meta, T0 + 61_000, OPTS);
  strictEqual(d.action, "revalidate");
  deepStrictEqual(conditionalHeadersFor(meta), [["if-none-match", '"v1"']]);

  // The origin answers 304 with a new lifetime and Date.
  const res304: HeaderList = [["date", formatHttpDate(T0 + 62_000)], ["cache-control", "max-age=120"], [
    "etag",
    '"v1"',
  ]];
  deepStrictEqual(select304Targets([meta], res304), [meta]);
  const headers = mergeHeadersFrom304(meta.headers, res304, { responseTime: T0 + 62_000 });
  meta = { ...meta, headers, requestTime: T0 + 61_900, responseTime: T0 + 62_000 };
  meta.expiresAt = expiresAtMs(meta, OPTS);

  // 100 s in: fresh again, 38.1 s old.
  d = evaluateFreshness([], meta, T0 + 100_000, OPTS);
  strictEqual(d.action, "serve");
  strictEqual(d.ageMs, 38_100);
  strictEqual(d.freshnessMs, 120_000);
});

Deno.test("semantics: Vary keeps variants apart and a POST invalidates the URL", () => {
  const wire: HeaderList = [["cache-control", "max-age=600"], ["vary", "Accept-Language"]];
  const en = store("http://o.example/a", [["accept-language", "en"]], 200, wire, T0, T0);
  const de = store("http://o.example/a", [["accept-language", "de"]], 200, wire, T0, T0);
  const variants = [en, de];
  const pick = (req: HeaderList) => variants.find((m) => varyMatches(m, req));
  strictEqual(pick([["accept-language", " de"]]), de);
  strictEqual(pick([["accept-language", "en"]]), en);
  strictEqual(pick([["accept-language", "fr"]]), undefined);
  strictEqual(pick([]), undefined);
  deepStrictEqual(invalidationTargets("POST", "http://o.example/a", 200, []), [en.primary]);
});

Deno.test("semantics: stale-while-revalidate, then the origin fails and stale-if-error serves", () => {
  const wire: HeaderList = [
    ["date", formatHttpDate(T0)],
    ["cache-control", "max-age=10, stale-while-revalidate=20, stale-if-error=100"],
    ["last-modified", formatHttpDate(T0 - 3_600_000)],
  ];
  const meta = store("http://o.example/swr", [], 200, wire, T0, T0);
  strictEqual(evaluateFreshness([], meta, T0 + 25_000, OPTS).action, "serve-stale-revalidate");
  strictEqual(evaluateFreshness([], meta, T0 + 31_000, OPTS).action, "revalidate");
  deepStrictEqual(conditionalHeadersFor(meta), [["if-modified-since", formatHttpDate(T0 - 3_600_000)]]);
  strictEqual(staleIfErrorAllowed([], meta, T0 + 31_000, OPTS), true);
  strictEqual(staleIfErrorAllowed([], meta, T0 + 111_000, OPTS), false);
});

Deno.test("semantics: a HEAD with If-None-Match is answered 304 from a stored GET", () => {
  const meta = store("http://o.example/h", [], 200, [["cache-control", "max-age=60"], ["etag", 'W/"x"']], T0, T0);
  strictEqual(evaluateFreshness([], meta, T0 + 1000, OPTS).action, "serve");
  strictEqual(evaluateClientConditional("HEAD", [["if-none-match", 'W/"x"']], meta.headers, meta.status), 304);
});

Deno.test("semantics: a resumed download gets a 206 only while the stored ETag is the same", () => {
  const meta = store("http://o.example/iso", [], 200, [["cache-control", "max-age=60"], ["etag", '"v1"']], T0, T0);
  deepStrictEqual(parseRange("bytes=500-", '"v1"', meta, meta.bodyBytes), { kind: "partial", start: 500, end: 999 });
  deepStrictEqual(parseRange("bytes=500-", '"v0"', meta, meta.bodyBytes), { kind: "full" });
  deepStrictEqual(parseRange("bytes=1000-", null, meta, meta.bodyBytes), { kind: "unsatisfiable" });
});

Deno.test("semantics: an old Age from a parent cache makes the object stale sooner", () => {
  const meta = store("http://o.example/p", [], 200, [["cache-control", "max-age=60"], ["age", "50"]], T0, T0);
  strictEqual(currentAgeMs(meta, T0), 50_000);
  strictEqual(meta.expiresAt, T0 + 10_000);
  strictEqual(evaluateFreshness([], meta, T0 + 10_001, OPTS).action, "revalidate");
});

const SEED = 0x9111;
const ALPHABET = [
  ..."abcdefgmnoprstvwxyzAMGTW0123456789",
  ...' \t,;="\\/-*:',
  "max-age",
  "s-maxage",
  "no-cache",
  "private",
  "max-stale",
  "bytes=",
  "W/",
  "GMT",
  "Sun, 06 Nov 1994 08:49:37 GMT",
  "\u00ff",
  "\u2028",
  "99999999999999999999",
];

function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s * 1664525 + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function junk(rand: () => number): string {
  let out = "";
  const n = Math.floor(rand() * 12);
  for (let i = 0; i < n; i++) out += ALPHABET[Math.floor(rand() * ALPHABET.length)];
  return out;
}

const FIELDS = [
  "cache-control",
  "expires",
  "date",
  "last-modified",
  "age",
  "etag",
  "vary",
  "connection",
  "location",
  "pragma",
  "if-none-match",
  "if-modified-since",
  "if-match",
  "if-unmodified-since",
  "accept-encoding",
  "set-cookie",
  "authorization",
];

function headers(rand: () => number): HeaderList {
  const out: HeaderList = [];
  const n = Math.floor(rand() * 6);
  for (let i = 0; i < n; i++) out.push([FIELDS[Math.floor(rand() * FIELDS.length)], junk(rand)]);
  return out;
}

Deno.test("semantics: parsers and decisions never throw on 5000 random header sets", () => {
  const rand = prng(SEED);
  const T0 = Date.UTC(2026, 0, 1);
  for (let i = 0; i < 5000; i++) {
    const s = junk(rand);
    const req = headers(rand);
    const res = headers(rand);
    const meta = { status: 200, headers: res, requestTime: T0, responseTime: T0 + 10, vary: [], variant: "" };
    try {
      parseCacheControl(s);
      parseHttpDate(s);
      parseHttpDate(s, T0);
      parseVary(s);
      parseEntityTagList(s);
      normalizeAcceptEncoding(s);
      parseRange(s, junk(rand), meta, Math.floor(rand() * 100));
      freshnessLifetimeMs(res, { shared: true, responseTime: T0 });
      const d = evaluateFreshness(req, meta, T0 + Math.floor(rand() * 1e6), { shared: true });
      ok(Number.isFinite(d.ageMs) && d.ageMs >= 0 && d.freshnessMs >= 0 && d.staleMs >= 0);
      isStorable({ method: "GET", headers: req }, { status: 200, headers: res }, { shared: true });
      evaluateClientConditional("GET", req, res, 200);
      mergeHeadersFrom304(res, req, { responseTime: T0 });
      select304Targets([meta], req);
      stripHopByHop(res);
      varyKey(["accept-encoding", "x"], req);
      invalidationTargets("POST", "http://a.example/x", 200, res);
    } catch (e) {
      throw new Error(`Case ${i} (seed ${SEED}) threw for ${JSON.stringify({ s, req, res })}`, { cause: e });
    }
  }
});
