/**
 * Targeted cache control (RFC 9213): `CDN-Cache-Control` and other fields aimed at one class of
 * caches, with precedence over `Cache-Control` for those caches.
 *
 * ```
 * CDN-Cache-Control = sf-dictionary        ; RFC 9213 §2.1, RFC 8941 §3.2
 *   e.g. CDN-Cache-Control: max-age=600, stale-while-revalidate=30
 *        CDN-Cache-Control: no-cache="set-cookie", private
 * ```
 *
 * The rule (RFC 9213 §2.2): a cache with a target list takes the **first listed** field that is
 * present with a valid, non-empty value and uses its directives for the response's caching
 * policy; it then **ignores `Cache-Control` and `Expires`** of that response. When no listed
 * field is usable, `Cache-Control` and `Expires` apply as usual (RFC 9111). The choice is made
 * per response.
 *
 * Parsing (RFC 9213 §2.1): the value is a Dictionary structured field. Each member is a response
 * cache directive; its parameters are ignored; unknown directives and request-only ones
 * (`max-stale`, `min-fresh`, `only-if-cached`) are ignored. A field that fails to parse as a
 * Dictionary is ignored as a whole (then the next listed field, or `Cache-Control`, decides), and
 * so is an empty one. Value types, with the choices made here:
 *
 * | directive | value | meaning |
 * |-----------|-------|---------|
 * | `max-age`, `s-maxage`, `stale-while-revalidate`, `stale-if-error` | Integer ≥ 0 (clamped to 2^31) | as in RFC 9111 / RFC 5861 |
 * | same | negative Integer | `0` (stale), as an invalid `Cache-Control: max-age` |
 * | same | any other type (`max-age="60"`, `max-age=1.5`) | the whole field is ignored: it does not say what the origin meant |
 * | `no-cache`, `private` | Boolean true, or a String of field names (`private="x-user"`) | unqualified, or qualified with that list |
 * | flag directives (`no-store`, `public`, `must-revalidate`, …) | Boolean true (any value but `?0`) | present; `?0` means absent |
 *
 * Keys are lower-case by the Dictionary grammar: `MaX-aGe=60` is a parse error and the field is
 * ignored. The field itself is never removed from the response: it is passed downstream
 * unchanged (RFC 9213 §2.2 leaves forwarding to the cache; a CDN tier behind this one may need it).
 *
 * @module
 */

import { type CacheControl, MAX_DELTA_SECONDS, parseCacheControl } from "./cache_control.ts";
import { getHeader, type HeaderInput } from "./header_getter.ts";
import { Memo } from "./_memo.ts";

/** The default target list of this cache: a CDN-like shared cache (RFC 9213 §3). */
export const DEFAULT_TARGETED_FIELDS: readonly string[] = Object.freeze(["cdn-cache-control"]);

/** The policy-bearing directives of a response and where they came from. */
export interface ResponseCacheControl {
  /** The directives that govern this cache's storing and reuse of the response. */
  readonly cc: CacheControl;
  /** Lower-case name of the targeted field used, or `undefined` when `Cache-Control` applies. */
  readonly targeted?: string;
  /** Whether `Expires` counts: false when a targeted field applies (RFC 9213 §2.2). */
  readonly useExpires: boolean;
}

/** A structured-field bare item as far as the cache directives need it. */
type Bare =
  | { t: "int"; v: number }
  | { t: "dec" }
  | { t: "str"; v: string }
  | { t: "token"; v: string }
  | { t: "bool"; v: boolean }
  | { t: "other" };

class SfError extends SyntaxError {}

/**
 * A minimal RFC 8941 §4.2.2 Dictionary parser: keys with their bare item values (Inner Lists and
 * parameters are parsed for validity and dropped, since no cache directive takes them).
 */
class DictParser {
  #s: string;
  #i = 0;
  constructor(s: string) {
    this.#s = s;
  }

