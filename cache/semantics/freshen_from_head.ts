/**
 * Freshening stored GET responses with a HEAD response (RFC 9111 §4.3.5).
 *
 * When the cache sends a HEAD inbound and gets a 200, each stored GET response that could have
 * been chosen for the request is either updated or marked stale:
 *
 * - update (merge the HEAD's fields as for a 304, §3.2) when every validator the HEAD carries
 *   (`ETag`, `Last-Modified`) equals the stored one and, if the HEAD has a `Content-Length`, it
 *   equals the stored body length;
 * - otherwise the stored response is stale: the representation changed (the caller deletes it
 *   or stops serving it without revalidation).
 *
 * @module
 */

import { parseEntityTag } from "./entity_tag.ts";
import { getHeader, type HeaderList } from "./header_getter.ts";
import { parseHttpDate } from "./http_date.ts";
import { mergeHeadersFrom304 } from "./merge_headers_from_304.ts";

/** Result of {@link freshenFromHead}. */
export type HeadFreshening =
  /** Replace the stored headers with `headers` (and take the HEAD exchange's times). */
  | { action: "update"; headers: HeaderList }
  /** The stored response no longer matches the resource: treat it as stale. */
  | { action: "stale"; reason: "etag" | "last-modified" | "content-length" | "status" };

/**
 * Decides how a HEAD response affects a stored GET response (see the module doc).
 *
 * @param stored the stored response's headers and body length (a `StoredMeta` fits)
 * @param headStatus the HEAD response's status (only 200 freshens)
 * @param headHeaders the HEAD response's header list
 * @param opts `responseTime` of the HEAD, used as `Date` when it has none
 * @returns `update` with the merged header list, or `stale` with the mismatching field
 */
export function freshenFromHead(
  stored: { headers: readonly (readonly [string, string])[]; bodyBytes: number },
  headStatus: number,
  headHeaders: readonly (readonly [string, string])[],
  opts: { responseTime?: number } = {},
): HeadFreshening {
  if (headStatus !== 200) return { action: "stale", reason: "status" };
  const headTag = getHeader(headHeaders, "etag");
  if (headTag !== null) {
    const a = parseEntityTag(headTag);
    const b = parseEntityTag(getHeader(stored.headers, "etag"));
    if (a === undefined || b === undefined || a.weak !== b.weak || a.tag !== b.tag) {
      return { action: "stale", reason: "etag" };
    }
  }
  const headLm = getHeader(headHeaders, "last-modified");
  if (headLm !== null) {
    const a = parseHttpDate(headLm);
    if (a === undefined || a !== parseHttpDate(getHeader(stored.headers, "last-modified"))) {
      return { action: "stale", reason: "last-modified" };
    }
  }
  const headLength = getHeader(headHeaders, "content-length");
  if (headLength !== null && headLength.trim() !== String(stored.bodyBytes)) {
    return { action: "stale", reason: "content-length" };
  }
  return { action: "update", headers: mergeHeadersFrom304(stored.headers, headHeaders, opts) };
}
