/**
 * The rock file format: many small objects in one preallocated file of fixed-size slots, grouped
 * in sets (set-associative, like a CPU cache). Pure codec: no file access, clocks or logs.
 *
 * All integers are little-endian; times are IEEE-754 binary64 ms since the Unix epoch
 * (`Infinity` allowed for "never expires").
 *
 * File layout (`DIR/rock.slots`):
 *
 * ```text
 * offset 0                   file header (FILE_HEADER_BYTES = 4096, the first 64 bytes used)
 * offset 4096                the directory: sets × ways slot headers of 64 bytes, set by set
 *                            (the "table" of set s: its ways' headers, at 4096 + s × ways × 64),
 *                            zero-padded to a multiple of 4096
 * offset 4096 + D            the slots, slotBytes each: the record of way w of set s at
 *                            4096 + D + (s × ways + w) × slotBytes
 * ```
 *
 * The headers sit together (as Squid's and Traffic Server's directories do), apart from the
 * records: a lookup, and every miss, reads only the directory, which is small (1/256 of the file
 * with 16 KiB slots) and stays in the page cache; a record is read only for a hit.
 *
 * An object's set is `primary hash (high u32) mod sets`: every variant of a URL lives in one set,
 * so `variants()` reads one table. A record is the object's entry header block (the ufs object
 * header, `../entry_format.ts`, without block table) followed by the body; it must fit one slot.
 *
 * File header (64 bytes used):
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |              magic "WCRF" (0x57 0x43 0x52 0x46)                |  0
 * |   format version (u16) = 1    |         reserved (0)          |  4
 * |                       slot bytes (u32)                         |  8
 * |                          ways (u32)                            | 12
 * |                          sets (u32)                            | 16
 * |                        reserved (0)                            | 20
 * |             generation (16 random bytes)                       | 24
 * |                 created (f64, ms)                              | 40
 * |                 reserved (0), 12 bytes                         | 48
 * |          header CRC-32C (u32) of bytes 0..59                   | 60
 * +---------------------------------------------------------------+
 * ```
 *
 * Slot header (64 bytes; all zero = empty way):
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |              magic "WCSL" (0x57 0x43 0x53 0x4C)                |  0
 * |  version (u8) = 2 |    flags (u8)      |    reserved (u16, 0)  |  4
 * |                  primary hash, low u32                         |  8
 * |                  primary hash, high u32                        | 12
 * |                  variant hash (u32)                            | 16
 * |                  record length R (u32)                         | 20
 * |                  body length (u32)                             | 24
 * |                  record CRC-32C (u32) of the R record bytes    | 28
 * |                  stored time (f64, ms)                         | 32
 * |                  expires at (f64, ms)                          | 40
 * |                  request time (f64, ms)                        | 48
 * |                  reserved (u32, 0)                             | 56
 * |          slot header CRC-32C (u32) of bytes 0..59              | 60
 * +---------------------------------------------------------------+
 * ```
 *
 * Flags: bit 0 set = "in ufs" marker: the key's object is in the ufs directory beside this one
 * (too large for a slot); the way holds no record (record length, body length and record CRC 0).
 * A lookup asks the ufs directory only when the key's newest header in its set is such a marker,
 * so a miss costs no ufs probe. Other bits are 0.
 *
 * Hashes: 64-bit primary hash and 32-bit variant hash, both {@link keyHash64} (a cyrb53-style
 * multiply-xorshift hash over the UTF-16 code units; not cryptographic); variant hash 0 for `""`.
 * They only locate candidates: a read compares the full keys in the record, so a collision (even
 * a crafted one) costs a miss or an eviction, never a wrong object.
 *
 * The record CRC covers all R bytes. A writer reads the body once: its CRC goes into the entry
 * header, and the record CRC is combined from the entry header block's CRC and the body's
 * (`crc32cCombine`, zlib's `crc32_combine`), which equals the CRC computed over the record.
 *
 * Crash and concurrency safety: a writer writes the record first, then the slot header (two
 * `pwrite`s; the way's old header is not emptied first). A reader checks the header CRC, then the
 * record CRC over the record it read against the header's, then the keys. While a record is being
 * replaced, the old header still names the old record's length and CRC: the new or half-written
 * record fails that CRC (and, being another key's or a newer copy, it could only match by a
 * 2^-32 chance, and then its keys are still compared). A record torn by a crash, a failed write
 * or a concurrent writer of the same way (any order of the four writes of two writers) fails its
 * CRC and reads as a miss, never as wrong bytes.
 *
 * Version history: 1 — first version (SHA-256 hashes); 2 — flags byte ("in ufs" marker),
 * {@link keyHash64} hashes.
 *
 * @module
 */
