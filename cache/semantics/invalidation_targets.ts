/**
 * Invalidation after unsafe requests (RFC 9111 §4.4).
 *
 * When a request with an unsafe method (anything but GET, HEAD, OPTIONS and TRACE, RFC 9110
 * §9.2.1) gets a non-error response (2xx or 3xx), the cache invalidates the stored responses of
 * the target URI, and of the URIs in `Location` and `Content-Location` when they have the same
 * origin (scheme, host and port) as the target — never another origin's, which would let one site
 * purge another's objects (§4.4).
 *
 * @module
 */

import { cacheKey } from "./cache_key.ts";
import { getHeader, type HeaderInput } from "./header_getter.ts";

/** Methods RFC 9110 §9.2.1 defines as safe. */
export const SAFE_METHODS: ReadonlySet<string> = new Set(["GET", "HEAD", "OPTIONS", "TRACE"]);

/**
 * Returns the primary keys to invalidate after a request (see the module doc).
 *
 * @param method request method (case-sensitive, RFC 9110 §9.1: `get` is not GET)
 * @param requestUrl the absolute target URI
 * @param status the response status
 * @param responseHeaders the response header fields (`Location`, `Content-Location`)
 * @returns cache keys (from `cacheKey`), the target first; empty when nothing is invalidated
 * @example
 * ```ts
 * invalidationTargets("POST", "http://a.example/x", 303, [["location", "/y"]]);
 * // ["http://a.example/x", "http://a.example/y"]
 * ```
 */
export function invalidationTargets(
  method: string,
  requestUrl: string | URL,
  status: number,
  responseHeaders: HeaderInput,
): string[] {
  if (SAFE_METHODS.has(method) || status < 200 || status > 399) return [];
  const target = new URL(requestUrl);
  // The request's own key from its URL as given (already normalised by the route), not as the
  // WHATWG parser re-serialises it, so it names exactly the stored object.
  const keys = [cacheKey(typeof requestUrl === "string" ? requestUrl : requestUrl.href)];
  for (const field of ["location", "content-location"]) {
    const value = getHeader(responseHeaders, field);
    if (value === null) continue;
    let u: URL;
    try {
      u = new URL(value.trim(), target);
    } catch {
      continue;
    }
    if (u.origin !== target.origin) continue;
    const key = cacheKey(u);
    if (!keys.includes(key)) keys.push(key);
  }
  return keys;
}
