import { strictEqual, throws } from "node:assert/strict";
import { formatHttpDate, parseHttpDate } from "./http_date.ts";

// RFC 9110 §5.6.7 example: the same instant in the three formats.
const SUN_06_NOV_1994 = Date.UTC(1994, 10, 6, 8, 49, 37);

const parseCases: { name: string; input: string | null; now?: number; want: number | undefined }[] = [
  { name: "parses the RFC 9110 IMF-fixdate example", input: "Sun, 06 Nov 1994 08:49:37 GMT", want: SUN_06_NOV_1994 },
  { name: "parses the obsolete RFC 850 example", input: "Sunday, 06-Nov-94 08:49:37 GMT", want: SUN_06_NOV_1994 },
  { name: "parses the obsolete asctime example", input: "Sun Nov  6 08:49:37 1994", want: SUN_06_NOV_1994 },
  {
    name: "parses asctime with a two-digit day",
    input: "Thu Nov 26 13:42:42 2026",
    want: Date.UTC(2026, 10, 26, 13, 42, 42),
  },
  { name: "ignores surrounding whitespace", input: "  Sun, 06 Nov 1994 08:49:37 GMT ", want: SUN_06_NOV_1994 },
  {
    name: "resolves rfc850 two-digit years without a clock with the 70 pivot",
    input: "Thursday, 01-Jan-37 00:00:00 GMT",
    want: Date.UTC(2037, 0, 1),
  },
  {
    name: "puts an rfc850 date more than 50 years ahead into the past century",
    input: "Friday, 01-Jan-99 00:00:00 GMT",
    now: Date.UTC(2026, 0, 1),
    want: Date.UTC(1999, 0, 1),
  },
  {
    name: "keeps an rfc850 date less than 50 years ahead in this century",
    input: "Sunday, 01-Jan-60 00:00:00 GMT",
    now: Date.UTC(2026, 0, 1),
    want: Date.UTC(2060, 0, 1),
  },
  { name: "accepts Feb 29 of a leap year", input: "Thu, 29 Feb 2024 00:00:00 GMT", want: Date.UTC(2024, 1, 29) },
  { name: "rejects Feb 29 of a common year", input: "Sun, 29 Feb 2026 00:00:00 GMT", want: undefined },
  { name: "rejects Expires: 0", input: "0", want: undefined },
  { name: "rejects Expires: -1", input: "-1", want: undefined },
  { name: "rejects an empty value", input: "", want: undefined },
  { name: "rejects null", input: null, want: undefined },
  { name: "rejects a non-GMT zone", input: "Sun, 06 Nov 1994 08:49:37 PST", want: undefined },
  { name: "rejects a lower-case month", input: "Sun, 06 nov 1994 08:49:37 GMT", want: undefined },
  { name: "rejects an unknown month", input: "Sun, 06 Foo 1994 08:49:37 GMT", want: undefined },
  { name: "rejects hour 24", input: "Sun, 06 Nov 1994 24:00:00 GMT", want: undefined },
  { name: "rejects day 32", input: "Sun, 32 Dec 1994 00:00:00 GMT", want: undefined },
  { name: "rejects a one-digit day in IMF-fixdate", input: "Sun, 6 Nov 1994 08:49:37 GMT", want: undefined },
  { name: "rejects an ISO 8601 date", input: "1994-11-06T08:49:37Z", want: undefined },
  {
    name: "takes a leap second as the next second",
    input: "Sat, 31 Dec 2016 23:59:60 GMT",
    want: Date.UTC(2017, 0, 1),
  },
];

for (const c of parseCases) {
  Deno.test(`parseHttpDate() ${c.name}`, () => {
    strictEqual(parseHttpDate(c.input, c.now), c.want);
  });
}

Deno.test("formatHttpDate() produces the IMF-fixdate of RFC 9110", () => {
  strictEqual(formatHttpDate(SUN_06_NOV_1994), "Sun, 06 Nov 1994 08:49:37 GMT");
});

Deno.test("formatHttpDate() truncates milliseconds and round-trips through parseHttpDate()", () => {
  for (const ms of [0, 999, 1_700_000_000_123, Date.UTC(2026, 1, 28, 23, 59, 59, 999)]) {
    const s = formatHttpDate(ms);
    strictEqual(parseHttpDate(s), Math.floor(ms / 1000) * 1000);
  }
});

Deno.test("formatHttpDate() returns the memoised string within one second and a new one after", () => {
  const a = formatHttpDate(1_700_000_000_000);
  strictEqual(formatHttpDate(1_700_000_000_999), a);
  strictEqual(formatHttpDate(1_700_000_001_000), "Tue, 14 Nov 2023 22:13:21 GMT");
  strictEqual(formatHttpDate(1_700_000_000_500), a);
});

Deno.test("formatHttpDate() rejects a non-finite time", () => {
  throws(() => formatHttpDate(Number.NaN), RangeError);
});

Deno.test("parseHttpDate() gives the same answers from its memo", () => {
  for (let i = 0; i < 3; i++) {
    strictEqual(parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"), SUN_06_NOV_1994);
    strictEqual(parseHttpDate("garbage"), undefined);
  }
});