import type { StoredMeta } from "../../store.ts";
import { crc32c, crc32cCombine } from "../crc32c.ts";
import {
  decodeEntryHeader,
  encodeEntryHeader,
  type EntryHeader,
  entryHeaderLength,
  validatorsOf,
} from "../entry_format.ts";

/** "WCRF" read as a little-endian u32: the rock file header magic. */
export const ROCK_FILE_MAGIC = 0x46524357;
/** "WCSL" read as a little-endian u32: the slot header magic. */
export const SLOT_MAGIC = 0x4c534357;
/** Format version written and read. */
export const ROCK_FORMAT_VERSION = 2;
/** Slot header flag: the key's object is in the ufs directory (a marker, no record). */
export const SLOT_FLAG_IN_UFS = 1;
/** Bytes reserved for the file header (one page). */
export const FILE_HEADER_BYTES = 4096;
/** The directory is padded to a multiple of this, so the slots start page-aligned. */
const PAGE_BYTES = 4096;
/** Bytes of one slot header. */
export const SLOT_HEADER_BYTES = 64;
/**
 * Smallest slot (1 KiB): an entry header with a short URL and a few response headers already
 * takes several hundred bytes.
 */
export const MIN_SLOT_BYTES = 1024;
/** Largest slot (1 MiB): a record is read and written whole, in one system call. */
export const MAX_SLOT_BYTES = 1024 * 1024;
/** Most ways per set (a lookup reads ways × 64 bytes of table). */
export const MAX_WAYS = 64;

/** Thrown when a rock file header or a geometry is invalid. */
export class RockFormatError extends SyntaxError {
  /**
   * @param message what is wrong
   * @param options `cause`
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "RockFormatError";
  }
}

/** How a rock file is divided. */
export interface RockGeometry {
  /** Bytes of one slot (one record at most). */
  slotBytes: number;
  /** Slots per set. */
  ways: number;
  /** Number of sets. */
  sets: number;
}

/** The decoded file header. */
export interface RockFileHeader extends RockGeometry {
  /** 32 hex digits, random when the file was created. */
  generation: string;
  /** When the file was created (ms). */
  created: number;
}

/** The decoded header of one slot. */
export interface SlotHeader {
  phLo: number;
  phHi: number;
  vh: number;
  /** Record length R (entry header block + body). */
  recordBytes: number;
  bodyBytes: number;
  recordCrc: number;
  storedTime: number;
  expiresAt: number;
  requestTime: number;
  /** An "in ufs" marker (no record here; see the module doc). */
  inUfs: boolean;
}

/** The hashes that locate an object. */
export interface RockKeyHash {
  phLo: number;
  phHi: number;
  vh: number;
}

/**
 * The geometry of a rock file of at most `maxBytes`: as many whole sets as fit after the file
 * header.
 *
 * @param maxBytes the directory's size limit
 * @param opts slot size and ways
 * @throws {RangeError} when the sizes are out of range or not even one set fits
 */
export function rockGeometry(maxBytes: number, opts: { slotBytes: number; ways: number }): RockGeometry {
  const { slotBytes, ways } = opts;
  if (!Number.isInteger(slotBytes) || slotBytes < MIN_SLOT_BYTES || slotBytes > MAX_SLOT_BYTES) {
    throw new RangeError(`Invalid rock slot size ${slotBytes}: must be ${MIN_SLOT_BYTES} to ${MAX_SLOT_BYTES}`);
  }
  if (!Number.isInteger(ways) || ways < 1 || ways > MAX_WAYS) {
    throw new RangeError(`Invalid rock ways ${ways}: must be 1 to ${MAX_WAYS}`);
  }
  // The directory's padding is at most a page: reserve it, so every set counted fits.
  const perSet = ways * (SLOT_HEADER_BYTES + slotBytes);
  const sets = Math.min(0xffff_ffff, Math.floor((maxBytes - FILE_HEADER_BYTES - PAGE_BYTES) / perSet));
  if (!(sets >= 1)) {
    throw new RangeError(`Invalid rock size ${maxBytes}: less than one set of ${ways} slots of ${slotBytes} bytes`);
  }
  return { slotBytes, ways, sets };
}

/** Bytes of the directory (every slot header), padded to a page. */
export function directoryBytes(g: RockGeometry): number {
  return Math.ceil((g.sets * g.ways * SLOT_HEADER_BYTES) / PAGE_BYTES) * PAGE_BYTES;
}

/** Size of the whole rock file. */
export function rockFileBytes(g: RockGeometry): number {
  return FILE_HEADER_BYTES + directoryBytes(g) + g.sets * g.ways * g.slotBytes;
}

/** File offset of the table (the slot headers) of set `set`. */
export function tableOffset(g: RockGeometry, set: number): number {
  return FILE_HEADER_BYTES + set * g.ways * SLOT_HEADER_BYTES;
}

/** File offset of the header of way `way` of set `set`. */
export function slotHeaderOffset(g: RockGeometry, set: number, way: number): number {
  return tableOffset(g, set) + way * SLOT_HEADER_BYTES;
}

/** File offset of the record of way `way` of set `set`. */
export function slotOffset(g: RockGeometry, set: number, way: number): number {
  return FILE_HEADER_BYTES + directoryBytes(g) + (set * g.ways + way) * g.slotBytes;
}

/** The set of a primary hash. */
export function setOf(g: RockGeometry, h: { phHi: number }): number {
  return h.phHi % g.sets;
}

/**
 * A 64-bit hash of a string's UTF-16 code units, as two u32 (cyrb53's mixing, both halves kept):
 * fast in JavaScript (no native call, no UTF-8 encoding), well spread, not cryptographic.
 *
 * @param s the string
 * @param seed a seed (different seeds give independent hashes)
 * @returns `[hi, lo]`, each an unsigned 32-bit integer
 */
export function keyHash64(s: string, seed = 0): [number, number] {
  let h1 = 0xdeadbeef ^ seed, h2 = 0x41c6ce57 ^ seed;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 2654435761);
    h2 = Math.imul(h2 ^ c, 1597334677);
  }
  h1 = Math.imul(h1 ^ (h1 >>> 16), 2246822507);
  h1 ^= Math.imul(h2 ^ (h2 >>> 13), 3266489909);
  h2 = Math.imul(h2 ^ (h2 >>> 16), 2246822507);
  h2 ^= Math.imul(h1 ^ (h1 >>> 13), 3266489909);
  return [h1 >>> 0, h2 >>> 0];
}

