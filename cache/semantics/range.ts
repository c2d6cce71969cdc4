/**
 * Byte ranges served from a complete stored object (RFC 9110 §14).
 *
 * ```
 * Range          = "bytes=" range-spec
 * range-spec     = first-pos "-" [ last-pos ]      e.g. bytes=0-499, bytes=500-
 *                / "-" suffix-length               e.g. bytes=-500 (the last 500 bytes)
 * ```
 *
 * Choices (RFC 9110 §14.2 lets a server ignore a `Range` field):
 * - Only single ranges are served as 206; a request for several ranges gets the full 200
 *   (no multipart/byteranges), as nginx does for overlapping/complex sets.
 * - A malformed `Range`, another unit than `bytes`, or `first-pos > last-pos` → full response.
 * - Unsatisfiable (first-pos ≥ length, or a zero suffix, or any range of an empty object) → 416
 *   with `Content-Range: bytes *\/length`.
 * - `If-Range` (§13.1.5): an entity-tag must match the stored ETag strongly; a date must equal
 *   the stored `Last-Modified` exactly and that must be a strong validator (at least one second
 *   before the stored `Date`, §8.8.2.2). Otherwise the full response is sent.
 *
 * @module
 */

import { parseEntityTag, strongMatch } from "./entity_tag.ts";
import { getHeader, type HeaderInput } from "./header_getter.ts";
import { parseHttpDate } from "./http_date.ts";

/** What to send for a request's `Range`. */
export type RangeDecision =
  /** Send the whole object (200). */
  | { kind: "full" }
  /** Send bytes `start`…`end` (inclusive) as 206 with {@link contentRangeHeader}. */
  | { kind: "partial"; start: number; end: number }
  /** Send 416 with `Content-Range: bytes *\/length`. */
  | { kind: "unsatisfiable" };

const FULL: RangeDecision = { kind: "full" };
const SINGLE = /^bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i;

/**
 * Tells whether `If-Range` lets the range be served (RFC 9110 §13.1.5).
 *
 * @param ifRange the `If-Range` value
 * @param storedHeaders the stored response's header fields
 */
export function ifRangeMatches(ifRange: string, storedHeaders: HeaderInput): boolean {
  const v = ifRange.trim();
  if (v.startsWith('"') || v.startsWith("W/")) {
    const want = parseEntityTag(v);
    const have = parseEntityTag(getHeader(storedHeaders, "etag"));
    return want !== undefined && have !== undefined && strongMatch(want, have);
  }
  const date = parseHttpDate(v);
  const lm = parseHttpDate(getHeader(storedHeaders, "last-modified"));
  const served = parseHttpDate(getHeader(storedHeaders, "date"));
  return date !== undefined && lm !== undefined && served !== undefined && date === lm && served - lm >= 1000;
}

/**
 * Decides how to answer a `Range` request from a complete stored object (see the module doc).
 *
 * @param rangeHeader the request's `Range`, or `null`
 * @param ifRangeHeader the request's `If-Range`, or `null`
 * @param meta the stored response (its headers, for `If-Range`)
 * @param length the stored body length in bytes
 * @returns full, partial with inclusive `start`/`end`, or unsatisfiable
 * @example
 * ```ts
 * parseRange("bytes=-500", null, { headers: [] }, 10000); // { kind: "partial", start: 9500, end: 9999 }
 * ```
 */
export function parseRange(
  rangeHeader: string | null,
  ifRangeHeader: string | null,
  meta: { headers: HeaderInput },
  length: number,
): RangeDecision {
  if (rangeHeader === null) return FULL;
  const m = SINGLE.exec(rangeHeader);
  if (m === null) return FULL;
  const [, first, last] = m;
  let start: number;
  let end: number;
  if (first === "") {
    if (last === "") return FULL;
    const suffix = Number(last);
    if (suffix === 0 || length === 0) return ifRangeOk(ifRangeHeader, meta) ? { kind: "unsatisfiable" } : FULL;
    start = Math.max(0, length - suffix);
    end = length - 1;
  } else {
    start = Number(first);
    if (last !== "" && Number(last) < start) return FULL;
    if (start >= length) return ifRangeOk(ifRangeHeader, meta) ? { kind: "unsatisfiable" } : FULL;
    end = last === "" ? length - 1 : Math.min(Number(last), length - 1);
  }
  if (!ifRangeOk(ifRangeHeader, meta)) return FULL;
  return { kind: "partial", start, end };
}

function ifRangeOk(ifRange: string | null, meta: { headers: HeaderInput }): boolean {
  return ifRange === null || ifRangeMatches(ifRange, meta.headers);
}

/**
 * The `Content-Range` value of a 206 or 416 (RFC 9110 §14.4).
 *
 * @param range the partial range sent, or `null` for a 416
 * @param length the complete length in bytes
 * @returns e.g. `bytes 0-499/1234`, or `bytes *\/1234` for a 416
 */
export function contentRangeHeader(range: { start: number; end: number } | null, length: number): string {
  return range === null ? `bytes */${length}` : `bytes ${range.start}-${range.end}/${length}`;
}
