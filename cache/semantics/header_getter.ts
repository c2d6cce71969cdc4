/**
 * Header access shared by every function in `cache/semantics/`.
 *
 * Inputs accept anything with `get(name)` (a Web `Headers`, or the adapter below) or a header
 * list `[name, value][]` as stored in `StoredMeta.headers`. Outputs are header lists with
 * lower-case names.
 *
 * @module
 */

/** Anything that can look a header up by name (case-insensitive), e.g. a Web `Headers`. */
export interface HeaderGetter {
  /** Returns the combined field value (lines joined with `", "`), or `null` when absent. */
  get(name: string): string | null;
}

/** A header list with lower-case names, in wire order; repeated names are separate lines. */
export type HeaderList = [string, string][];

/** What header arguments accept: a {@link HeaderGetter} or a (read-only) header list. */
export type HeaderInput = HeaderGetter | readonly (readonly [string, string])[];

/**
 * Looks a header up in either kind of input. Several lines of one field in a list are joined
 * with `", "` as RFC 9110 §5.3 allows (callers must not use this for `Set-Cookie`).
 *
 * @param headers a `Headers`-like object or a header list (names compared case-insensitively)
 * @param name the lower-case field name
 * @returns the combined value or `null` when absent
 * @example
 * ```ts
 * getHeader([["cache-control", "max-age=60"]], "cache-control"); // "max-age=60"
 * ```
 */
export function getHeader(headers: HeaderInput, name: string): string | null {
  if (!isHeaderList(headers)) return headers.get(name);
  let out: string | null = null;
  for (let i = 0; i < headers.length; i++) {
    const line = headers[i];
    const n = line[0];
    if (n === name || (n.length === name.length && n.toLowerCase() === name)) {
      out = out === null ? line[1] : `${out}, ${line[1]}`;
    }
  }
  return out;
}

/**
 * Adapts a header list to a {@link HeaderGetter}.
 *
 * @param list header list (names in any case)
 * @returns a getter whose `get()` is case-insensitive and joins repeated lines with `", "`
 */
export function headerListGetter(list: readonly (readonly [string, string])[]): HeaderGetter {
  return { get: (name: string) => getHeader(list, name.toLowerCase()) };
}

/**
 * Tells a header list from a {@link HeaderGetter}.
 *
 * @param headers either input kind
 * @returns true when `headers` is an array of `[name, value]` pairs
 */
export function isHeaderList(headers: HeaderInput): headers is readonly (readonly [string, string])[] {
  return Array.isArray(headers);
}
