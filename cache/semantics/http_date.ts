/**
 * HTTP-date parsing and formatting (RFC 9110 §5.6.7).
 *
 * Three formats are accepted on input, only IMF-fixdate is generated:
 *
 * ```
 * IMF-fixdate  Sun, 06 Nov 1994 08:49:37 GMT
 * rfc850-date  Sunday, 06-Nov-94 08:49:37 GMT   (obsolete; two-digit year)
 * asctime-date Sun Nov  6 08:49:37 1994         (obsolete; day padded with a space)
 * ```
 *
 * @module
 */

import { Memo } from "./_memo.ts";

const MONTHS: Record<string, number> = {
  Jan: 0,
  Feb: 1,
  Mar: 2,
  Apr: 3,
  May: 4,
  Jun: 5,
  Jul: 6,
  Aug: 7,
  Sep: 8,
  Oct: 9,
  Nov: 10,
  Dec: 11,
};
const DAYS_IN_MONTH = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

const IMF_FIXDATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), (\d{2}) ([A-Z][a-z]{2}) (\d{4}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const RFC850_DATE =
  /^(?:Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|Sunday), (\d{2})-([A-Z][a-z]{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2}) GMT$/;
const ASCTIME_DATE = /^(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun) ([A-Z][a-z]{2}) ([ \d]\d) (\d{2}):(\d{2}):(\d{2}) (\d{4})$/;

const YEAR_MS = 365.2425 * 86_400_000;

function build(year: number, mon: string, day: number, h: number, m: number, s: number): number | undefined {
  const month = MONTHS[mon];
  if (month === undefined || day < 1 || day > DAYS_IN_MONTH[month] || h > 23 || m > 59 || s > 60) return undefined;
  // A leap second (:60) is allowed by the grammar; it is taken as the next second.
  const ms = Date.UTC(year, month, day, h, m, s);
  // Date.UTC rolls Feb 29 of a common year over to Mar 1: reject it.
  if (new Date(ms - (s === 60 ? 1000 : 0)).getUTCDate() !== day) return undefined;
  return ms;
}

/**
 * Parses an HTTP-date in any of the three formats of RFC 9110 §5.6.7. Leading and trailing
 * whitespace is ignored; anything else malformed gives `undefined` (callers treat an invalid
 * `Expires` as "already expired", RFC 9111 §5.3).
 *
 * Two-digit rfc850 years are resolved as RFC 9110 §5.6.7 says: a date that appears to be more
 * than 50 years in the future is taken to be in the most recent past year with the same last
 * two digits. Without `nowMs` the reference year is taken from the parsed value itself with the
 * usual POSIX pivot (`70`-`99` → 19xx, `00`-`69` → 20xx). Results are memoised by value when
 * `nowMs` is not given (a hot object's `Date` and `Last-Modified` are parsed on every hit).
 *
 * @param value the field value, e.g. `Sun, 06 Nov 1994 08:49:37 GMT`
 * @param nowMs current time (ms since epoch), only needed for rfc850 two-digit years
 * @returns milliseconds since the epoch, or `undefined` when `value` is not an HTTP-date
 * @example
 * ```ts
 * parseHttpDate("Sun, 06 Nov 1994 08:49:37 GMT"); // 784111777000
 * ```
 */
export function parseHttpDate(value: string | null | undefined, nowMs?: number): number | undefined {
  if (value == null) return undefined;
  if (nowMs !== undefined) return parse(value, nowMs);
  const hit = MEMO.get(value);
  if (hit !== undefined) return Number.isNaN(hit) ? undefined : hit;
  const ms = parse(value, undefined);
  MEMO.set(value, ms ?? INVALID);
  return ms;
}

const INVALID = Number.NaN;
const MEMO = new Memo<number>(1024);

function parse(value: string, nowMs: number | undefined): number | undefined {
  const s = value.trim();
  let m = IMF_FIXDATE.exec(s);
  if (m !== null) return build(+m[3], m[2], +m[1], +m[4], +m[5], +m[6]);
  m = RFC850_DATE.exec(s);
  if (m !== null) {
    const yy = +m[3];
    let year: number;
    if (nowMs === undefined) {
      year = yy >= 70 ? 1900 + yy : 2000 + yy;
    } else {
      const nowYear = new Date(nowMs).getUTCFullYear();
      year = Math.floor(nowYear / 100) * 100 + yy;
      const ms = build(year, m[2], +m[1], +m[4], +m[5], +m[6]);
      if (ms !== undefined && ms - nowMs > 50 * YEAR_MS) year -= 100;
    }
    return build(year, m[2], +m[1], +m[4], +m[5], +m[6]);
  }
  m = ASCTIME_DATE.exec(s);
  if (m !== null) return build(+m[6], m[1], +m[2].trim(), +m[3], +m[4], +m[5]);
  return undefined;
}

let cachedSecond = Number.NaN;
let cachedString = "";

/**
 * Formats a time as an IMF-fixdate (RFC 9110 §5.6.7), e.g. `Sun, 06 Nov 1994 08:49:37 GMT`.
 * Sub-second parts are truncated. The string of the last second formatted is memoised, so the
 * hit path (one `Date` per response) costs a comparison most of the time.
 *
 * @param ms milliseconds since the epoch
 * @returns the IMF-fixdate string
 * @throws {RangeError} when `ms` is not a finite time
 */
export function formatHttpDate(ms: number): string {
  const second = Math.floor(ms / 1000);
  if (second === cachedSecond) return cachedString;
  if (!Number.isFinite(second)) throw new RangeError(`Cannot format HTTP date: invalid time '${ms}'`);
  const s = new Date(second * 1000).toUTCString();
  cachedSecond = second;
  cachedString = s;
  return s;
}
