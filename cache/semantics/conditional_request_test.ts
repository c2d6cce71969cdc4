import { deepStrictEqual, strictEqual } from "node:assert/strict";
import { conditionalHeadersFor, evaluateClientConditional, notModifiedHeaders } from "./conditional_request.ts";
import type { HeaderList } from "./header_getter.ts";
import { formatHttpDate } from "./http_date.ts";

const T0 = Date.UTC(2026, 0, 1);
const at = (s: number) => formatHttpDate(T0 + s * 1000);

Deno.test("conditionalHeadersFor() sends If-None-Match and If-Modified-Since from ETag and Last-Modified", () => {
  deepStrictEqual(conditionalHeadersFor({ headers: [["etag", '"v1"'], ["last-modified", at(-60)]] }), [
    ["if-none-match", '"v1"'],
    ["if-modified-since", at(-60)],
  ]);
});

Deno.test("conditionalHeadersFor() sends only If-Modified-Since without an ETag", () => {
  deepStrictEqual(conditionalHeadersFor({ headers: [["last-modified", at(-60)]] }), [["if-modified-since", at(-60)]]);
});

Deno.test("conditionalHeadersFor() lists the ETags of every stored variant", () => {
  const metas = [{ headers: [["etag", 'W/"a"']] as HeaderList }, { headers: [["etag", '"b"']] as HeaderList }, {
    headers: [["etag", 'W/"a"']] as HeaderList,
  }];
  deepStrictEqual(conditionalHeadersFor(metas), [["if-none-match", 'W/"a", "b"']]);
});

Deno.test("conditionalHeadersFor() sends nothing without validators or with invalid ones", () => {
  deepStrictEqual(conditionalHeadersFor({ headers: [["etag", "unquoted"], ["last-modified", "yesterday"]] }), []);
  deepStrictEqual(conditionalHeadersFor({ headers: new Headers() }), []);
});

const STORED: HeaderList = [["etag", '"v1"'], ["last-modified", at(-100)], ["date", at(0)]];
const WEAK: HeaderList = [["etag", 'W/"v1"'], ["last-modified", at(-100)]];

