/**
 * `CompactMeta`: the {@link StoredMeta} of an object held by the memory tier, in as few heap
 * objects as the garbage collector can manage. Every scavenge copies, and every mark-compact walks,
 * each heap object of each stored object, so their number sets the length of the pauses under a
 * miss load (`bench/miss_path.md`).
 *
 * A plain `StoredMeta` with seven header fields is ~17 heap objects besides itself: the list and
 * its backing store, a `[name, value]` array and its backing store per field, the values (often
 * slices of the origin's response head text, which they keep alive whole), and an empty `vary`
 * array. A `CompactMeta` holds all its fields in ONE flat string, copied out of the head text:
 *
 *     name0 \n value0 \n name1 \n value1 ... \n nameN-1 \n valueN-1      ("" when there is none)
 *
 * (Field names and values never hold a line feed once parsed; a list that does is kept as it is,
 * uncompacted.) `headers` reads as `[string, string][]` like any `StoredMeta`'s: it is an own,
 * enumerable accessor property that decodes the string on first use and keeps the list (hits of an
 * object decode once; objects never hit stay compact). Being an own enumerable property, it is
 * copied by `{ ...meta }` and by structured cloning like a data property. Assigning it packs the
 * new list. {@link storedHeaderList} reads the fields without keeping the decoded list (the
 * observers every stored object passes through). An empty `vary` is one shared frozen array.
 *
 * Times: a time in ms since the epoch is no small integer, so V8 boxes each such field in a heap
 * number of its own. Only `responseTime` is kept so; `requestTime` and `expiresAt` are kept as
 * their (small, integer) difference from it, behind own accessors like `headers`, and as they are
 * when the difference is not a small integer (more than ~12 days, or fractions).
 *
 * @module
 */
import type { StoredMeta } from "./store.ts";

/** The `vary` of every compact object that varies on nothing (frozen: shared by all of them). */
export const NO_VARY: string[] = Object.freeze([]) as unknown as string[];

const SEP = "\n";

/**
 * Packs a header list into the flat form of the module doc.
 *
 * @param headers the fields
 * @returns the packed string, or undefined when a name or value holds a line feed
 */
function pack(headers: readonly (readonly [string, string])[]): string | undefined {
  if (headers.length === 0) return "";
  const parts = new Array<string>(headers.length * 2);
  let i = 0;
  for (const [k, v] of headers) {
    if (k.includes(SEP) || v.includes(SEP)) return undefined;
    parts[i++] = k;
    parts[i++] = v;
  }
  // join() builds one new sequential string: nothing of the origin's head text stays referenced.
  return parts.join(SEP);
}

/**
 * Decodes the flat form of the module doc.
 *
 * @param packed the packed string
 * @returns a new header list
 */
function unpack(packed: string): [string, string][] {
  if (packed === "") return [];
  const parts = packed.split(SEP);
  const out = new Array<[string, string]>(parts.length >> 1);
  for (let i = 0, j = 0; j < out.length; i += 2, j++) out[j] = [parts[i], parts[i + 1]];
  return out;
}

/** Largest difference of two times held as a small integer (V8's 31-bit Smi: no heap number). */
const SMALL_MS = 2 ** 30 - 1;

/**
 * A time difference as a small integer, if it is one.
 *
 * @param d the difference in ms
 * @returns `d` when it is an integer of at most {@link SMALL_MS} either way, else undefined
 */
function small(d: number): number | undefined {
  return Number.isInteger(d) && d <= SMALL_MS && d >= -SMALL_MS ? d : undefined;
}

/**
 * `t - base` as a small integer when `base + (t - base)` gives `t` back exactly.
 *
 * @param base the time kept whole (`responseTime`)
 * @param t another time
 * @returns the difference, or undefined when `t` must be kept as it is
 */
function offset(base: number, t: number): number | undefined {
  const d = small(t - base);
  return d !== undefined && base + d === t ? d : undefined;
}

/** The stored form of a {@link StoredMeta} in the memory tier; see the module doc. */
export class CompactMeta implements StoredMeta {
  readonly primary: string;
  readonly variant: string;
  readonly status: number;
  readonly vary: string[];
  readonly responseTime: number;
  readonly bodyBytes: number;
  /** An own accessor (see the module doc), defined in the constructor. */
  declare headers: [string, string][];
  /** An own accessor over `#request` (see the module doc), defined in the constructor. */
  declare requestTime: number;
  /** An own accessor over `#expires` (see the module doc), defined in the constructor. */
  declare expiresAt: number;
  /** `requestTime - responseTime` (a small integer), or `requestTime` itself when `#exact & 1`. */
  #request: number;
  /** `expiresAt - responseTime` (a small integer), or `expiresAt` itself when `#exact & 2`. */
  #expires: number;
  /** Which of `#request` and `#expires` hold the time itself rather than a difference. */
  #exact: number;
  /** The packed fields; undefined when they could not be packed (then `#list` holds them). */
  #packed: string | undefined;
  /** The decoded (or unpackable) list, once read. */
  #list: [string, string][] | undefined;

