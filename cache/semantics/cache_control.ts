/**
 * `Cache-Control` parsing (RFC 9111 §5.2, RFC 5861 §3-4, RFC 8246).
 *
 * ```
 * Cache-Control   = #cache-directive
 * cache-directive = token [ "=" ( token / quoted-string ) ]
 * ```
 *
 * Robustness rules (RFC 9111 §4.2.1 and §5.2 leave the details to the cache; we choose the
 * conservative reading everywhere):
 * - Names are case-insensitive; both token and quoted-string arguments are accepted.
 * - A duplicated numeric directive keeps the most restrictive value: the smallest `max-age`,
 *   `s-maxage`, `max-stale`, `stale-while-revalidate` and `stale-if-error`, the largest `min-fresh`.
 * - An invalid `max-age`/`s-maxage` argument (not delta-seconds, e.g. `max-age=-1` or `max-age=1.5`)
 *   counts as `0`, so the response is stale (RFC 9111 §4.2.1 "encouraged to consider ... stale").
 *   An invalid request `max-age` also counts as `0` (revalidate). Invalid `max-stale`, `min-fresh`,
 *   `stale-while-revalidate` and `stale-if-error` arguments are ignored (no relaxation granted).
 * - delta-seconds above 2^31 are clamped to 2^31 (RFC 9111 §1.2.2).
 * - `no-cache` and `private` with a field-name list are "qualified"; the list is kept lower-case.
 *   A qualified and an unqualified occurrence together mean unqualified, and so does an empty
 *   list (`no-cache=""`).
 * - Unknown directives are kept in `extensions` (name → argument, or `true`).
 *
 * @module
 */

import { Memo } from "./_memo.ts";

/** Largest delta-seconds value a cache must represent (RFC 9111 §1.2.2). */
export const MAX_DELTA_SECONDS = 2147483648;

/** Parsed `Cache-Control` directives of a request or a response. Times are in seconds. */
export interface CacheControl {
  /** `max-age=N` (response: freshness lifetime; request: maximum acceptable age). */
  readonly maxAge?: number;
  /** `s-maxage=N` (response, shared caches only; implies `proxy-revalidate`). */
  readonly sMaxAge?: number;
  /** `no-cache` present, qualified or not. */
  readonly noCache: boolean;
  /** Field names of a qualified `no-cache="a, b"`; `undefined` when unqualified or absent. */
  readonly noCacheFields?: readonly string[];
  /** `no-store`. */
  readonly noStore: boolean;
  /** `private` present, qualified or not. */
  readonly private: boolean;
  /** Field names of a qualified `private="a"`; `undefined` when unqualified or absent. */
  readonly privateFields?: readonly string[];
  /** `public`. */
  readonly public: boolean;
  /** `must-revalidate`. */
  readonly mustRevalidate: boolean;
  /** `proxy-revalidate`. */
  readonly proxyRevalidate: boolean;
  /** Request `max-stale[=N]`; `Infinity` when present without a value. */
  readonly maxStale?: number;
  /** Request `min-fresh=N`. */
  readonly minFresh?: number;
  /** Request `only-if-cached`. */
  readonly onlyIfCached: boolean;
  /** `no-transform`. */
  readonly noTransform: boolean;
  /** Response `immutable` (RFC 8246). */
  readonly immutable: boolean;
  /** `stale-while-revalidate=N` (RFC 5861 §3). */
  readonly staleWhileRevalidate?: number;
  /** `stale-if-error=N` (RFC 5861 §4), request or response. */
  readonly staleIfError?: number;
  /** Response `must-understand`. */
  readonly mustUnderstand: boolean;
  /** Directives not listed above: lower-case name → argument (unquoted) or `true`. */
  readonly extensions: Readonly<Record<string, string | true>>;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

function empty(): Mutable<CacheControl> & { extensions: Record<string, string | true> } {
  return {
    noCache: false,
    noStore: false,
    private: false,
    public: false,
    mustRevalidate: false,
    proxyRevalidate: false,
    onlyIfCached: false,
    noTransform: false,
    immutable: false,
    mustUnderstand: false,
    extensions: {},
  };
}

/** Parses delta-seconds (`1*DIGIT`); returns `undefined` when invalid. */
export function parseDeltaSeconds(value: string | undefined): number | undefined {
  if (value === undefined || value.length === 0) return undefined;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c < 48 || c > 57) return undefined;
  }
  const n = value.length > 10 ? MAX_DELTA_SECONDS : Number(value);
  return n > MAX_DELTA_SECONDS ? MAX_DELTA_SECONDS : n;
}

function fieldList(arg: string): string[] {
  const out: string[] = [];
  for (const part of arg.split(",")) {
    const name = part.trim().toLowerCase();
    if (name.length > 0 && !out.includes(name)) out.push(name);
  }
  return out;
}

const min = (a: number | undefined, b: number): number => (a === undefined || b < a ? b : a);

/**
 * Splits a comma-separated field value into `(name, argument)` pairs and hands each to `visit`,
 * honouring quoted strings (with backslash escapes) so that `no-cache="a, b"` stays one directive.
 */
