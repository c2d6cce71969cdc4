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
 * - `Accept-Encoding` is reduced the way Varnish does it: to the known content codings the client
 *   accepts (q > 0) in a fixed order (`br,gzip,zstd`; `x-gzip` counts as gzip; `*` as all), or
 *   absent when none — so the thousands of browser spellings collapse into a handful of
 *   variants. For this to be correct the cache MUST send the normalised value to the origin
 *   (see {@link normalizeAcceptEncoding}); otherwise the origin may pick a coding (deflate, say)
 *   for one client that another client sharing the variant does not accept.
 *
 * @module
 */

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

const KNOWN_CODINGS = ["br", "gzip", "zstd"];

/**
 * Normalises an `Accept-Encoding` value to the known codings the client accepts (RFC 9110
 * §12.5.3): `br`, `gzip` (also `x-gzip`) and `zstd` with q > 0, sorted and comma-joined; `*`
 * accepts each coding not listed explicitly. Send the result to the origin instead of the
 * client's value when the response may vary on it.
 *
 * @param value the client's `Accept-Encoding`, or `null`
 * @returns e.g. `"br,gzip"`, or `null` when the client accepts none of them (send no header)
 * @example
 * ```ts
 * normalizeAcceptEncoding("gzip, deflate, br;q=0.9"); // "br,gzip"
 * ```
 */
export function normalizeAcceptEncoding(value: string | null | undefined): string | null {
  if (!value) return null;
  const q = new Map<string, number>();
  let star: number | undefined;
  for (const part of value.split(",")) {
    const [rawName, ...params] = part.split(";");
    let name = rawName.trim().toLowerCase();
    if (name === "x-gzip") name = "gzip";
    let weight = 1;
    for (const p of params) {
      const [k, v] = p.split("=");
      if (k.trim().toLowerCase() === "q") {
        const n = Number(v?.trim());
        weight = Number.isFinite(n) ? n : 0;
      }
    }
    if (name === "*") star = weight;
    else if (KNOWN_CODINGS.includes(name)) q.set(name, Math.min(q.get(name) ?? weight, weight));
  }
  const accepted = KNOWN_CODINGS.filter((c) => (q.get(c) ?? star ?? 0) > 0);
  return accepted.length > 0 ? accepted.join(",") : null;
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