  /** The `headers` accessor, shared by every instance (one map, no closure per object). */
  static readonly #HEADERS: PropertyDescriptor = {
    get(this: CompactMeta): [string, string][] {
      return this.#list ??= unpack(this.#packed!);
    },
    set(this: CompactMeta, headers: [string, string][]) {
      this.#packed = pack(headers);
      this.#list = this.#packed === undefined ? headers : undefined;
    },
    enumerable: true,
    configurable: false,
  };

  /** The `requestTime` accessor, shared by every instance. */
  static readonly #REQUEST_TIME: PropertyDescriptor = {
    get(this: CompactMeta): number {
      return this.#exact & 1 ? this.#request : this.responseTime + this.#request;
    },
    set(this: CompactMeta, t: number) {
      const d = offset(this.responseTime, t);
      this.#request = d ?? t;
      this.#exact = d === undefined ? this.#exact | 1 : this.#exact & ~1;
    },
    enumerable: true,
    configurable: false,
  };

  /** The `expiresAt` accessor, shared by every instance. */
  static readonly #EXPIRES_AT: PropertyDescriptor = {
    get(this: CompactMeta): number {
      return this.#exact & 2 ? this.#expires : this.responseTime + this.#expires;
    },
    set(this: CompactMeta, t: number) {
      const d = offset(this.responseTime, t);
      this.#expires = d ?? t;
      this.#exact = d === undefined ? this.#exact | 2 : this.#exact & ~2;
    },
    enumerable: true,
    configurable: false,
  };

  /**
   * Copies a metadata record into the compact form.
   *
   * @param meta the metadata (not kept; its header list is packed)
   * @param bodyBytes the body length, replacing `meta.bodyBytes`
   */
  constructor(meta: StoredMeta, bodyBytes: number) {
    this.primary = meta.primary;
    this.variant = meta.variant;
    this.status = meta.status;
    this.vary = meta.vary.length === 0 ? NO_VARY : meta.vary;
    this.responseTime = meta.responseTime;
    this.bodyBytes = bodyBytes;
    const q = offset(this.responseTime, meta.requestTime), e = offset(this.responseTime, meta.expiresAt);
    // Each time that is not a small integer away from responseTime is kept as it is (exact).
    this.#request = q ?? meta.requestTime;
    this.#expires = e ?? meta.expiresAt;
    this.#exact = (q === undefined ? 1 : 0) | (e === undefined ? 2 : 0);
    const h = meta instanceof CompactMeta ? meta.#packed : undefined;
    this.#packed = h ?? pack(meta.headers);
    this.#list = this.#packed === undefined ? meta.headers : undefined;
    // One defineProperty per accessor: ~30 % cheaper than Object.defineProperties with a map of
    // the three (which lists and converts the map's entries on every call; ~1 µs per stored object).
    Object.defineProperty(this, "headers", CompactMeta.#HEADERS);
    Object.defineProperty(this, "requestTime", CompactMeta.#REQUEST_TIME);
    Object.defineProperty(this, "expiresAt", CompactMeta.#EXPIRES_AT);
  }

  /**
   * The header fields of a metadata record, without keeping a decoded list on a compact one (a
   * new list then, to read and drop).
   *
   * @param meta any stored metadata
   * @returns its header fields
   */
  static headerList(meta: StoredMeta): readonly (readonly [string, string])[] {
    if (!(meta instanceof CompactMeta)) return meta.headers;
    return meta.#list ?? unpack(meta.#packed!);
  }

  /**
   * Whether the fields are held packed and not decoded (for tests and heap accounting).
   *
   * @param meta a compact record
   * @returns true while `headers` has not been read
   */
  static isPacked(meta: CompactMeta): boolean {
    return meta.#list === undefined;
  }
}

/**
 * The header fields of any stored metadata without decoding-and-keeping a compact object's list;
 * see {@link CompactMeta.headerList}.
 *
 * @param meta stored metadata
 * @returns its header fields (do not modify)
 */
export function storedHeaderList(meta: StoredMeta): readonly (readonly [string, string])[] {
  return CompactMeta.headerList(meta);
}