const cases: {
  name: string;
  method?: string;
  req: HeaderList;
  stored?: HeaderList;
  status?: number;
  want: 304 | 412 | undefined;
}[] = [
  { name: "serves normally without preconditions", req: [], want: undefined },
  { name: "answers 304 when If-None-Match matches", req: [["if-none-match", '"v1"']], want: 304 },
  { name: "answers 304 when any If-None-Match member matches", req: [["if-none-match", '"x", "v1"']], want: 304 },
  { name: "compares If-None-Match weakly", req: [["if-none-match", 'W/"v1"']], want: 304 },
  {
    name: "compares If-None-Match weakly against a weak stored ETag",
    req: [["if-none-match", '"v1"']],
    stored: WEAK,
    want: 304,
  },
  { name: "answers 304 for If-None-Match: *", req: [["if-none-match", "*"]], want: 304 },
  { name: "serves when If-None-Match does not match", req: [["if-none-match", '"v2"']], want: undefined },
  { name: "answers 304 to HEAD", method: "HEAD", req: [["if-none-match", '"v1"']], want: 304 },
  {
    name: "answers 412 to a matching If-None-Match on other methods",
    method: "DELETE",
    req: [["if-none-match", '"v1"']],
    want: 412,
  },
  { name: "answers 304 when not modified since If-Modified-Since", req: [["if-modified-since", at(-100)]], want: 304 },
  { name: "serves when modified after If-Modified-Since", req: [["if-modified-since", at(-101)]], want: undefined },
  {
    name: "ignores If-Modified-Since when If-None-Match is present",
    req: [["if-none-match", '"v2"'], ["if-modified-since", at(0)]],
    want: undefined,
  },
  { name: "ignores an invalid If-Modified-Since", req: [["if-modified-since", "yesterday"]], want: undefined },
  {
    name: "ignores an If-Modified-Since with two dates",
    req: [["if-modified-since", `${at(0)}, ${at(0)}`]],
    want: undefined,
  },
  {
    name: "uses the stored Date for If-Modified-Since without a stored Last-Modified",
    req: [["if-modified-since", at(0)]],
    stored: [["etag", '"v1"'], ["date", at(0)]],
    want: 304,
  },
  {
    name: "serves when the stored Date is after If-Modified-Since",
    req: [["if-modified-since", at(-1)]],
    stored: [["etag", '"v1"'], ["date", at(0)]],
    want: undefined,
  },
  {
    name: "ignores If-Modified-Since with neither Last-Modified, Date nor response time",
    req: [["if-modified-since", at(0)]],
    stored: [["etag", '"v1"']],
    want: undefined,
  },
  { name: "ignores If-Modified-Since for POST", method: "POST", req: [["if-modified-since", at(0)]], want: undefined },
  { name: "answers 412 when If-Match does not match", req: [["if-match", '"v2"']], want: 412 },
  { name: "passes If-Match on a strong match", req: [["if-match", '"v1"']], want: undefined },
  { name: "answers 412 for If-Match with a weak tag (strong comparison)", req: [["if-match", 'W/"v1"']], want: 412 },
  { name: "answers 412 for If-Match against a weak stored ETag", req: [["if-match", '"v1"']], stored: WEAK, want: 412 },
  { name: "passes If-Match: *", req: [["if-match", "*"]], want: undefined },
  {
    name: "checks If-Match before If-None-Match",
    req: [["if-match", '"v2"'], ["if-none-match", '"v1"']],
    want: 412,
  },
  {
    name: "continues to If-None-Match after a passing If-Match",
    req: [["if-match", '"v1"'], ["if-none-match", '"v1"']],
    want: 304,
  },
  { name: "answers 412 when modified after If-Unmodified-Since", req: [["if-unmodified-since", at(-101)]], want: 412 },
  { name: "passes If-Unmodified-Since when not modified", req: [["if-unmodified-since", at(-100)]], want: undefined },
  {
    name: "ignores If-Unmodified-Since when If-Match is present",
    req: [["if-match", '"v1"'], ["if-unmodified-since", at(-200)]],
    want: undefined,
  },
  {
    name: "ignores preconditions for a stored 404",
    req: [["if-none-match", "*"]],
    status: 404,
    want: undefined,
  },
];

for (const c of cases) {
  Deno.test(`evaluateClientConditional() ${c.name}`, () => {
    const got = evaluateClientConditional(c.method ?? "GET", c.req, c.stored ?? STORED, c.status ?? 200);
    strictEqual(got, c.want);
    strictEqual(
      evaluateClientConditional(
        c.method ?? "GET",
        new Headers(c.req),
        new Headers(c.stored ?? STORED),
        c.status ?? 200,
      ),
      c.want,
    );
  });
}

Deno.test("evaluateClientConditional() falls back to the response time for If-Modified-Since", () => {
  strictEqual(evaluateClientConditional("GET", [["if-modified-since", at(0)]], [], 200, { responseTime: T0 }), 304);
  strictEqual(
    evaluateClientConditional("GET", [["if-modified-since", at(0)]], [], 200, { responseTime: T0 + 1000 }),
    undefined,
  );
});

Deno.test("notModifiedHeaders() keeps the fields RFC 9110 §15.4.5 lists", () => {
  const stored: HeaderList = [
    ["Content-Type", "text/html"],
    ["content-length", "42"],
    ["etag", '"v1"'],
    ["cache-control", "max-age=60"],
    ["vary", "accept-encoding"],
    ["last-modified", at(-100)],
    ["expires", at(60)],
    ["content-location", "/a.html"],
    ["date", at(0)],
  ];
  deepStrictEqual(notModifiedHeaders(stored), [
    ["etag", '"v1"'],
    ["cache-control", "max-age=60"],
    ["vary", "accept-encoding"],
    ["expires", at(60)],
    ["content-location", "/a.html"],
    ["date", at(0)],
  ]);
});

Deno.test("notModifiedHeaders() adds Last-Modified when there is no ETag", () => {
  deepStrictEqual(notModifiedHeaders([["last-modified", at(-100)], ["content-length", "3"]]), [[
    "last-modified",
    at(-100),
  ]]);
});
