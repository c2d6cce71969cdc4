/**
 * `Content-Range` of a 206 response (RFC 9110 §14.4), as a cache reads it to store the part.
 *
 * ```
 * Content-Range       = range-unit SP ( range-resp / unsatisfied-range )
 * range-resp          = incl-range "/" ( complete-length / "*" )
 * incl-range          = first-pos "-" last-pos
 * unsatisfied-range   = "*" "/" complete-length
 * ```
 *
 * Only what a cache can store is accepted: unit `bytes`, a satisfied range with
 * `first-pos ≤ last-pos < complete-length`, and a known complete length (a part of an object of
 * unknown size cannot answer suffix ranges, be combined safely, or ever become complete).
 * Anything else (`*` lengths, `bytes *\/1234`, other units, a multipart answer without the field)
 * yields `undefined`: such a 206 is relayed but not stored (RFC 9111 §3.3: a cache MUST NOT store
 * partial content whose ranges it does not understand).
 *
 * @module
 */

/** A satisfied byte range of a representation of known size. Positions are inclusive. */
export interface ContentRange {
  /** First byte position. */
  start: number;
  /** Last byte position (inclusive). */
  end: number;
  /** Length of the complete representation in bytes. */
  length: number;
}

const RE = /^bytes[ \t]+(\d{1,15})-(\d{1,15})\/(\d{1,15})$/i;

/**
 * Parses a 206 response's `Content-Range`.
 *
 * @param value the field value, or `null` when absent
 * @returns start, end and complete length, or `undefined` when not a storable single range
 * @example
 * ```ts
 * parseContentRange("bytes 4-9/10"); // { start: 4, end: 9, length: 10 }
 * parseContentRange("bytes 0-4/*"); // undefined
 * ```
 */
export function parseContentRange(value: string | null | undefined): ContentRange | undefined {
  if (!value) return undefined;
  const m = RE.exec(value.trim());
  if (!m) return undefined;
  const start = Number(m[1]);
  const end = Number(m[2]);
  const length = Number(m[3]);
  if (start > end || end >= length) return undefined;
  return { start, end, length };
}
