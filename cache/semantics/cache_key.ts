/**
 * Primary cache keys (RFC 9111 §2: "the primary cache key consists of the request method and
 * target URI"; GET and HEAD share a key because only GET responses are stored).
 *
 * The key is the normalised URL of `normalize_url.ts`, the same one the target sent to the origin
 * is made from: what is stored under a key is always the origin's answer to exactly that URL.
 *
 * @module
 */
import { normalizeUrl } from "./normalize_url.ts";

/**
 * Normalises a request URL into a primary cache key (RFC 3986 §6.2.2 / RFC 9110 §4.2.3, see
 * `normalizeUrl`): scheme and host lower-cased, default port (80 for http, 443 for https)
 * removed, an empty path becomes `/`, escapes normalised, dot segments resolved, the fragment
 * removed. The query is kept as it is (parameter order and case are significant to origins).
 *
 * @param url an absolute `http` or `https` URL
 * @returns the key, e.g. `http://example.org/a?b=1`
 * @throws {TypeError} when `url` is not an absolute http(s) URL that can be normalised
 * @example
 * ```ts
 * cacheKey("HTTP://Example.ORG:80/a/../b?x#frag"); // "http://example.org/b?x"
 * ```
 */
export function cacheKey(url: string | URL): string {
  const u = normalizeUrl(typeof url === "string" ? url : url.href);
  if (!u) throw new TypeError(`Cannot build cache key: invalid URL '${String(url)}'`);
  return u.href;
}
