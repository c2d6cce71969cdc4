/**
 * One normal form for request targets: the cache key and the target forwarded to the origin are
 * both made from it, so the origin is never asked one path while its answer is stored under
 * another (cache poisoning through `/a/../secret`, `/%2e%2e/`, `/a\..\b`, `http://evil/` with
 * `Host: good`, and the like).
 *
 * | part | rule |
 * |---|---|
 * | scheme | lower-cased; `http` (default port 80) and `https` (443) only |
 * | authority | no user info; host lower-cased and canonicalised as the WHATWG URL parser does (`2130706433`, `0x7f.1` → `127.0.0.1`; IPv6 compressed); port digits only, empty or default port dropped, `0`/above 65535 refused; a second `:port` refused |
 * | path | `\` becomes `/`; percent-encoded unreserved characters (RFC 3986 §2.3: `A-Z a-z 0-9 - . _ ~`) decoded, other escapes' hex upper-cased (§6.2.2.1-2); `"<>^`{|}` and bytes above 0x7e percent-encoded; then dot segments removed (§5.2.4, so `%2e%2e` counts as `..`); empty path becomes `/` |
 * | query | kept in order; escapes normalised as in the path; `\` and the characters above percent-encoded; an empty `?` kept |
 * | fragment | dropped (never sent, RFC 9112 §3.2) |
 *
 * Refused (the caller answers 400): control characters, space or DEL anywhere; `%` not followed by
 * two hex digits; percent-encoded control characters (`%00`–`%1F`, `%7F`) in the path; a target
 * that is neither origin-form (`/…`) nor absolute-form.
 *
 * Normalising is idempotent: a normalised URL normalises to itself.
 *
 * @module
 */

/** An authority in normal form. */
export interface NormalAuthority {
  /** Host name or address to connect to (IPv6 without brackets). */
  hostname: string;
  /** TCP port. */
  port: number;
  /** `host[:port]` for URLs and the `Host` field: lower-case, IPv6 in brackets, no default port. */
  host: string;
}

/** A URL in normal form. */
export interface NormalUrl extends NormalAuthority {
  /** `http` or `https`. */
  scheme: string;
  /** Origin-form target: path and query, e.g. `/a/b?x=1`. */
  pathQuery: string;
  /** `scheme://host[:port]/path?query`: the cache key. */
  href: string;
}

const DEFAULT_PORTS: Record<string, number> = { http: 80, https: 443 };

const HOSTS = new Map<string, NormalAuthority | null>();

/**
 * Normalises an authority (`Host` field or the authority of an absolute URL).
 *
 * @param authority e.g. `Example.ORG:80`, `[::1]:8080`
 * @param defaultPort the scheme's default port
 * @returns the normal form, or null when it is not a valid `host[:port]`
 * @example
 * ```ts
 * normalizeAuthority("Example.ORG:80", 80); // { hostname: "example.org", port: 80, host: "example.org" }
 * ```
 */
export function normalizeAuthority(authority: string, defaultPort = 80): NormalAuthority | null {
  const memo = `${defaultPort} ${authority}`;
  let a = HOSTS.get(memo);
  if (a !== undefined) return a;
  a = parseAuthority(authority, defaultPort);
  if (authority.length <= 300) {
    if (HOSTS.size >= 4096) HOSTS.clear();
    HOSTS.set(memo, a);
  }
  return a;
}

function parseAuthority(authority: string, defaultPort: number): NormalAuthority | null {
  const m = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9._-]+)(?::(\d{0,5}))?$/.exec(authority);
  if (!m) return null;
  const port = m[2] === undefined || m[2] === "" ? defaultPort : Number(m[2]);
  if (port < 1 || port > 65535) return null;
  let host: string;
  try {
    // The WHATWG host parser: lower-cases, validates IDNA labels, turns every IPv4 spelling
    // (decimal, hex, octal, shortened) into dotted quads and compresses IPv6.
    host = new URL(`http://${m[1]}/`).hostname;
  } catch {
    return null;
  }
  if (host === "" || /[^a-z0-9._\-[\]:]/.test(host)) return null;
  const hostname = host.startsWith("[") ? host.slice(1, -1) : host;
  return Object.freeze({ hostname, port, host: port === defaultPort ? host : `${host}:${port}` });
}

const HEX = "0123456789ABCDEF";

function hexValue(c: number): number {
  if (c >= 48 && c <= 57) return c - 48;
  if (c >= 65 && c <= 70) return c - 55;
  if (c >= 97 && c <= 102) return c - 87;
  return -1;
}

function isUnreserved(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 46 ||
    c === 95 || c === 126;
}

/** Characters outside RFC 3986 that clients still send; they are percent-encoded. */
const ENCODED = new Set([34, 60, 62, 94, 96, 123, 124, 125]);

