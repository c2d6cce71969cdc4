/**
 * `Vary` and secondary (variant) keys (RFC 9111 §4.1, RFC 9110 §12.5.5).
 *
 * The variant key of a stored response is built from the request that fetched it: for each
 * header named by the response's `Vary` (lower-case, sorted, de-duplicated) one line
 *
 * ```
 * name ":" normalised-value     header present (possibly empty)
 * name                          header absent (RFC 9111 §4.1: absent only matches absent)
 * ```
 *
 * joined with `"\n"` (field values cannot contain LF, so the encoding is unambiguous).
 *
 * Normalisation (RFC 9111 §4.1 allows normalising whitespace, combining field lines, and
 * semantically equivalent forms):
 * - several field lines are combined with `","`; leading/trailing whitespace is removed,
 *   whitespace around commas is removed and other runs of whitespace become one space;
 * - `Accept-Encoding` is reduced to the *set* of codings the client accepts (RFC 9110 §12.5.3):
 *   names lower-cased, `x-gzip` counted as `gzip`, q-values dropped, members with q=0 left out,
 *   sorted and de-duplicated; codings refused explicitly are kept as `!name` when they matter
 *   (`identity;q=0`, or any refusal beside `*`). So `gzip, deflate, br`, `br,gzip ,deflate` and
 *   `deflate;q=0.5, gzip, br;q=0.9` share one variant `br,deflate,gzip`.
 *   Unlike Varnish, which rewrites the header to just `gzip` (and must then send that rewritten
 *   value to the backend), this needs no cooperation from the forwarding code: whatever coding the
 *   origin picks for one client is one that every client with the same set accepts, so sharing the
 *   variant is always correct. Browsers send only a handful of distinct sets.
 * - `Accept-Language` is lower-cased (language ranges are case-insensitive, RFC 9110 §12.5.4);
 *   the order of its members is kept, since recipients may read it as a preference.
 *
 * @module
 */

import { Memo } from "./_memo.ts";
import { getHeader, type HeaderInput } from "./header_getter.ts";

/**
 * Parses a `Vary` field value.
 *
 * @param value the field value (lines joined with commas), or `null`
 * @returns the lower-case, sorted, de-duplicated field names (`[]` when absent or empty),
 *   or `"*"` when any member is `*`
 */
export function parseVary(value: string | null | undefined): string[] | "*" {
  if (!value) return [];
  const names: string[] = [];
  for (const part of value.split(",")) {
    const name = part.trim().toLowerCase();
    if (name === "*") return "*";
    if (name.length > 0 && !names.includes(name)) names.push(name);
  }
  return names.sort();
}

/**
 * Normalises an `Accept-Encoding` value to the set of content codings the client accepts (see
 * the module doc). Memoised by value.
 *
 * @param value the client's `Accept-Encoding`, or `null`
 * @returns e.g. `"br,deflate,gzip"`; `""` when the field is present but accepts nothing
 *   beyond identity; `null` when absent
 * @example
 * ```ts
 * normalizeAcceptEncoding("gzip, deflate, br;q=0.9"); // "br,deflate,gzip"
 * ```
 */
export function normalizeAcceptEncoding(value: string | null | undefined): string | null {
  if (value == null) return null;
  const hit = AE_MEMO.get(value);
  if (hit !== undefined) return hit;
  return AE_MEMO.set(value, reduceAcceptEncoding(value));
}

const AE_MEMO = new Memo<string>(1024);

function reduceAcceptEncoding(value: string): string {
  const accepted: string[] = [];
  const refused: string[] = [];
  for (const part of value.split(",")) {
    const semi = part.indexOf(";");
    let name = (semi < 0 ? part : part.slice(0, semi)).trim().toLowerCase();
    if (name.length === 0) continue;
    if (name === "x-gzip") name = "gzip";
    else if (name === "x-compress") name = "compress";
    let weight = 1;
    if (semi >= 0) {
      for (const p of part.slice(semi + 1).split(";")) {
        const eq = p.indexOf("=");
        if (eq >= 0 && p.slice(0, eq).trim().toLowerCase() === "q") {
          const n = Number(p.slice(eq + 1).trim());
          weight = Number.isFinite(n) ? n : 0;
        }
      }
    }
    if (weight > 0) {
      if (!accepted.includes(name)) accepted.push(name);
    } else if (!refused.includes(name)) {
      refused.push(name);
    }
  }
  // A coding both accepted and refused (duplicates) counts as refused: the conservative reading.
  const acc = accepted.filter((c) => !refused.includes(c)).sort();
  const star = acc.includes("*");
  const out = acc.filter((c) => c !== "identity");
  for (const r of refused.sort()) if (star || r === "identity" || r === "*") out.push(`!${r}`);
  return out.join(",");
}

/**
 * Normalises one request header value for a variant key (see the module doc).
 *
 * @param name lower-case field name
 * @param value combined field value or `null`
 * @returns the normalised value, or `null` when absent
 */
export function normalizeVaryValue(name: string, value: string | null): string | null {
  if (value === null) return null;
  if (name === "accept-encoding") return normalizeAcceptEncoding(value);
  // Language ranges and their q parameter are case-insensitive (RFC 9110 §12.5.4, RFC 4647 §2):
  // "en-US" and "en-us" are one request. Order is kept: it may mean preference (§12.5.4).
  if (name === "accept-language") value = value.toLowerCase();
  return value.trim().replace(/\s*,\s*/g, ",").replace(/\s+/g, " ");
}

/**
 * Builds the variant key of a request for the given `Vary` names (see the module doc).
 *
 * @param names lower-case field names from {@link parseVary} (or `StoredMeta.vary`)
 * @param reqHeaders the request header fields
 * @returns `""` when `names` is empty; otherwise one line per name, joined with `"\n"`
 * @example
 * ```ts
 * varyKey(["accept-language"], new Headers({ "Accept-Language": " en,  fr " })); // "accept-language:en,fr"
 * ```
 */
export function varyKey(names: readonly string[], reqHeaders: HeaderInput): string {
  if (names.length === 0) return "";
  let key = "";
  for (let i = 0; i < names.length; i++) {
    const name = names[i];
    const value = normalizeVaryValue(name, getHeader(reqHeaders, name));
    if (i > 0) key += "\n";
    key += value === null ? name : `${name}:${value}`;
  }
  return key;
}

/**
 * Tells whether a stored response's variant matches a new request (RFC 9111 §4.1). A response
 * with `Vary: *` never matches.
 *
 * @param meta the stored response's `vary` names and `variant` key (a `StoredMeta` fits)
 * @param reqHeaders the new request's header fields
 * @returns true when the stored response was selected by equivalent request headers
 */
export function varyMatches(meta: { vary: readonly string[]; variant: string }, reqHeaders: HeaderInput): boolean {
  if (meta.vary.includes("*")) return false;
  return varyKey(meta.vary, reqHeaders) === meta.variant;
}