/** The locating hashes of a key (see the module doc). */
export function rockKeyHash(primary: string, variant: string): RockKeyHash {
  const [phHi, phLo] = keyHash64(primary);
  return { phLo, phHi, vh: variant === "" ? 0 : keyHash64(variant, 0x9e3779b9)[1] };
}

/**
 * The slot header of an "in ufs" marker for a key (see the module doc).
 *
 * @param key the key's locating hashes
 * @param storedTime when the ufs object was stored (ms)
 * @param meta the object's expiry and request time
 */
export function ufsMarker(
  key: RockKeyHash,
  storedTime: number,
  meta: { expiresAt: number; requestTime: number },
): SlotHeader {
  return {
    ...key,
    recordBytes: 0,
    bodyBytes: 0,
    recordCrc: 0,
    storedTime,
    expiresAt: meta.expiresAt,
    requestTime: meta.requestTime,
    inUfs: true,
  };
}

/**
 * Encodes a file header.
 *
 * @param h geometry, generation (32 hex digits) and creation time
 * @returns {@link FILE_HEADER_BYTES} bytes
 */
export function encodeRockFileHeader(h: RockFileHeader): Uint8Array {
  if (!/^[0-9a-f]{32}$/.test(h.generation)) throw new RangeError(`Invalid rock generation "${h.generation}"`);
  const out = new Uint8Array(FILE_HEADER_BYTES);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, ROCK_FILE_MAGIC, true);
  dv.setUint16(4, ROCK_FORMAT_VERSION, true);
  dv.setUint32(8, h.slotBytes, true);
  dv.setUint32(12, h.ways, true);
  dv.setUint32(16, h.sets, true);
  for (let i = 0; i < 16; i++) out[24 + i] = parseInt(h.generation.slice(2 * i, 2 * i + 2), 16);
  dv.setFloat64(40, h.created, true);
  dv.setUint32(60, crc32c(out.subarray(0, 60)), true);
  return out;
}

/**
 * Decodes a file header.
 *
 * @param bytes at least the first 64 bytes of the file
 * @throws {RockFormatError} when the bytes are not a rock file header of a known version
 */
