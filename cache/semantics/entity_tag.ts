/**
 * Entity tags and their comparison (RFC 9110 §8.8.3).
 *
 * ```
 * entity-tag = [ "W/" ] DQUOTE *etagc DQUOTE
 * ```
 *
 * | ETag 1 | ETag 2 | strong comparison | weak comparison |
 * |--------|--------|-------------------|-----------------|
 * | W/"1"  | W/"1"  | no match          | match           |
 * | W/"1"  | W/"2"  | no match          | no match        |
 * | W/"1"  | "1"    | no match          | match           |
 * | "1"    | "1"    | match             | match           |
 *
 * @module
 */

/** A parsed entity-tag. */
export interface EntityTag {
  /** True for `W/"..."`. */
  weak: boolean;
  /** The opaque tag without quotes. */
  tag: string;
}

/**
 * Parses one entity-tag, tolerating surrounding whitespace.
 *
 * @param value e.g. `W/"xyzzy"`
 * @returns the tag, or `undefined` when malformed
 */
export function parseEntityTag(value: string | null | undefined): EntityTag | undefined {
  if (value == null) return undefined;
  let s = value.trim();
  let weak = false;
  if (s.startsWith("W/")) {
    weak = true;
    s = s.slice(2);
  }
  if (s.length < 2 || s[0] !== '"' || s[s.length - 1] !== '"') return undefined;
  const tag = s.slice(1, -1);
  if (tag.includes('"')) return undefined;
  return { weak, tag };
}

/**
 * Parses an `If-Match`/`If-None-Match` value: `*` or a list of entity-tags. Malformed members
 * are skipped.
 *
 * @param value the field value
 * @returns `"*"` or the list of tags
 */
export function parseEntityTagList(value: string): EntityTag[] | "*" {
  if (value.trim() === "*") return "*";
  const out: EntityTag[] = [];
  const re = /\s*(W\/)?"([^"]*)"\s*(?:,|$)/gy;
  let m: RegExpExecArray | null;
  // Walk the list; skip junk between members.
  let i = 0;
  while (i < value.length) {
    re.lastIndex = i;
    m = re.exec(value);
    if (m === null) {
      const comma = value.indexOf(",", i);
      if (comma < 0) break;
      i = comma + 1;
      continue;
    }
    out.push({ weak: m[1] !== undefined, tag: m[2] });
    i = re.lastIndex;
  }
  return out;
}

/** Strong comparison: both strong and identical (RFC 9110 §8.8.3.2). */
export function strongMatch(a: EntityTag, b: EntityTag): boolean {
  return !a.weak && !b.weak && a.tag === b.tag;
}

/** Weak comparison: identical opaque tags, either or both may be weak (RFC 9110 §8.8.3.2). */
export function weakMatch(a: EntityTag, b: EntityTag): boolean {
  return a.tag === b.tag;
}
