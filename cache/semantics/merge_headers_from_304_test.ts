import { deepStrictEqual } from "node:assert/strict";
import type { HeaderList } from "./header_getter.ts";
import { formatHttpDate } from "./http_date.ts";
import { mergeHeadersFrom304, select304Targets } from "./merge_headers_from_304.ts";

const T0 = Date.UTC(2026, 0, 1);
const at = (s: number) => formatHttpDate(T0 + s * 1000);

Deno.test("mergeHeadersFrom304() replaces stored fields in place and appends new ones", () => {
  const stored: HeaderList = [
    ["date", at(0)],
    ["cache-control", "max-age=60"],
    ["content-type", "text/plain"],
    ["etag", '"a"'],
  ];
  const res304: HeaderList = [["Date", at(100)], ["Cache-Control", "max-age=120"], ["X-New", "1"], ["etag", '"a"']];
  deepStrictEqual(mergeHeadersFrom304(stored, res304), [
    ["date", at(100)],
    ["cache-control", "max-age=120"],
    ["content-type", "text/plain"],
    ["etag", '"a"'],
    ["x-new", "1"],
  ]);
});

Deno.test("mergeHeadersFrom304() keeps Content-Length and the other body fields of the stored response", () => {
  const stored: HeaderList = [["content-length", "1234"], ["content-encoding", "gzip"], ["etag", '"a"']];
  const res304: HeaderList = [["content-length", "0"], ["content-encoding", "br"], ["transfer-encoding", "chunked"], [
    "content-range",
    "bytes 0-1/2",
  ]];
  deepStrictEqual(mergeHeadersFrom304(stored, res304), stored);
});

Deno.test("mergeHeadersFrom304() ignores hop-by-hop fields and those Connection names", () => {
  const stored: HeaderList = [["x-a", "old"], ["etag", '"a"']];
  const res304: HeaderList = [["connection", "x-a, keep-alive"], ["keep-alive", "timeout=5"], ["x-a", "new"], [
    "upgrade",
    "h2c",
  ]];
  deepStrictEqual(mergeHeadersFrom304(stored, res304), stored);
});

Deno.test("mergeHeadersFrom304() does not take fields named by qualified no-cache or private", () => {
  const stored: HeaderList = [["etag", '"a"']];
  const res304: HeaderList = [["cache-control", 'max-age=5, no-cache="set-cookie", private="x-user"'], [
    "set-cookie",
    "a=1",
  ], ["x-user", "bob"]];
  deepStrictEqual(mergeHeadersFrom304(stored, res304), [["etag", '"a"'], [
    "cache-control",
    'max-age=5, no-cache="set-cookie", private="x-user"',
  ]]);
});

Deno.test("mergeHeadersFrom304() replaces all lines of a repeated field", () => {
  const stored: HeaderList = [["link", "</a>"], ["x", "1"], ["link", "</b>"]];
  const res304: HeaderList = [["link", "</c>"], ["link", "</d>"]];
  deepStrictEqual(mergeHeadersFrom304(stored, res304), [["link", "</c>"], ["link", "</d>"], ["x", "1"]]);
});

Deno.test("mergeHeadersFrom304() drops a stored Age the 304 does not repeat", () => {
  deepStrictEqual(mergeHeadersFrom304([["age", "300"], ["etag", '"a"']], [["etag", '"a"']]), [["etag", '"a"']]);
  deepStrictEqual(mergeHeadersFrom304([["age", "300"]], [["age", "4"]]), [["age", "4"]]);
});

Deno.test("mergeHeadersFrom304() dates a 304 without Date by its response time", () => {
  deepStrictEqual(mergeHeadersFrom304([["date", at(0)]], [], { responseTime: T0 + 50_000 }), [["date", at(50)]]);
  deepStrictEqual(mergeHeadersFrom304([["date", at(0)]], []), [["date", at(0)]]);
});

const v = (headers: HeaderList, responseTime: number) => ({ headers, responseTime });

Deno.test("select304Targets() selects every stored response with the 304's strong ETag", () => {
  const a1 = v([["etag", '"a"']], 1);
  const a2 = v([["etag", '"a"']], 2);
  const b = v([["etag", '"b"']], 3);
  const w = v([["etag", 'W/"a"']], 4);
  deepStrictEqual(select304Targets([a1, b, a2, w], [["etag", '"a"']]), [a1, a2]);
});

Deno.test("select304Targets() selects the most recent weak match", () => {
  const w1 = v([["etag", 'W/"a"']], 1);
  const w2 = v([["etag", 'W/"a"']], 5);
  const s = v([["etag", '"a"']], 3);
  deepStrictEqual(select304Targets([w1, w2, s], [["etag", 'W/"a"']]), [w2]);
});

Deno.test("select304Targets() matches Last-Modified when nobody has an ETag", () => {
  const old = v([["last-modified", at(-10)]], 1);
  const cur = v([["last-modified", at(-5)]], 2);
  deepStrictEqual(select304Targets([old, cur], [["last-modified", at(-5)]]), [cur]);
});

Deno.test("select304Targets() takes the only stored response when neither has validators", () => {
  const only = v([["content-type", "x"]], 1);
  deepStrictEqual(select304Targets([only], []), [only]);
  deepStrictEqual(select304Targets([only, v([], 2)], []), []);
  deepStrictEqual(select304Targets([v([["etag", '"a"']], 1)], []), []);
});

Deno.test("select304Targets() selects nothing for an unknown validator (refetch needed)", () => {
  deepStrictEqual(select304Targets([v([["etag", '"a"']], 1)], [["etag", '"z"']]), []);
});

Deno.test("select304Targets() with validatedWith: a 304 without validators selects the response the cache validated", () => {
  const tagged = v([["etag", '"a"']], 1);
  const dated = v([["last-modified", at(-5)]], 2);
  const other = v([["etag", '"b"']], 3);
  const cases: {
    name: string;
    stored: ReturnType<typeof v>[];
    res: HeaderList;
    asked?: ReturnType<typeof v>;
    want: ReturnType<typeof v>[];
  }[] = [
    { name: "no validator, asked with an ETag", stored: [tagged, other], res: [], asked: tagged, want: [tagged] },
    {
      name: "no validator, asked with Last-Modified",
      stored: [dated],
      res: [["date", at(0)]],
      asked: dated,
      want: [dated],
    },
    { name: "no validator, not our own conditional", stored: [tagged], res: [], want: [] },
    {
      name: "another strong ETag still selects nothing",
      stored: [tagged],
      res: [["etag", '"z"']],
      asked: tagged,
      want: [],
    },
    {
      name: "another Last-Modified still selects nothing",
      stored: [dated],
      res: [["last-modified", at(-1)]],
      asked: dated,
      want: [],
    },
    { name: "the asked response is no longer stored", stored: [other], res: [], asked: tagged, want: [] },
  ];
  for (const c of cases) {
    deepStrictEqual(select304Targets(c.stored, c.res, { validatedWith: c.asked }), c.want, c.name);
  }
});