export function decodeRockFileHeader(bytes: Uint8Array): RockFileHeader {
  if (bytes.length < 64) throw new RockFormatError(`Cannot decode rock file header: length ${bytes.length} < 64`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, 64);
  const magic = dv.getUint32(0, true);
  if (magic !== ROCK_FILE_MAGIC) {
    throw new RockFormatError(`Cannot decode rock file header: bad magic 0x${magic.toString(16).padStart(8, "0")}`);
  }
  if (dv.getUint32(60, true) !== crc32c(bytes.subarray(0, 60))) {
    throw new RockFormatError("Cannot decode rock file header: checksum mismatch");
  }
  const version = dv.getUint16(4, true);
  if (version !== ROCK_FORMAT_VERSION) {
    throw new RockFormatError(`Cannot decode rock file header: unsupported format version ${version}`);
  }
  let generation = "";
  for (let i = 0; i < 16; i++) generation += bytes[24 + i].toString(16).padStart(2, "0");
  const h = {
    slotBytes: dv.getUint32(8, true),
    ways: dv.getUint32(12, true),
    sets: dv.getUint32(16, true),
    generation,
    created: dv.getFloat64(40, true),
  };
  if (h.slotBytes < MIN_SLOT_BYTES || h.slotBytes > MAX_SLOT_BYTES || h.ways < 1 || h.ways > MAX_WAYS || h.sets < 1) {
    throw new RockFormatError(
      `Cannot decode rock file header: geometry ${h.sets} sets × ${h.ways} ways × ${h.slotBytes} bytes is invalid`,
    );
  }
  return h;
}

/**
 * Encodes a slot header into `out` at `offset` (64 bytes).
 *
 * @param h the header
 * @param out destination (e.g. a 64-byte buffer written with one `pwrite`)
 * @param offset where in `out`
 */
export function encodeSlotHeader(h: SlotHeader, out: Uint8Array, offset = 0): void {
  const s = out.subarray(offset, offset + SLOT_HEADER_BYTES);
  s.fill(0);
  const dv = new DataView(s.buffer, s.byteOffset, SLOT_HEADER_BYTES);
  dv.setUint32(0, SLOT_MAGIC, true);
  s[4] = ROCK_FORMAT_VERSION;
  s[5] = h.inUfs ? SLOT_FLAG_IN_UFS : 0;
  dv.setUint32(8, h.phLo >>> 0, true);
  dv.setUint32(12, h.phHi >>> 0, true);
  dv.setUint32(16, h.vh >>> 0, true);
  dv.setUint32(20, h.recordBytes, true);
  dv.setUint32(24, h.bodyBytes, true);
  dv.setUint32(28, h.recordCrc >>> 0, true);
  dv.setFloat64(32, h.storedTime, true);
  dv.setFloat64(40, h.expiresAt, true);
  dv.setFloat64(48, h.requestTime, true);
  dv.setUint32(60, crc32c(s.subarray(0, 60)), true);
}

/**
 * Decodes the slot header at `offset` of a table, or returns `undefined` for an empty way, a
 * damaged or torn header, or one of an unknown version (all of them: nothing usable there).
 *
 * @param table bytes of a set's table (or one header)
 * @param offset where the header starts
 */
export function decodeSlotHeader(table: Uint8Array, offset = 0): SlotHeader | undefined {
  if (table.length < offset + SLOT_HEADER_BYTES) return undefined;
  const dv = new DataView(table.buffer, table.byteOffset + offset, SLOT_HEADER_BYTES);
  if (dv.getUint32(0, true) !== SLOT_MAGIC || table[offset + 4] !== ROCK_FORMAT_VERSION) return undefined;
  if (dv.getUint32(60, true) !== crc32c(table.subarray(offset, offset + 60))) return undefined;
  return {
    phLo: dv.getUint32(8, true),
    phHi: dv.getUint32(12, true),
    vh: dv.getUint32(16, true),
    recordBytes: dv.getUint32(20, true),
    bodyBytes: dv.getUint32(24, true),
    recordCrc: dv.getUint32(28, true),
    storedTime: dv.getFloat64(32, true),
    expiresAt: dv.getFloat64(40, true),
    requestTime: dv.getFloat64(48, true),
    inUfs: (table[offset + 5] & SLOT_FLAG_IN_UFS) !== 0,
  };
}

/**
 * Whether the slot header at `offset` may be the key's: magic and hashes match (the header CRC
 * is checked by {@link decodeSlotHeader} afterwards, only for candidates).
 */
export function slotMayHold(table: Uint8Array, offset: number, h: RockKeyHash): boolean {
  return u32le(table, offset) === SLOT_MAGIC && u32le(table, offset + 8) === h.phLo &&
    u32le(table, offset + 12) === h.phHi && u32le(table, offset + 16) === h.vh;
}

