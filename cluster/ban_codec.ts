/**
 * Pure codec of purge bans (cluster-wide invalidation): one {@link Ban} and a {@link BanSet} (the
 * ban list of a node) ⇄ bytes. The same bytes travel in the gossip `purge` and `bans` messages
 * (`codec.ts`) and are written to `bans.bin` in the first cache directory so bans survive a
 * restart of a cache with a disk tier. No sockets, clocks or logs.
 *
 * All integers are big-endian. A time is milliseconds since the epoch as two u32 (hi × 2³² + lo).
 *
 * ## Ban
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------+-----------------------------------------------+
 * |  kind (u8)    |  time hi (u32) ...                            |
 * +---------------+-----------------------------------------------+
 * |  ... time hi  |  time lo (u32) ...                            |
 * +---------------+---------------+-------------------------------+
 * |  ... time lo  | id length u8  |  id (ASCII, 1-64 bytes) ...   |
 * +---------------+---------------+-------------------------------+
 * | origin len u8 |  origin node name (UTF-8, 0-255 bytes) ...    |
 * +-------------------------------+-------------------------------+
 * | pattern length (u16)          |  pattern (UTF-8) ...          |
 * +-------------------------------+-------------------------------+
 * ```
 *
 * Kinds (wire values; only append): 1 `url` (one normalised URL, all its variants), 2 `prefix`
 * (every URL starting with the pattern), 3 `regex` (every URL the JavaScript regular expression
 * matches).
 *
 * ## Ban set
 *
 * ```
 * +---------------------------------------------------------------+
 * |  magic "WCBN" (0x5743424e)                                    |
 * +---------------+-----------------------------------------------+
 * | version = 1   |  floor hi (u32) ...                           |
 * +---------------+-----------------------------------------------+
 * |  ... floor hi |  floor lo (u32) ...                           |
 * +---------------+-----------------------------------------------+
 * |  ... floor lo |  count (u32) ...                              |
 * +---------------+-----------------------------------------------+
 * |  ... count    |  count × (length u16 | ban) ...              |
 * +---------------+-----------------------------------------------+
 * ```
 *
 * `floor`: every object stored before it counts as purged (bans retired from the list fold into it).
 *
 * @module
 */

/** What a ban matches. */
export type BanKind = "url" | "prefix" | "regex";

/** Wire values of {@link BanKind}. */
export const BAN_KIND = { url: 1, prefix: 2, regex: 3 } as const;

/** One purge: objects stored before `timeMs` whose URL matches are treated as absent. */
export interface Ban {
  /** Random id (hex), the same on every node; bans are merged by id. */
  id: string;
  /** How `pattern` matches a URL. */
  kind: BanKind;
  /** A normalised URL (`url`, `prefix`) or a regular expression source (`regex`). */
  pattern: string;
  /** When it was issued, ms since the epoch, on the node that received the purge. */
  timeMs: number;
  /** Name of that node. */
  origin: string;
}

/** A node's ban list. */
export interface BanSet {
  /** Objects stored before this time (ms since the epoch) count as purged; 0 when none. */
  floorMs: number;
  /** The bans, any order. */
  bans: Ban[];
}

/**
 * Longest pattern: a URL is at most a few KiB in practice (the cache refuses longer request heads),
 * and a regular expression longer than this is a mistake or an attack on the matcher.
 */
export const MAX_BAN_PATTERN_BYTES = 8192;
/** Longest id. */
export const MAX_BAN_ID_BYTES = 64;
/** Most bans in one set: bounds the decoder's work (the configured limits are far lower). */
export const MAX_BAN_SET_COUNT = 1_000_000;
/** `WCBN`. */
export const BAN_SET_MAGIC = 0x5743424e;
/** Ban set format version. */
export const BAN_SET_VERSION = 1;

