/**
 * Conditional requests (RFC 9110 §13; RFC 9111 §4.3.1-§4.3.2): the validators a cache sends to
 * revalidate a stored response, and answering a client's own conditional request from cache.
 *
 * Client preconditions are evaluated in the order of RFC 9110 §13.2.2, and only when the stored
 * response is a 2xx (§13.2.1: preconditions are ignored for any other status):
 *
 * 1. `If-Match` present: false (no member strongly matches the stored ETag; `*` always matches a
 *    stored response) → 412.
 * 2. else `If-Unmodified-Since` (valid date, stored `Last-Modified` known): modified after it → 412.
 * 3. `If-None-Match` present: true when no member weakly matches (`*` matches anything); when false
 *    → 304 for GET/HEAD, 412 otherwise.
 * 4. else for GET/HEAD, `If-Modified-Since` (single valid date): the stored `Last-Modified` is not
 *    later → 304. Without a stored `Last-Modified` the stored `Date` is used, or else the time the
 *    response was received, as RFC 9111 §4.3.2 asks of a cache.
 *
 * @module
 */

import { type EntityTag, parseEntityTag, parseEntityTagList, strongMatch, weakMatch } from "./entity_tag.ts";
import { getHeader, type HeaderInput, type HeaderList } from "./header_getter.ts";
import { parseHttpDate } from "./http_date.ts";

/**
 * Header fields for revalidating stored responses with the origin (RFC 9111 §4.3.1):
 * `If-None-Match` listing the ETags of every given stored response (so the origin can pick any
 * of several variants), and `If-Modified-Since` with the `Last-Modified` of the first (most
 * relevant) one. Both are sent when both are known, as RFC 9110 §8.8.1 asks (an HTTP/1.1
 * origin ignores If-Modified-Since beside If-None-Match, §13.1.3; an older one uses it).
 *
 * @param metas one stored response or several (e.g. all variants of a URL), most relevant first
 * @returns `[["if-none-match", ...], ["if-modified-since", ...]]`, either or both omitted when no
 *   validator is stored (then a revalidation is a plain refetch)
 * @example
 * ```ts
 * conditionalHeadersFor({ headers: [["etag", '"v1"']] }); // [["if-none-match", '"v1"']]
 * ```
 */
export function conditionalHeadersFor(
  metas: { headers: HeaderInput } | readonly { headers: HeaderInput }[],
): HeaderList {
  const list = Array.isArray(metas) ? metas : [metas as { headers: HeaderInput }];
  const tags: string[] = [];
  let lastModified: string | undefined;
  for (const meta of list) {
    const etag = getHeader(meta.headers, "etag");
    const parsed = parseEntityTag(etag);
    if (parsed !== undefined) {
      const s = `${parsed.weak ? "W/" : ""}"${parsed.tag}"`;
      if (!tags.includes(s)) tags.push(s);
    }
    if (meta === list[0]) {
      const lm = getHeader(meta.headers, "last-modified");
      if (lm !== null && parseHttpDate(lm) !== undefined) lastModified = lm.trim();
    }
  }
  const out: HeaderList = [];
  if (tags.length > 0) out.push(["if-none-match", tags.join(", ")]);
  if (lastModified !== undefined) out.push(["if-modified-since", lastModified]);
  return out;
}

function storedTag(storedHeaders: HeaderInput): EntityTag | undefined {
  return parseEntityTag(getHeader(storedHeaders, "etag"));
}

/**
 * Evaluates a client's preconditions against a stored response (RFC 9110 §13.2.2; see the
 * module doc for the order).
 *
 * @param reqMethod request method (`GET`, `HEAD`, ...)
 * @param reqHeaders the client's request header fields
 * @param storedHeaders the stored response's header fields
 * @param storedStatus the stored response's status
 * @param opts `responseTime` of the stored response, the last resort for `If-Modified-Since`
 * @returns `304` (answer Not Modified, see {@link notModifiedHeaders}), `412` (Precondition
 *   Failed), or `undefined` (serve the stored response normally)
 */
export function evaluateClientConditional(
  reqMethod: string,
  reqHeaders: HeaderInput,
  storedHeaders: HeaderInput,
  storedStatus: number,
  opts: { responseTime?: number } = {},
): 304 | 412 | undefined {
  if (storedStatus < 200 || storedStatus > 299) return undefined;
  const getOrHead = reqMethod === "GET" || reqMethod === "HEAD";
  const ifMatch = getHeader(reqHeaders, "if-match");
  if (ifMatch !== null) {
    const list = parseEntityTagList(ifMatch);
    if (list !== "*") {
      const tag = storedTag(storedHeaders);
      if (tag === undefined || !list.some((t) => strongMatch(t, tag))) return 412;
    }
  } else {
    const ius = parseHttpDate(getHeader(reqHeaders, "if-unmodified-since"));
    // The stored Last-Modified is parsed only when there is something to compare it with.
    const lm = ius === undefined ? undefined : parseHttpDate(getHeader(storedHeaders, "last-modified"));
    if (ius !== undefined && lm !== undefined && lm > ius) return 412;
  }
  const ifNoneMatch = getHeader(reqHeaders, "if-none-match");
  if (ifNoneMatch !== null) {
    const list = parseEntityTagList(ifNoneMatch);
    let matched: boolean;
    if (list === "*") matched = true;
    else {
      const tag = storedTag(storedHeaders);
      matched = tag !== undefined && list.some((t) => weakMatch(t, tag));
    }
    if (matched) return getOrHead ? 304 : 412;
    return undefined;
  }
  if (getOrHead) {
    const imsValue = getHeader(reqHeaders, "if-modified-since");
    // RFC 9110 §13.1.3: ignore a value that is not a valid HTTP-date or has more than one member
    // (an IMF-fixdate has exactly one comma, after the day name).
    if (imsValue !== null && imsValue.indexOf(",") === imsValue.lastIndexOf(",")) {
      const ims = parseHttpDate(imsValue);
      const lm = parseHttpDate(getHeader(storedHeaders, "last-modified")) ??
        parseHttpDate(getHeader(storedHeaders, "date")) ?? opts.responseTime;
      if (ims !== undefined && lm !== undefined && lm <= ims) return 304;
    }
  }
  return undefined;
}

/** Fields a 304 carries from the stored 200 (RFC 9110 §15.4.5). */
const NOT_MODIFIED_FIELDS = new Set([
  "cache-control",
  "content-location",
  "date",
  "etag",
  "expires",
  "vary",
]);

/**
 * The header fields of a 304 answered from cache (RFC 9110 §15.4.5): `Cache-Control`,
 * `Content-Location`, `Date`, `ETag`, `Expires` and `Vary` from the stored response, plus
 * `Last-Modified` when there is no `ETag` (it guides cache updates downstream). The caller adds
 * `Age`, `Via` and its own `Date`.
 *
 * @param storedHeaders the stored response's header list
 * @returns the subset, in stored order, names lower-case
 */
export function notModifiedHeaders(storedHeaders: readonly (readonly [string, string])[]): HeaderList {
  const hasEtag = storedHeaders.some(([n]) => n.toLowerCase() === "etag");
  const out: HeaderList = [];
  for (const [n, v] of storedHeaders) {
    const name = n.toLowerCase();
    if (NOT_MODIFIED_FIELDS.has(name) || (!hasEtag && name === "last-modified")) out.push([name, v]);
  }
  return out;
}