function forEachDirective(value: string, visit: (name: string, arg: string | undefined) => void): void {
  const len = value.length;
  let i = 0;
  while (i < len) {
    // Skip separators and whitespace.
    let c = value.charCodeAt(i);
    while (i < len && (c === 44 || c === 32 || c === 9)) c = value.charCodeAt(++i);
    if (i >= len) return;
    const nameStart = i;
    while (i < len && (c = value.charCodeAt(i)) !== 61 && c !== 44) i++;
    let name = value.slice(nameStart, i);
    if (name.charCodeAt(name.length - 1) <= 32) name = name.trimEnd();
    let arg: string | undefined;
    if (i < len && c === 61) {
      i++;
      while (i < len && ((c = value.charCodeAt(i)) === 32 || c === 9)) i++;
      if (i < len && value.charCodeAt(i) === 34) {
        // quoted-string
        i++;
        let s = "";
        let closed = false;
        let runStart = i;
        while (i < len) {
          c = value.charCodeAt(i);
          if (c === 92 && i + 1 < len) {
            s += value.slice(runStart, i) + value[i + 1];
            i += 2;
            runStart = i;
          } else if (c === 34) {
            s += value.slice(runStart, i);
            i++;
            closed = true;
            break;
          } else {
            i++;
          }
        }
        if (!closed) s += value.slice(runStart, i);
        arg = s;
        // Skip anything after the closing quote up to the next comma; an unterminated quote
        // swallows the rest of the value, which is the conservative reading.
        if (closed) { while (i < len && value.charCodeAt(i) !== 44) i++; }
      } else {
        const argStart = i;
        while (i < len && value.charCodeAt(i) !== 44) i++;
        arg = value.slice(argStart, i);
        if (arg.charCodeAt(arg.length - 1) <= 32) arg = arg.trimEnd();
      }
    }
    if (name.length > 0) visit(/[A-Z]/.test(name) ? name.toLowerCase() : name, arg);
  }
}

/**
 * Parses a `Cache-Control` field value (request or response) into its directives.
 * Never throws: malformed parts are handled as the module doc describes. Results are frozen and
 * memoised by value (the same few values repeat on every hit).
 *
 * @param value the field value (several field lines joined with `", "`), or `null` when absent
 * @returns the directives; all flags false when `value` is `null` or empty
 * @example
 * ```ts
 * parseCacheControl('max-age=60, no-cache="set-cookie"');
 * // { maxAge: 60, noCache: true, noCacheFields: ["set-cookie"], ... }
 * ```
 */
export function parseCacheControl(value: string | null | undefined): CacheControl {
  if (!value) return EMPTY;
  return MEMO.get(value) ?? MEMO.set(value, parse(value));
}

const EMPTY: CacheControl = deepFreeze(empty());
const MEMO = new Memo<CacheControl>(1024);

function deepFreeze(cc: CacheControl): CacheControl {
  Object.freeze(cc.extensions);
  if (cc.noCacheFields) Object.freeze(cc.noCacheFields);
  if (cc.privateFields) Object.freeze(cc.privateFields);
  return Object.freeze(cc);
}

function parse(value: string): CacheControl {
  const cc = empty();
  let noCacheUnqualified = false;
  let privateUnqualified = false;
  let noCacheFields: string[] | undefined;
  let privateFields: string[] | undefined;
  forEachDirective(value, (name, arg) => {
    switch (name) {
      case "max-age":
        cc.maxAge = min(cc.maxAge, parseDeltaSeconds(arg) ?? 0);
        break;
      case "s-maxage":
        cc.sMaxAge = min(cc.sMaxAge, parseDeltaSeconds(arg) ?? 0);
        break;
      case "no-cache":
        cc.noCache = true;
        if (arg === undefined || fieldList(arg).length === 0) noCacheUnqualified = true;
        else noCacheFields = [...(noCacheFields ?? []), ...fieldList(arg)];
        break;
      case "no-store":
        cc.noStore = true;
        break;
      case "private":
        cc.private = true;
        if (arg === undefined || fieldList(arg).length === 0) privateUnqualified = true;
        else privateFields = [...(privateFields ?? []), ...fieldList(arg)];
        break;
      case "public":
        cc.public = true;
        break;
      case "must-revalidate":
        cc.mustRevalidate = true;
        break;
      case "proxy-revalidate":
        cc.proxyRevalidate = true;
        break;
      case "max-stale": {
        if (arg === undefined) {
          cc.maxStale = min(cc.maxStale, Infinity);
        } else {
          const n = parseDeltaSeconds(arg);
          if (n !== undefined) cc.maxStale = min(cc.maxStale, n);
        }
        break;
      }
      case "min-fresh": {
        const n = parseDeltaSeconds(arg);
        if (n !== undefined) cc.minFresh = cc.minFresh === undefined || n > cc.minFresh ? n : cc.minFresh;
        break;
      }
      case "only-if-cached":
        cc.onlyIfCached = true;
        break;
      case "no-transform":
        cc.noTransform = true;
        break;
      case "immutable":
        cc.immutable = true;
        break;
      case "stale-while-revalidate": {
        const n = parseDeltaSeconds(arg);
        if (n !== undefined) cc.staleWhileRevalidate = min(cc.staleWhileRevalidate, n);
        break;
      }
      case "stale-if-error": {
        const n = parseDeltaSeconds(arg);
        if (n !== undefined) cc.staleIfError = min(cc.staleIfError, n);
        break;
      }
      case "must-understand":
        cc.mustUnderstand = true;
        break;
      default:
        // `__proto__` would replace the object's prototype rather than add a key.
        if (name !== "__proto__") cc.extensions[name] = arg ?? true;
    }
  });
  if (noCacheFields !== undefined && !noCacheUnqualified) cc.noCacheFields = noCacheFields;
  if (privateFields !== undefined && !privateUnqualified) cc.privateFields = privateFields;
  return deepFreeze(cc);
}
