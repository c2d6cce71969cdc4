/**
 * `HeaderList`: an ordered list of HTTP header fields with lower-case names, as they appear on the
 * wire. Unlike `Headers` it keeps order and repeated fields, which a proxy must forward unchanged,
 * and it offers the `get(name)` shape the RFC 9111 decision functions take.
 *
 * @module
 */

/** An ordered, case-insensitive list of header fields. Names are stored lower-case. */
export class HeaderList {
  /** The fields, `[lower-case name, value]`, in wire order. */
  readonly fields: [string, string][];

  /**
   * Creates a list from wire-order fields.
   *
   * @param fields initial fields; names must already be lower-case
   */
  constructor(fields: [string, string][] = []) {
    this.fields = fields;
  }

  /**
   * Returns the combined value of a field (repeated fields joined with `", "`, RFC 9110 5.3), or
   * null when absent.
   *
   * @param name field name, any case
   */
  get(name: string): string | null {
    const n = name.toLowerCase();
    let out: string | null = null;
    for (const [k, v] of this.fields) {
      if (k === n) out = out === null ? v : `${out}, ${v}`;
    }
    return out;
  }

  /** Returns every value of a field, one per line on the wire. */
  getAll(name: string): string[] {
    const n = name.toLowerCase();
    const out: string[] = [];
    for (const [k, v] of this.fields) if (k === n) out.push(v);
    return out;
  }

  /** Whether the field is present. */
  has(name: string): boolean {
    const n = name.toLowerCase();
    for (const [k] of this.fields) if (k === n) return true;
    return false;
  }

  /** Replaces every occurrence of a field with one value. */
  set(name: string, value: string): void {
    this.delete(name);
    this.fields.push([name.toLowerCase(), value]);
  }

  /** Appends one more field line. */
  append(name: string, value: string): void {
    this.fields.push([name.toLowerCase(), value]);
  }

  /** Removes every occurrence of a field. */
  delete(name: string): void {
    const n = name.toLowerCase();
    for (let i = this.fields.length - 1; i >= 0; i--) {
      if (this.fields[i][0] === n) this.fields.splice(i, 1);
    }
  }

  /** A copy that can be changed without touching this list. */
  clone(): HeaderList {
    return new HeaderList(this.fields.map(([k, v]) => [k, v]));
  }
}