/** Whether the slot header at `offset` may belong to the primary hash (any variant). */
export function slotMayHoldPrimary(table: Uint8Array, offset: number, h: { phLo: number; phHi: number }): boolean {
  return u32le(table, offset) === SLOT_MAGIC && u32le(table, offset + 8) === h.phLo &&
    u32le(table, offset + 12) === h.phHi;
}

/** A little-endian u32 (no DataView: lookups test every way of a set). */
function u32le(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}

/**
 * Encodes a record (entry header block + body) and the slot header describing it, in one pass
 * over the body: the body's CRC-32C goes into the entry header, and the record CRC is combined
 * from the entry header block's CRC and the body's ({@link crc32cCombine}), not read again.
 *
 * @param meta the object's metadata (`bodyBytes` is taken from `body`)
 * @param body the whole body, in one piece or in chunks (copied, never kept)
 * @param storedTime when it is stored (ms)
 * @param key its locating hashes
 * @param into where to encode the record when it fits (a reused slot-sized buffer: the record
 *   is then a view of it, valid until the buffer is reused); else a new buffer is allocated
 * @returns the record bytes and the slot header
 */
export function encodeRecord(
  meta: StoredMeta,
  body: Uint8Array | readonly Uint8Array[],
  storedTime: number,
  key: RockKeyHash,
  into?: Uint8Array,
): { record: Uint8Array; header: SlotHeader } {
  const chunks = body instanceof Uint8Array ? [body] : body;
  let bodyBytes = 0, bodyCrc = 0;
  for (const c of chunks) {
    bodyCrc = crc32c(c, bodyCrc);
    bodyBytes += c.length;
  }
  const head = encodeEntryHeader({
    meta: { ...meta, bodyBytes },
    storedTime,
    bodyCrc,
    ...validatorsOf(meta.headers),
  });
  const bytes = head.length + bodyBytes;
  const record = into && into.length >= bytes ? into.subarray(0, bytes) : new Uint8Array(bytes);
  record.set(head);
  let o = head.length;
  for (const c of chunks) {
    record.set(c, o);
    o += c.length;
  }
  // The entry header block ends with the CRC of its other bytes: continue it over those 4 bytes.
  const hb = head.length;
  const headCrc = crc32c(head.subarray(hb - 4), u32le(head, hb - 4));
  return {
    record,
    header: {
      ...key,
      recordBytes: bytes,
      bodyBytes,
      recordCrc: crc32cCombine(headCrc, bodyCrc, bodyBytes),
      storedTime,
      expiresAt: meta.expiresAt,
      requestTime: meta.requestTime,
      inUfs: false,
    },
  };
}

/**
 * Decodes a record read from a slot and checks it against its slot header (length and CRC).
 *
 * @param record the R bytes read
 * @param h the slot header that pointed to it
 * @param decodeHead decodes the entry header block (exactly its H bytes): `decodeEntryHeader`,
 *   or a memo of it that returns the same header for the same bytes
 * @returns the entry header and a view of the body
 * @throws {RockFormatError} when the record is torn, damaged or inconsistent
 */
export function decodeRecord(
  record: Uint8Array,
  h: SlotHeader,
  decodeHead: (block: Uint8Array) => EntryHeader = decodeEntryHeader,
): { entry: EntryHeader; body: Uint8Array } {
  if (record.length !== h.recordBytes) {
    throw new RockFormatError(`Cannot decode rock record: read ${record.length} of ${h.recordBytes} bytes`);
  }
  if (crc32c(record) !== h.recordCrc) throw new RockFormatError("Cannot decode rock record: checksum mismatch");
  let entry: EntryHeader;
  let headBytes: number;
  try {
    headBytes = entryHeaderLength(record);
    if (headBytes > record.length) {
      throw new RangeError(`header length ${headBytes} exceeds the record (${record.length} bytes)`);
    }
    entry = decodeHead(record.subarray(0, headBytes));
  } catch (e) {
    throw new RockFormatError(`Cannot decode rock record: ${(e as Error).message}`, { cause: e });
  }
  if (headBytes + entry.meta.bodyBytes !== record.length || entry.meta.bodyBytes !== h.bodyBytes) {
    throw new RockFormatError(
      `Cannot decode rock record: ${record.length} bytes, header says ${headBytes} + ${entry.meta.bodyBytes}`,
    );
  }
  return { entry, body: record.subarray(headBytes) };
}