/** Malformed ban bytes; `offset` says where decoding stopped. */
export class BanDecodeError extends SyntaxError {
  /** Byte offset where the problem was found. */
  readonly offset: number;
  /**
   * Creates the error.
   *
   * @param offset where decoding stopped
   */
  constructor(message: string, offset: number) {
    super(message);
    this.name = "BanDecodeError";
    this.offset = offset;
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

function kindName(v: number): BanKind | undefined {
  for (const [k, w] of Object.entries(BAN_KIND)) if (w === v) return k as BanKind;
  return undefined;
}

function checkTime(t: number, what: string): void {
  if (!Number.isSafeInteger(t) || t < 0) throw new RangeError(`Cannot encode ${what} ${t}: not a time in ms`);
}

/**
 * Encodes one ban.
 *
 * @throws {RangeError} when the id, origin or pattern is too long, or the time is not a time in ms
 * @example
 * ```ts
 * encodeBan({ id: "ab12", kind: "prefix", pattern: "http://h/a/", timeMs: 1, origin: "c1" });
 * ```
 */
export function encodeBan(b: Ban): Uint8Array {
  checkTime(b.timeMs, "ban time");
  const id = enc.encode(b.id);
  const origin = enc.encode(b.origin);
  const pattern = enc.encode(b.pattern);
  if (id.length < 1 || id.length > MAX_BAN_ID_BYTES) {
    throw new RangeError(`Cannot encode ban: id of ${id.length} bytes is not 1-${MAX_BAN_ID_BYTES}`);
  }
  if (origin.length > 255) throw new RangeError(`Cannot encode ban: origin of ${origin.length} bytes exceeds 255`);
  if (pattern.length > MAX_BAN_PATTERN_BYTES) {
    throw new RangeError(`Cannot encode ban: pattern of ${pattern.length} bytes exceeds ${MAX_BAN_PATTERN_BYTES}`);
  }
  const out = new Uint8Array(1 + 8 + 1 + id.length + 1 + origin.length + 2 + pattern.length);
  const v = new DataView(out.buffer);
  let o = 0;
  v.setUint8(o++, BAN_KIND[b.kind]);
  v.setUint32(o, Math.floor(b.timeMs / 2 ** 32));
  v.setUint32(o + 4, b.timeMs >>> 0);
  o += 8;
  v.setUint8(o++, id.length);
  out.set(id, o);
  o += id.length;
  v.setUint8(o++, origin.length);
  out.set(origin, o);
  o += origin.length;
  v.setUint16(o, pattern.length);
  out.set(pattern, o + 2);
  return out;
}

/**
 * Decodes one ban (exactly `b`, no trailing bytes).
 *
 * @param base offset of `b` in the enclosing input, for error offsets
 * @throws {BanDecodeError} when truncated, of an unknown kind, not UTF-8, too long or followed by bytes
 */
export function decodeBan(b: Uint8Array, base = 0): Ban {
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  let o = 0;
  const need = (n: number, what: string) => {
    if (o + n > b.length) {
      throw new BanDecodeError(`Cannot decode ban: ${what} needs ${n} bytes at offset ${base + o}`, base + o);
    }
  };
  const text = (n: number, what: string) => {
    need(n, what);
    try {
      return dec.decode(b.subarray(o, o + n));
    } catch {
      throw new BanDecodeError(`Cannot decode ban: ${what} is not UTF-8`, base + o);
    } finally {
      o += n;
    }
  };
  need(9, "kind and time");
  const kind = kindName(v.getUint8(0));
  if (!kind) throw new BanDecodeError(`Cannot decode ban: kind ${v.getUint8(0)} is unknown`, base);
  const timeMs = v.getUint32(1) * 2 ** 32 + v.getUint32(5);
  if (!Number.isSafeInteger(timeMs)) {
    throw new BanDecodeError(`Cannot decode ban: time ${timeMs} is too large`, base + 1);
  }
  o = 9;
  need(1, "id length");
  const idLen = v.getUint8(o++);
  if (idLen < 1 || idLen > MAX_BAN_ID_BYTES) {
    throw new BanDecodeError(`Cannot decode ban: id length ${idLen} is not 1-${MAX_BAN_ID_BYTES}`, base + o - 1);
  }
  const id = text(idLen, "id");
  need(1, "origin length");
  const origin = text(v.getUint8(o++), "origin");
  need(2, "pattern length");
  const pLen = v.getUint16(o);
  if (pLen > MAX_BAN_PATTERN_BYTES) {
    throw new BanDecodeError(`Cannot decode ban: pattern length ${pLen} exceeds ${MAX_BAN_PATTERN_BYTES}`, base + o);
  }
  o += 2;
  const pattern = text(pLen, "pattern");
  if (o !== b.length) throw new BanDecodeError(`Cannot decode ban: ${b.length - o} trailing bytes`, base + o);
  return { id, kind, pattern, timeMs, origin };
}

/**
 * Encodes a ban set.
 *
 * @throws {RangeError} when a ban cannot be encoded or there are more than {@link MAX_BAN_SET_COUNT}
 */
export function encodeBanSet(s: BanSet): Uint8Array {
  checkTime(s.floorMs, "ban floor");
  if (s.bans.length > MAX_BAN_SET_COUNT) {
    throw new RangeError(`Cannot encode ban set: ${s.bans.length} bans exceed ${MAX_BAN_SET_COUNT}`);
  }
  const parts = s.bans.map(encodeBan);
  const out = new Uint8Array(17 + parts.reduce((n, p) => n + 2 + p.length, 0));
  const v = new DataView(out.buffer);
  v.setUint32(0, BAN_SET_MAGIC);
  v.setUint8(4, BAN_SET_VERSION);
  v.setUint32(5, Math.floor(s.floorMs / 2 ** 32));
  v.setUint32(9, s.floorMs >>> 0);
  v.setUint32(13, parts.length);
  let o = 17;
  for (const p of parts) {
    v.setUint16(o, p.length);
    out.set(p, o + 2);
    o += 2 + p.length;
  }
  return out;
}

/**
 * Decodes a ban set.
 *
 * @throws {BanDecodeError} on a wrong magic or version, a truncated or oversized input, a bad ban or trailing bytes
 */
export function decodeBanSet(b: Uint8Array): BanSet {
  if (b.length < 17) {
    throw new BanDecodeError(`Cannot decode ban set: length ${b.length} is less than header size 17`, 0);
  }
  const v = new DataView(b.buffer, b.byteOffset, b.byteLength);
  if (v.getUint32(0) !== BAN_SET_MAGIC) throw new BanDecodeError("Cannot decode ban set: magic is not WCBN", 0);
  if (v.getUint8(4) !== BAN_SET_VERSION) {
    throw new BanDecodeError(`Cannot decode ban set: version ${v.getUint8(4)} is not ${BAN_SET_VERSION}`, 4);
  }
  const floorMs = v.getUint32(5) * 2 ** 32 + v.getUint32(9);
  if (!Number.isSafeInteger(floorMs)) throw new BanDecodeError(`Cannot decode ban set: floor is too large`, 5);
  const count = v.getUint32(13);
  if (count > MAX_BAN_SET_COUNT) {
    throw new BanDecodeError(`Cannot decode ban set: ${count} bans exceed ${MAX_BAN_SET_COUNT}`, 13);
  }
  const bans: Ban[] = [];
  let o = 17;
  for (let i = 0; i < count; i++) {
    if (o + 2 > b.length) throw new BanDecodeError(`Cannot decode ban set: ban ${i} length is missing`, o);
    const n = v.getUint16(o);
    if (o + 2 + n > b.length) throw new BanDecodeError(`Cannot decode ban set: ban ${i} is truncated`, o);
    bans.push(decodeBan(b.subarray(o + 2, o + 2 + n), o + 2));
    o += 2 + n;
  }
  if (o !== b.length) throw new BanDecodeError(`Cannot decode ban set: ${b.length - o} trailing bytes`, o);
  return { floorMs, bans };
}
