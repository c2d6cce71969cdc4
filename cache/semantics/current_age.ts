/**
 * Age of a stored response (RFC 9111 §4.2.3) and the `Age` field value (§5.1).
 *
 * ```
 * apparent_age          = max(0, response_time − date_value)
 * response_delay        = response_time − request_time
 * corrected_age_value   = age_value + response_delay
 * corrected_initial_age = max(apparent_age, corrected_age_value)
 * resident_time         = now − response_time
 * current_age           = corrected_initial_age + resident_time
 * ```
 *
 * `date_value` is the response's `Date` (the response time when absent or invalid, giving an
 * apparent age of 0); `age_value` its `Age` (0 when absent or invalid).
 *
 * @module
 */

import { MAX_DELTA_SECONDS, parseDeltaSeconds } from "./cache_control.ts";
import { getHeader, type HeaderInput } from "./header_getter.ts";
import { parseHttpDate } from "./http_date.ts";

/** The parts of a stored response the age calculation needs (a `StoredMeta` fits). */
export interface AgeInput {
  /** Response header fields as received (with `Date` and `Age`). */
  headers: HeaderInput;
  /** When the request was sent, ms since epoch. */
  requestTime: number;
  /** When the response arrived, ms since epoch. */
  responseTime: number;
}

/**
 * Parses an `Age` field value. When several values were received (a list) the first is used;
 * an invalid value is ignored (0).
 *
 * @param value the `Age` field value or `null`
 * @returns age in seconds
 */
export function parseAgeSeconds(value: string | null): number {
  if (value === null) return 0;
  const comma = value.indexOf(",");
  return parseDeltaSeconds((comma < 0 ? value : value.slice(0, comma)).trim()) ?? 0;
}

/**
 * The corrected initial age of a response when it was received (RFC 9111 §4.2.3), in ms.
 *
 * @param meta headers, request time and response time
 * @returns `max(apparent_age, age_value + response_delay)`
 */
export function correctedInitialAgeMs(meta: AgeInput): number {
  const date = parseHttpDate(getHeader(meta.headers, "date"));
  const apparentAge = date === undefined ? 0 : Math.max(0, meta.responseTime - date);
  const responseDelay = Math.max(0, meta.responseTime - meta.requestTime);
  const correctedAgeValue = parseAgeSeconds(getHeader(meta.headers, "age")) * 1000 + responseDelay;
  return Math.max(apparentAge, correctedAgeValue);
}

/**
 * The current age of a stored response (RFC 9111 §4.2.3), in milliseconds.
 *
 * @param meta headers, request time and response time of the stored response
 * @param now current time, ms since epoch
 * @returns `corrected_initial_age + (now − response_time)`, never negative
 * @example
 * ```ts
 * // Sent at 0, answered at 2 s with "Age: 10" and no Date: 10 s + 2 s delay, now 5 s later → 17 s.
 * currentAgeMs({ headers: [["age", "10"]], requestTime: 0, responseTime: 2000 }, 7000); // 17000
 * ```
 */
export function currentAgeMs(meta: AgeInput, now: number): number {
  return correctedInitialAgeMs(meta) + Math.max(0, now - meta.responseTime);
}

/**
 * The `Age` field value to send with a response served from cache (RFC 9111 §5.1): whole seconds,
 * rounded down, capped at 2^31.
 *
 * @param ageMs current age in ms
 * @returns e.g. `"17"`
 */
export function ageHeaderValue(ageMs: number): string {
  const s = Math.floor(Math.max(0, ageMs) / 1000);
  return String(s > MAX_DELTA_SECONDS || !Number.isFinite(s) ? MAX_DELTA_SECONDS : s);
}