/** 1 for the characters {@link normalizeChars} keeps as they are (printable ASCII but `%`, `\\`, {@link ENCODED}). */
const PLAIN = (() => {
  const t = new Uint8Array(128);
  for (let c = 0x21; c < 0x7f; c++) if (c !== 37 && c !== 92 && !ENCODED.has(c)) t[c] = 1;
  return t;
})();

/** Normalises escapes and characters of a path (`inPath`) or query; null when refused. */
function normalizeChars(s: string, inPath: boolean): string | null {
  // Most targets are already in normal form: return them as they are, without building a copy
  // one character at a time (a string allocation per character on every miss).
  let start = 0;
  while (start < s.length) {
    const c = s.charCodeAt(start);
    if (c >= 128 || PLAIN[c] === 0) break;
    start++;
  }
  if (start === s.length) return s;
  let out = s.slice(0, start);
  for (let i = start; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c <= 0x20 || c === 0x7f) return null;
    if (c === 37) {
      const hi = hexValue(s.charCodeAt(i + 1));
      const lo = hexValue(s.charCodeAt(i + 2));
      if (hi < 0 || lo < 0) return null;
      const b = hi * 16 + lo;
      if (inPath && (b < 0x20 || b === 0x7f)) return null;
      out += isUnreserved(b) ? String.fromCharCode(b) : "%" + HEX[hi] + HEX[lo];
      i += 2;
    } else if (c === 92) {
      out += inPath ? "/" : "%5C";
    } else if (c > 0x7e) {
      if (c > 0xff) return null; // request heads are ISO-8859-1: one char per byte
      out += "%" + HEX[c >> 4] + HEX[c & 15];
    } else if (ENCODED.has(c)) {
      out += "%" + HEX[c >> 4] + HEX[c & 15];
    } else {
      out += s[i];
    }
  }
  return out;
}

/**
 * Removes `.` and `..` segments from an absolute path (RFC 3986 §5.2.4).
 *
 * @param path a path starting with `/`
 * @returns the path without dot segments
 * @example
 * ```ts
 * removeDotSegments("/a/b/c/./../../g"); // "/a/g"
 * ```
 */
export function removeDotSegments(path: string): string {
  if (!path.includes(".")) return path;
  const segs = path.split("/"); // segs[0] is "" (the path is absolute)
  const out: string[] = [];
  for (let i = 1; i < segs.length; i++) {
    const s = segs[i];
    const last = i === segs.length - 1;
    if (s === ".") {
      if (last) out.push("");
    } else if (s === "..") {
      out.pop();
      if (last) out.push("");
    } else {
      out.push(s);
    }
  }
  return "/" + out.join("/");
}

/**
 * Normalises an origin-form target (path, query, fragment) as the module doc says.
 *
 * @param target e.g. `/a/../b?x#f`
 * @returns e.g. `/b?x`, or null when the target must be refused
 * @example
 * ```ts
 * normalizePathQuery("/a/%2E%2e/b%7e?q=%7e#top"); // "/b~?q=~"
 * ```
 */
export function normalizePathQuery(target: string): string | null {
  const hash = target.indexOf("#");
  let s = hash < 0 ? target : target.slice(0, hash);
  if (hash >= 0 && normalizeChars(target.slice(hash + 1), false) === null) return null;
  if (s === "" || s[0] === "?") s = "/" + s;
  if (s[0] !== "/" && s[0] !== "\\") return null;
  const q = s.indexOf("?");
  const rawPath = q < 0 ? s : s.slice(0, q);
  const path = normalizeChars(rawPath, true);
  if (path === null) return null;
  const clean = removeDotSegments(path);
  if (q < 0) return clean;
  const rawQuery = s.slice(q + 1);
  const query = normalizeChars(rawQuery, false);
  if (query === null) return null;
  // Unchanged (the usual case): the target itself, not a new concatenation of its parts.
  if (s === target && query === rawQuery && clean === rawPath) return target;
  return `${clean}?${query}`;
}

/**
 * Normalises an absolute URL (`scheme://authority/path?query#fragment`).
 *
 * @param url e.g. `HTTP://Example.ORG:80/a/../b?x#frag`
 * @returns its parts in normal form, or null when it must be refused (other schemes among them)
 * @example
 * ```ts
 * normalizeUrl("HTTP://Example.ORG:80/a/../b?x#frag")?.href; // "http://example.org/b?x"
 * ```
 */
export function normalizeUrl(url: string): NormalUrl | null {
  const m = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#\\]*)(.*)$/s.exec(url);
  if (!m) return null;
  const scheme = m[1].toLowerCase();
  const defaultPort = DEFAULT_PORTS[scheme];
  if (defaultPort === undefined) return null;
  const auth = normalizeAuthority(m[2], defaultPort);
  if (!auth) return null;
  const pathQuery = normalizePathQuery(m[3]);
  if (pathQuery === null) return null;
  return { scheme, ...auth, pathQuery, href: `${scheme}://${auth.host}${pathQuery}` };
}
