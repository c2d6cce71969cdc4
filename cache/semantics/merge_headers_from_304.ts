/**
 * Freshening stored responses with a 304 (RFC 9111 §3.2, §4.3.3, §4.3.4).
 *
 * Selecting the stored responses a 304 applies to (§4.3.4), given all stored variants of the URL:
 *
 * 1. the 304 has a strong ETag → every stored response with that strong ETag;
 * 2. else it has a weak ETag or a `Last-Modified` → the most recent stored response (largest
 *    `responseTime`) whose ETag matches weakly or, without ETags, whose `Last-Modified` is equal;
 * 3. else no validator → the only stored response, if there is exactly one and it has none either.
 *
 * Updating the selected responses' headers (§3.2): each field of the 304 replaces the stored
 * field of that name (all its lines), in place; new fields are appended. Not taken from the 304:
 * - hop-by-hop fields and those its `Connection` names (§3.1);
 * - `Content-Length`, `Content-Encoding`, `Content-Range` and `Transfer-Encoding`, which describe
 *   the stored body (§3.2 "the Content-Length header field" and fields "the cache's stored response
 *   depends upon"; a 304 describes no body);
 * - fields named by a qualified `no-cache=`/`private=` of the 304, which are not stored (§3.1).
 * A stored `Age` is removed when the 304 has none: the freshened response is as old as the 304
 * (its request and response times replace the stored ones), not as old as the original answer.
 * A stored `Date` is replaced by the 304's, or by `responseTime` when the 304 has none (RFC 9110
 * §6.6.1), so `apparent_age` is computed against the new exchange.
 *
 * @module
 */

import { parseCacheControl } from "./cache_control.ts";
import { type EntityTag, parseEntityTag, strongMatch, weakMatch } from "./entity_tag.ts";
import { getHeader, type HeaderInput, type HeaderList } from "./header_getter.ts";
import { hopByHopNames } from "./hop_by_hop.ts";
import { formatHttpDate, parseHttpDate } from "./http_date.ts";

const BODY_FIELDS: ReadonlySet<string> = new Set([
  "content-length",
  "content-encoding",
  "content-range",
  "transfer-encoding",
]);

/** Options of {@link mergeHeadersFrom304}. */
export interface Merge304Options {
  /** When the 304 arrived (ms since epoch); used as `Date` when the 304 has none. */
  responseTime?: number;
}

/**
 * Merges the header fields of a 304 into a stored response's (see the module doc).
 *
 * @param storedHeaders the stored response's header list
 * @param notModifiedHeaders the 304's header list (as received; hop-by-hop fields are dropped here)
 * @param opts the 304's response time, for a missing `Date`
 * @returns the new header list (lower-case names); recompute `vary`/`variant`/`expiresAt` from it
 * @example
 * ```ts
 * mergeHeadersFrom304([["etag", '"a"'], ["cache-control", "max-age=1"], ["content-length", "5"]],
 *   [["cache-control", "max-age=60"], ["content-length", "0"], ["date", "Sun, 06 Nov 1994 08:49:37 GMT"]]);
 * // [["etag", '"a"'], ["cache-control", "max-age=60"], ["content-length", "5"], ["date", "Sun, 06 Nov 1994 08:49:37 GMT"]]
 * ```
 */
export function mergeHeadersFrom304(
  storedHeaders: readonly (readonly [string, string])[],
  notModifiedHeaders: readonly (readonly [string, string])[],
  opts: Merge304Options = {},
): HeaderList {
  const skip = hopByHopNames(notModifiedHeaders);
  for (const f of BODY_FIELDS) skip.add(f);
  const cc = parseCacheControl(getHeader(notModifiedHeaders, "cache-control"));
  for (const f of cc.noCacheFields ?? []) skip.add(f);
  for (const f of cc.privateFields ?? []) skip.add(f);

  const updates = new Map<string, string[]>();
  for (const [n, v] of notModifiedHeaders) {
    const name = n.toLowerCase();
    if (skip.has(name)) continue;
    const lines = updates.get(name);
    if (lines === undefined) updates.set(name, [v]);
    else lines.push(v);
  }
  if (!updates.has("date") && opts.responseTime !== undefined) {
    updates.set("date", [formatHttpDate(opts.responseTime)]);
  }
  if (!updates.has("age")) updates.set("age", []);

  const out: HeaderList = [];
  const done = new Set<string>();
  for (const [n, v] of storedHeaders) {
    const name = n.toLowerCase();
    const lines = updates.get(name);
    if (lines === undefined) {
      out.push([name, v]);
    } else if (!done.has(name)) {
      done.add(name);
      for (const line of lines) out.push([name, line]);
    }
  }
  for (const [name, lines] of updates) {
    if (!done.has(name)) { for (const line of lines) out.push([name, line]); }
  }
  return out;
}

/** A stored response as {@link select304Targets} sees it (a `StoredMeta` fits). */
export interface Selectable {
  /** Stored response header fields. */
  headers: HeaderInput;
  /** When it was received, ms since epoch (the most recent weak match wins). */
  responseTime: number;
}

/**
 * Selects which stored responses a 304 freshens (RFC 9111 §4.3.4; see the module doc).
 *
 * A 304 that carries no validator at all, answering a conditional request the cache made from
 * one stored response's validators (`opts.validatedWith`), selects that response: the origin
 * answered 304 only because the entity-tag or date it was sent matched (RFC 9110 §13.1.2, §13.1.3),
 * so it speaks of that response even though it omitted the ETag it should have repeated
 * (RFC 9110 §15.4.5). A 304 carrying a different validator still selects nothing.
 *
 * @param stored all stored responses (variants) of the request's URL
 * @param notModifiedHeaders the 304's header fields
 * @param opts.validatedWith the stored response whose validators the cache's own conditional
 *   request carried (not for a client's conditional request passed through)
 * @returns the responses to update (possibly none: then the caller must refetch without
 *   conditions, §4.3.3)
 */
export function select304Targets<T extends Selectable>(
  stored: readonly T[],
  notModifiedHeaders: HeaderInput,
  opts: { validatedWith?: T } = {},
): T[] {
  const tag = parseEntityTag(getHeader(notModifiedHeaders, "etag"));
  const lm = parseHttpDate(getHeader(notModifiedHeaders, "last-modified"));
  const tagOf = (m: T): EntityTag | undefined => parseEntityTag(getHeader(m.headers, "etag"));
  if (tag !== undefined && !tag.weak) {
    return stored.filter((m) => {
      const t = tagOf(m);
      return t !== undefined && strongMatch(t, tag);
    });
  }
  if (tag !== undefined || lm !== undefined) {
    let best: T | undefined;
    for (const m of stored) {
      const t = tagOf(m);
      const match = tag !== undefined
        ? t !== undefined && weakMatch(t, tag)
        : t === undefined && parseHttpDate(getHeader(m.headers, "last-modified")) === lm;
      if (match && (best === undefined || m.responseTime > best.responseTime)) best = m;
    }
    return best === undefined ? [] : [best];
  }
  if (
    stored.length === 1 && getHeader(stored[0].headers, "etag") === null &&
    getHeader(stored[0].headers, "last-modified") === null
  ) {
    return [stored[0]];
  }
  const asked = opts.validatedWith;
  return asked !== undefined && stored.includes(asked) ? [asked] : [];
}
