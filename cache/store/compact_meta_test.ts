import { assert, assertEquals, assertThrows } from "../../tests/_assert.ts";
import { CompactMeta, NO_VARY, storedHeaderList } from "./compact_meta.ts";
import type { StoredMeta } from "./store.ts";

const T = 1_796_600_000_000; // 2026-12, ms since the epoch: no small integer

const plain = (over: Partial<StoredMeta> = {}): StoredMeta => ({
  primary: "http://a.example/x?y=1",
  variant: "",
  status: 200,
  headers: [
    ["server", "nginx/1.24.0"],
    ["date", "Mon, 07 Dec 2026 23:40:00 GMT"],
    ["cache-control", "public, max-age=3600"],
    ["etag", '"5f-400"'],
  ],
  vary: [],
  requestTime: T - 3,
  responseTime: T,
  expiresAt: T + 3_600_000,
  bodyBytes: 1024,
  ...over,
});

/** Every field as a plain object, as a reader sees it. */
const fields = (m: StoredMeta) => ({
  primary: m.primary,
  variant: m.variant,
  status: m.status,
  headers: m.headers,
  vary: m.vary,
  requestTime: m.requestTime,
  responseTime: m.responseTime,
  expiresAt: m.expiresAt,
  bodyBytes: m.bodyBytes,
});

Deno.test("CompactMeta reads back every field as given, with bodyBytes replaced", () => {
  const m = plain();
  const c = new CompactMeta(m, 77);
  assertEquals(fields(c), { ...fields(m), bodyBytes: 77 });
});

Deno.test("CompactMeta holds the fields packed, not as lists, until headers is read", () => {
  const m = plain();
  const c = new CompactMeta(m, 1024);
  assert(CompactMeta.isPacked(c), "packed after construction");
  // Readers that must not keep a decoded list (the lazy-copy observer, replica batches, PreparedHit).
  assertEquals(storedHeaderList(c), m.headers);
  assert(CompactMeta.isPacked(c), "still packed after storedHeaderList()");
  const h = c.headers;
  assertEquals(h, m.headers);
  assert(h !== m.headers, "a list of its own, not the caller's");
  assert(!CompactMeta.isPacked(c));
  assert(c.headers === h, "decoded once, then kept");
  assert(storedHeaderList(c) === h, "storedHeaderList() returns the kept list once there is one");
  // A copy of a compact record takes its packed string over: packed again.
  assert(CompactMeta.isPacked(new CompactMeta(c, 1)));
});

Deno.test("CompactMeta round-trips odd header lists: repeated names, empty values, colons, non-Latin-1, none", () => {
  const lists: [string, string][][] = [
    [],
    [["x", ""]],
    [["", ""]],
    [["", "v"], ["n", ""]],
    [["set-cookie", "a=1"], ["set-cookie", "b=2"], ["vary", "accept"], ["vary", "accept-encoding"]],
    [["link", "<http://a/b>; rel=preload, <http://a/c>"], ["x-colon", "a: b: c"], ["x-space", "  lead and trail  "]],
    [["x-utf", "naïve ☃ 𝄞"], ["x-tab", "a\tb"], ["x-nul", "a\0b"], ["x-cr", "a\rb"]],
    [["only-name-no-value", ""], ["", "only-value"]],
  ];
  for (const headers of lists) {
    const c = new CompactMeta(plain({ headers }), 0);
    assertEquals(storedHeaderList(c), headers);
    assertEquals(c.headers, headers);
    assertEquals(new CompactMeta(c, 0).headers, headers);
  }
});

Deno.test("CompactMeta keeps a list holding a line feed as it is (it cannot be packed)", () => {
  const headers: [string, string][] = [["a", "1"], ["x-bad", "line\nfeed"]];
  const c = new CompactMeta(plain({ headers }), 0);
  assertEquals(c.headers, headers);
  assertEquals(new CompactMeta(c, 0).headers, headers);
  c.headers = [["b", "2"]];
  assert(CompactMeta.isPacked(c), "a packable list assigned later is packed");
  assertEquals(c.headers, [["b", "2"]]);
});

Deno.test("CompactMeta is copied whole by spreading and by structured cloning (own enumerable accessors)", () => {
  const c = new CompactMeta(plain({ vary: ["accept-language"] }), 5);
  const spread = { ...c };
  assertEquals(spread, fields(c));
  assertEquals(Object.keys(c).sort(), Object.keys(fields(c)).sort());
  assertEquals(structuredClone(c), fields(c));
  assertEquals(JSON.parse(JSON.stringify(c)), fields(c));
  // A spread with one field changed (a 304's merged headers, a new bodyBytes) keeps the others.
  const merged = { ...c, headers: [["etag", '"new"']] as [string, string][] };
  assertEquals(new CompactMeta(merged, 5).headers, [["etag", '"new"']]);
  assertEquals(new CompactMeta(merged, 5).expiresAt, c.expiresAt);
});

Deno.test("CompactMeta keeps times exact: near, far, fractional, negative, non-finite, and after assignment", () => {
  const cases: [number, number, number][] = [
    [T - 3, T, T + 3_600_000],
    [T, T, T],
    [0, 0, 0],
    [T - 40 * 86_400_000, T, T + 365 * 86_400_000], // beyond a small integer: kept whole
    [T - 0.5, T + 0.25, T + 1.125],
    [-5, 7, -9],
    [T, T, Number.POSITIVE_INFINITY],
    [Number.NaN, T, Number.NEGATIVE_INFINITY],
    [2 ** 53, 2 ** 53 + 2, 2 ** 53 - 2],
  ];
  for (const [requestTime, responseTime, expiresAt] of cases) {
    const c = new CompactMeta(plain({ requestTime, responseTime, expiresAt }), 0);
    assertEquals([c.requestTime, c.responseTime, c.expiresAt], [requestTime, responseTime, expiresAt]);
    c.expiresAt = responseTime + 10;
    c.requestTime = T + 1e12 + 0.5;
    assertEquals([c.requestTime, c.expiresAt], [T + 1e12 + 0.5, responseTime + 10]);
    c.requestTime = requestTime;
    assertEquals(c.requestTime, requestTime);
  }
});

Deno.test("CompactMeta shares one frozen empty vary and keeps a non-empty one", () => {
  const a = new CompactMeta(plain(), 0), b = new CompactMeta(plain(), 0);
  assert(a.vary === NO_VARY);
  assert(b.vary === NO_VARY);
  assert(Object.isFrozen(NO_VARY));
  assertThrows(() => (a.vary as string[]).push("x"), TypeError);
  assertEquals(new CompactMeta(plain({ vary: ["accept", "cookie"] }), 0).vary, ["accept", "cookie"]);
});

Deno.test("storedHeaderList() returns a plain record's own list", () => {
  const m = plain();
  assert(storedHeaderList(m) === m.headers);
});
