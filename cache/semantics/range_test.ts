import { deepStrictEqual, strictEqual } from "node:assert/strict";
import type { HeaderList } from "./header_getter.ts";
import { formatHttpDate } from "./http_date.ts";
import { contentRangeHeader, parseRange, type RangeDecision } from "./range.ts";

const T0 = Date.UTC(2026, 0, 1);
const at = (s: number) => formatHttpDate(T0 + s * 1000);
const STORED: HeaderList = [["etag", '"v1"'], ["last-modified", at(-100)], ["date", at(0)]];
const FULL: RangeDecision = { kind: "full" };
const UNSAT: RangeDecision = { kind: "unsatisfiable" };
const part = (start: number, end: number): RangeDecision => ({ kind: "partial", start, end });

// Examples from RFC 9110 §14.1.2 use a 10000-byte representation.
const cases: {
  name: string;
  range: string | null;
  ifRange?: string;
  length?: number;
  stored?: HeaderList;
  want: RangeDecision;
}[] = [
  { name: "sends the full response without Range", range: null, want: FULL },
  { name: "serves the first 500 bytes (RFC 9110 example)", range: "bytes=0-499", want: part(0, 499) },
  { name: "serves the second 500 bytes (RFC 9110 example)", range: "bytes=500-999", want: part(500, 999) },
  { name: "serves the final 500 bytes by suffix (RFC 9110 example)", range: "bytes=-500", want: part(9500, 9999) },
  { name: "serves the final 500 bytes by offset (RFC 9110 example)", range: "bytes=9500-", want: part(9500, 9999) },
  { name: "serves the first byte only (RFC 9110 example)", range: "bytes=0-0", want: part(0, 0) },
  { name: "serves the last byte only (RFC 9110 example)", range: "bytes=-1", want: part(9999, 9999) },
  { name: "clamps a last-pos past the end", range: "bytes=9000-20000", want: part(9000, 9999) },
  { name: "serves everything for a suffix longer than the object", range: "bytes=-20000", want: part(0, 9999) },
  { name: "accepts whitespace and a differently cased unit", range: "Bytes = 1 - 2", want: part(1, 2) },
  { name: "answers 416 for a first-pos at the end", range: "bytes=10000-", want: UNSAT },
  { name: "answers 416 for a first-pos past the end", range: "bytes=20000-30000", want: UNSAT },
  { name: "answers 416 for a zero-length suffix", range: "bytes=-0", want: UNSAT },
  { name: "answers 416 for any range of an empty object", range: "bytes=0-", length: 0, want: UNSAT },
  { name: "answers 416 for a suffix of an empty object", range: "bytes=-5", length: 0, want: UNSAT },
  { name: "sends the full response for several ranges (no multipart)", range: "bytes=0-1,5-6", want: FULL },
  { name: "ignores an inverted range", range: "bytes=5-1", want: FULL },
  { name: "ignores another unit", range: "items=0-1", want: FULL },
  { name: "ignores a malformed range", range: "bytes=abc", want: FULL },
  { name: "ignores bytes=-", range: "bytes=-", want: FULL },
  {
    name: "serves the range when If-Range matches the ETag strongly",
    range: "bytes=0-9",
    ifRange: '"v1"',
    want: part(0, 9),
  },
  { name: "sends the full response when If-Range names another ETag", range: "bytes=0-9", ifRange: '"v2"', want: FULL },
  { name: "sends the full response for a weak If-Range", range: "bytes=0-9", ifRange: 'W/"v1"', want: FULL },
  {
    name: "sends the full response when the stored ETag is weak",
    range: "bytes=0-9",
    ifRange: '"v1"',
    stored: [["etag", 'W/"v1"']],
    want: FULL,
  },
  {
    name: "serves the range when If-Range equals a strong Last-Modified",
    range: "bytes=0-9",
    ifRange: at(-100),
    want: part(0, 9),
  },
  { name: "sends the full response when the If-Range date differs", range: "bytes=0-9", ifRange: at(-99), want: FULL },
  {
    name: "sends the full response when Last-Modified is weak (less than 1 s before Date)",
    range: "bytes=0-9",
    ifRange: at(0),
    stored: [["last-modified", at(0)], ["date", at(0)]],
    want: FULL,
  },
  {
    name: "sends the full response instead of 416 when If-Range fails",
    range: "bytes=20000-",
    ifRange: '"v2"',
    want: FULL,
  },
];

for (const c of cases) {
  Deno.test(`parseRange() ${c.name}`, () => {
    deepStrictEqual(parseRange(c.range, c.ifRange ?? null, { headers: c.stored ?? STORED }, c.length ?? 10000), c.want);
  });
}

Deno.test("contentRangeHeader() formats 206 and 416 values", () => {
  strictEqual(contentRangeHeader({ start: 0, end: 499 }, 1234), "bytes 0-499/1234");
  strictEqual(contentRangeHeader(null, 1234), "bytes */1234");
});
