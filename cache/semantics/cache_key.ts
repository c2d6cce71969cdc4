/**
 * Primary cache keys (RFC 9111 §2: "the primary cache key consists of the request method and
 * target URI"; GET and HEAD share a key because only GET responses are stored).
 *
 * @module
 */

/**
 * Normalises a request URL into a primary cache key (RFC 3986 §6.2.2 / RFC 9110 §4.2.3):
 * scheme and host lower-cased, default port (80 for http, 443 for https) removed, an empty path
 * becomes `/`, dot segments are resolved, the fragment is removed. The query is kept as it is
 * (parameter order and case are significant to origins).
 *
 * @param url an absolute URL
 * @returns the key, e.g. `http://example.org/a?b=1`
 * @throws {TypeError} when `url` is not an absolute URL
 * @example
 * ```ts
 * cacheKey("HTTP://Example.ORG:80/a/../b?x#frag"); // "http://example.org/b?x"
 * ```
 */
export function cacheKey(url: string | URL): string {
  let u: URL;
  try {
    u = new URL(url);
  } catch (cause) {
    throw new TypeError(`Cannot build cache key: invalid URL '${String(url)}'`, { cause });
  }
  const href = u.href;
  const hash = href.indexOf("#");
  return hash < 0 ? href : href.slice(0, hash);
}