  parse(): Map<string, Bare> {
    const out = new Map<string, Bare>();
    this.#skip(" ");
    if (this.#i >= this.#s.length) return out;
    while (true) {
      const key = this.#key();
      let value: Bare;
      if (this.#s[this.#i] === "=") {
        this.#i++;
        value = this.#s[this.#i] === "(" ? this.#innerList() : this.#bare();
      } else {
        value = { t: "bool", v: true };
      }
      this.#params();
      out.set(key, value);
      this.#ows();
      if (this.#i >= this.#s.length) return out;
      if (this.#s[this.#i] !== ",") throw new SfError(`expected "," at ${this.#i}`);
      this.#i++;
      this.#ows();
      if (this.#i >= this.#s.length) throw new SfError("trailing comma");
    }
  }

  #skip(c: string): void {
    while (this.#s[this.#i] === c) this.#i++;
  }
  #ows(): void {
    while (this.#s[this.#i] === " " || this.#s[this.#i] === "\t") this.#i++;
  }

  #key(): string {
    const s = this.#s;
    const start = this.#i;
    const c0 = s.charCodeAt(start);
    if (!((c0 >= 97 && c0 <= 122) || c0 === 42)) throw new SfError(`bad key at ${start}`);
    this.#i++;
    while (this.#i < s.length && /[a-z0-9_\-.*]/.test(s[this.#i])) this.#i++;
    return s.slice(start, this.#i);
  }

  #params(): void {
    while (this.#s[this.#i] === ";") {
      this.#i++;
      this.#skip(" ");
      this.#key();
      if (this.#s[this.#i] === "=") {
        this.#i++;
        this.#bare();
      }
    }
  }

  #innerList(): Bare {
    this.#i++; // "("
    while (true) {
      this.#skip(" ");
      if (this.#s[this.#i] === ")") {
        this.#i++;
        this.#params();
        return { t: "other" };
      }
      this.#bare();
      this.#params();
      const c = this.#s[this.#i];
      if (c !== " " && c !== ")") throw new SfError(`bad inner list at ${this.#i}`);
    }
  }

  #bare(): Bare {
    const s = this.#s;
    const c = s[this.#i];
    if (c === undefined) throw new SfError("missing value");
    if (c === "-" || (c >= "0" && c <= "9")) return this.#number();
    if (c === '"') return this.#string();
    if (c === "*" || /[A-Za-z]/.test(c)) {
      const start = this.#i++;
      while (this.#i < s.length && /[!#$%&'*+\-.^_`|~0-9A-Za-z:/]/.test(s[this.#i])) this.#i++;
      return { t: "token", v: s.slice(start, this.#i) };
    }
    if (c === ":") {
      const m = /^:[A-Za-z0-9+/=]*:/.exec(s.slice(this.#i));
      if (!m) throw new SfError(`bad byte sequence at ${this.#i}`);
      this.#i += m[0].length;
      return { t: "other" };
    }
    if (c === "?") {
      const b = s[this.#i + 1];
      if (b !== "0" && b !== "1") throw new SfError(`bad boolean at ${this.#i}`);
      this.#i += 2;
      return { t: "bool", v: b === "1" };
    }
    throw new SfError(`bad item at ${this.#i}`);
  }

  #number(): Bare {
    const m = /^(-?)(\d+)(?:\.(\d+))?/.exec(this.#s.slice(this.#i));
    if (!m) throw new SfError(`bad number at ${this.#i}`);
    this.#i += m[0].length;
    if (m[3] !== undefined) {
      if (m[2].length > 12 || m[3].length > 3) throw new SfError("decimal out of range");
      return { t: "dec" };
    }
    if (m[2].length > 15) throw new SfError("integer out of range");
    return { t: "int", v: Number(m[1] + m[2]) };
  }

  #string(): Bare {
    const s = this.#s;
    let out = "";
    this.#i++;
    while (this.#i < s.length) {
      const c = s[this.#i++];
      if (c === "\\") {
        const n = s[this.#i++];
        if (n !== '"' && n !== "\\") throw new SfError("bad escape");
        out += n;
      } else if (c === '"') {
        return { t: "str", v: out };
      } else {
        const code = c.charCodeAt(0);
        if (code < 0x20 || code > 0x7e) throw new SfError("bad string character");
        out += c;
      }
    }
    throw new SfError("unterminated string");
  }
}

const DELTA_DIRECTIVES = new Set(["max-age", "s-maxage", "stale-while-revalidate", "stale-if-error"]);
const REQUEST_ONLY = new Set(["max-stale", "min-fresh", "only-if-cached"]);

/** Quotes a field-name list back into `Cache-Control` syntax. */
const quoted = (v: string): string => `"${v.replace(/["\\]/g, "\\$&")}"`;

/**
 * Parses a targeted cache-control field value (RFC 9213 §2.1) into directives.
 *
 * @param value the field value (field lines joined with `", "`), or `null` when absent
 * @returns the directives, or `undefined` when the field is absent, empty or invalid (ignored)
 * @example
 * ```ts
 * parseTargetedCacheControl("max-age=600, no-cache")?.maxAge; // 600
 * parseTargetedCacheControl("max-age =600"); // undefined (not a Dictionary)
 * parseTargetedCacheControl('max-age="600"'); // undefined (wrong type)
 * ```
 */
export function parseTargetedCacheControl(value: string | null | undefined): CacheControl | undefined {
  if (value === null || value === undefined) return undefined;
  const hit = MEMO.get(value);
  if (hit !== undefined) return hit === INVALID ? undefined : hit;
  const cc = translate(value);
  MEMO.set(value, cc ?? INVALID);
  return cc;
}

const MEMO = new Memo<CacheControl>(256);
/** Memo marker of an invalid value (its own object, never returned by the `Cache-Control` parser). */
const INVALID: CacheControl = Object.freeze({ ...parseCacheControl(null) });

/**
 * Builds the equivalent `Cache-Control` text and reuses its parser, so both fields yield the
 * same {@link CacheControl} for the same meaning.
 */
function translate(value: string): CacheControl | undefined {
  let dict: Map<string, Bare>;
  try {
    dict = new DictParser(value).parse();
  } catch {
    return undefined;
  }
  if (dict.size === 0) return undefined;
  const parts: string[] = [];
  for (const [name, item] of dict) {
    if (REQUEST_ONLY.has(name)) continue;
    if (DELTA_DIRECTIVES.has(name)) {
      if (item.t !== "int") return undefined;
      parts.push(`${name}=${item.v < 0 ? 0 : Math.min(item.v, MAX_DELTA_SECONDS)}`);
    } else if (item.t === "bool") {
      if (item.v) parts.push(name);
    } else if (item.t === "str") {
      // `no-cache="a, b"` and `private="a"` keep their field-name lists.
      parts.push(`${name}=${quoted(item.v)}`);
    } else if (item.t === "int" || item.t === "token") {
      parts.push(`${name}=${item.v}`);
    } else {
      parts.push(name);
    }
  }
  // An all-ignored field (only request directives, or only `?0` flags) still applies: it was
  // valid and non-empty, and says "no directive" (RFC 9213 §2.2 selects it over Cache-Control).
  return parseCacheControl(parts.join(", ") || null);
}

/**
 * Selects the directives that govern this cache's handling of a response (RFC 9213 §2.2): the
 * first field of `targetedFields` present with a valid, non-empty value, else `Cache-Control`.
 *
 * @param headers the response header fields
 * @param targetedFields this cache's target list, in precedence order (any case); default none
 * @returns the directives, the targeted field used (if any) and whether `Expires` counts
 * @example
 * ```ts
 * responseCacheControl([["cache-control", "no-store"], ["cdn-cache-control", "max-age=60"]], ["CDN-Cache-Control"]);
 * // { cc: { maxAge: 60, noStore: false, ... }, targeted: "cdn-cache-control", useExpires: false }
 * ```
 */
export function responseCacheControl(
  headers: HeaderInput,
  targetedFields: readonly string[] = [],
): ResponseCacheControl {
  for (const field of targetedFields) {
    const name = field.toLowerCase();
    const cc = parseTargetedCacheControl(getHeader(headers, name));
    if (cc !== undefined) return { cc, targeted: name, useExpires: false };
  }
  return { cc: parseCacheControl(getHeader(headers, "cache-control")), useExpires: true };
}
