/**
 * The on-disk object format: one file per stored response, a header block followed by the body.
 * Pure codec: no file access, clocks or logs.
 *
 * All integers are little-endian; times are IEEE-754 binary64 milliseconds since the Unix epoch
 * (integers are exact up to 2^53; `Infinity` is allowed for "never expires"); text is UTF-8.
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |            magic "WCOB" (0x57 0x43 0x4F 0x42)                 |  0
 * +-------------------------------+-------------------------------+
 * |     format version (u16) = 2  |       status code (u16)       |  4
 * +-------------------------------+-------------------------------+
 * |            header block length H (u32), bytes 0..H             |  8
 * +---------------------------------------------------------------+
 * |                 body CRC-32C (u32) of the body                 | 12
 * +---------------------------------------------------------------+
 * |              body length (u64: low u32, high u32)              | 16
 * |                                                               |
 * +---------------------------------------------------------------+
 * |                  request time (f64, ms)                       | 24
 * |                  response time (f64, ms)                      | 32
 * |                  stored time (f64, ms)                        | 40
 * |                  expires at (f64, ms)                         | 48
 * |                  Last-Modified (f64, ms; NaN when absent)     | 56
 * +---------------------------------------------------------------+
 * |  primary key length P (u32)                                   | 64
 * |  variant key length V (u32)                                   | 68
 * |  ETag length E (u32)                                          | 72
 * |  Vary name count N (u16)       |  header count M (u16)        | 76
 * +---------------------------------------------------------------+
 * |  primary key (P bytes), variant key (V bytes), ETag (E bytes) | 80
 * |  N × { name length (u16), name }                              |
 * |  M × { name length (u16), value length (u32), name, value }   |
 * +---------------------------------------------------------------+
 * |         header CRC-32C (u32) of bytes 0 .. H-4                 | H-4
 * +---------------------------------------------------------------+
 * |                    body (body length bytes)                    | H
 * +---------------------------------------------------------------+
 * |  block CRC table: ceil(body length / 65536) × CRC-32C (u32) of | H + body length
 * |  each 64 KiB block of the body, the last one possibly shorter |
 * +---------------------------------------------------------------+
 * ```
 *
 * The validators (ETag, Last-Modified) repeat what the headers say so the index rebuild and ICP
 * can answer without parsing headers. A file is whole when its size is exactly H + body length
 * + block table length ({@link entryFileBytes}), the header CRC matches and {@link isSane} accepts
 * the fields. Bodies read whole into memory are checked against the body CRC before a byte of
 * them is sent; a body streamed from the file is checked block by block against the table, each
 * block before it is sent, so a damaged file stops at its first bad block instead of reaching a
 * client complete and wrong. Writers append the table and fill the body CRC and length after the
 * body arrived (the header is re-encoded at the same length) and only then rename the file into
 * place.
 *
 * Version history: 1 — first version (no block table; a streamed body is checked against the
 * body CRC only at its end). 2 — the block CRC table after the body. Version 1 files are still
 * read; readers reject versions they do not know (the file is then treated as damaged and
 * removed).
 *
 * @module
 */
import type { StoredMeta } from "../store.ts";
import { crc32c } from "./crc32c.ts";

/** Magic bytes at offset 0: "WCOB" (webcache object). */
export const ENTRY_MAGIC = 0x424f4357; // "WCOB" read as little-endian u32
/** The format version this code writes (it reads 1 and 2). */
export const ENTRY_FORMAT_VERSION = 2;
/** Body bytes covered by one entry of the block CRC table (format 2). */
export const BODY_BLOCK_BYTES = 64 * 1024;
/** Bytes of the fixed part before the variable fields. */
export const ENTRY_FIXED_BYTES = 80;
/**
 * Largest header block accepted (1 MiB): keys and response headers are bounded by the HTTP
 * limits (64 KiB of headers by default), so anything larger is garbage, not an object.
 */
export const MAX_ENTRY_HEADER_BYTES = 1024 * 1024;
/** Bytes a reader should fetch first: enough for most header blocks in one read. */
export const ENTRY_PEEK_BYTES = 4096;

/** The decoded header block of one stored object. */
export interface EntryHeader {
  /** Object metadata (keys, status, headers, times, body length). */
  meta: StoredMeta;
  /** When the object was written to disk (ms since epoch). */
  storedTime: number;
  /** CRC-32C of the body. */
  bodyCrc: number;
  /** The ETag header value, or `""`. */
  etag: string;
  /** Last-Modified in ms since epoch, or `NaN`. */
  lastModified: number;
  /** Format version of a decoded header (1: no block table); encoding always writes {@link ENTRY_FORMAT_VERSION}. */
  version?: number;
}

/**
 * Bytes of the block CRC table that follows a body of `bodyBytes` (4 per started 64 KiB block;
 * none in format 1).
 *
 * @param bodyBytes body length
 * @param version format version of the file
 */
export function blockTableBytes(bodyBytes: number, version: number = ENTRY_FORMAT_VERSION): number {
  return version >= 2 ? 4 * Math.ceil(bodyBytes / BODY_BLOCK_BYTES) : 0;
}

/**
 * The size of a whole object file: header block, body and block table.
 *
 * @param headerBytes H
 * @param bodyBytes body length
 * @param version format version of the file
 */
export function entryFileBytes(headerBytes: number, bodyBytes: number, version: number = ENTRY_FORMAT_VERSION): number {
  return headerBytes + bodyBytes + blockTableBytes(bodyBytes, version);
}

/**
 * Encodes the block CRC table of a body (format 2).
 *
 * @param crcs the CRC-32C of each block, in order
 * @returns 4 bytes per block, little-endian
 */
export function encodeBlockTable(crcs: readonly number[]): Uint8Array {
  const out = new Uint8Array(4 * crcs.length);
  const dv = new DataView(out.buffer);
  crcs.forEach((c, i) => dv.setUint32(4 * i, c >>> 0, true));
  return out;
}

/** Thrown when a header block cannot be decoded; `offset` is where decoding stopped. */
export class EntryDecodeError extends SyntaxError {
  /** Byte offset of the problem. */
  readonly offset: number;
  /**
   * @param message what is wrong
   * @param offset byte offset of the problem
   */
  constructor(message: string, offset: number) {
    super(message);
    this.name = "EntryDecodeError";
    this.offset = offset;
  }
}

const enc = new TextEncoder();
const dec = new TextDecoder("utf-8", { fatal: true });

/**
 * A text field ready to write: an ASCII string as is (its length is its UTF-8 length), anything
 * else UTF-8 encoded. Keys and header fields are nearly always ASCII, and `TextEncoder` costs a
 * runtime call per string, several times the copy below.
 */
type Utf8 = string | Uint8Array;

function utf8(s: string): Utf8 {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0x7f) return enc.encode(s);
  return s;
}

function putUtf8(out: Uint8Array, o: number, f: Utf8): void {
  if (typeof f !== "string") out.set(f, o);
  else for (let i = 0; i < f.length; i++) out[o + i] = f.charCodeAt(i);
}

/**
 * Extracts the validators of a response from its headers (lower-case names).
 *
 * @returns the ETag (or `""`) and Last-Modified in ms (or `NaN`)
 */
export function validatorsOf(headers: [string, string][]): { etag: string; lastModified: number } {
  let etag = "";
  let lastModified = NaN;
  for (const [name, value] of headers) {
    if (name === "etag") etag = value;
    else if (name === "last-modified") lastModified = Date.parse(value);
  }
  return { etag, lastModified };
}

/**
 * Encodes a header block. The length depends only on the keys, Vary names and headers, so a
 * writer can encode it first with a zero body CRC and length and overwrite it in place later.
 *
 * @param h the header; `meta.bodyBytes` below 0 is written as 0
 * @returns the header block, H bytes
 * @throws {RangeError} when a field does not fit the format
 */
export function encodeEntryHeader(h: EntryHeader): Uint8Array {
  const primary = utf8(h.meta.primary);
  const variant = utf8(h.meta.variant);
  const etag = utf8(h.etag);
  const vary = h.meta.vary.map(utf8);
  const headers = h.meta.headers.map(([n, v]) => [utf8(n), utf8(v)] as const);
  if (vary.length > 0xffff) throw new RangeError(`Cannot encode entry: ${vary.length} Vary names exceed 65535`);
  if (headers.length > 0xffff) throw new RangeError(`Cannot encode entry: ${headers.length} headers exceed 65535`);
  let size = ENTRY_FIXED_BYTES + primary.length + variant.length + etag.length + 4;
  for (const v of vary) {
    if (v.length > 0xffff) throw new RangeError(`Cannot encode entry: Vary name of ${v.length} bytes exceeds 65535`);
    size += 2 + v.length;
  }
  for (const [n, v] of headers) {
    if (n.length > 0xffff) throw new RangeError(`Cannot encode entry: header name of ${n.length} bytes exceeds 65535`);
    size += 6 + n.length + v.length;
  }
  if (size > MAX_ENTRY_HEADER_BYTES) {
    throw new RangeError(`Cannot encode entry: header block of ${size} bytes exceeds ${MAX_ENTRY_HEADER_BYTES}`);
  }
  const status = h.meta.status;
  if (!Number.isInteger(status) || status < 100 || status > 999) {
    throw new RangeError(`Cannot encode entry: status ${status} is not a 3-digit code`);
  }
  const bodyBytes = h.meta.bodyBytes >= 0 ? h.meta.bodyBytes : 0;
  if (!Number.isSafeInteger(bodyBytes)) throw new RangeError(`Cannot encode entry: body length ${bodyBytes}`);
  const out = new Uint8Array(size);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, ENTRY_MAGIC, true);
  dv.setUint16(4, ENTRY_FORMAT_VERSION, true);
  dv.setUint16(6, status, true);
  dv.setUint32(8, size, true);
  dv.setUint32(12, h.bodyCrc >>> 0, true);
  dv.setUint32(16, bodyBytes % 0x1_0000_0000, true);
  dv.setUint32(20, Math.floor(bodyBytes / 0x1_0000_0000), true);
  dv.setFloat64(24, h.meta.requestTime, true);
  dv.setFloat64(32, h.meta.responseTime, true);
  dv.setFloat64(40, h.storedTime, true);
  dv.setFloat64(48, h.meta.expiresAt, true);
  dv.setFloat64(56, h.lastModified, true);
  dv.setUint32(64, primary.length, true);
  dv.setUint32(68, variant.length, true);
  dv.setUint32(72, etag.length, true);
  dv.setUint16(76, vary.length, true);
  dv.setUint16(78, headers.length, true);
  let o = ENTRY_FIXED_BYTES;
  putUtf8(out, o, primary);
  o += primary.length;
  putUtf8(out, o, variant);
  o += variant.length;
  putUtf8(out, o, etag);
  o += etag.length;
  for (const v of vary) {
    dv.setUint16(o, v.length, true);
    putUtf8(out, o + 2, v);
    o += 2 + v.length;
  }
  for (const [n, v] of headers) {
    dv.setUint16(o, n.length, true);
    dv.setUint32(o + 2, v.length, true);
    putUtf8(out, o + 6, n);
    putUtf8(out, o + 6 + n.length, v);
    o += 6 + n.length + v.length;
  }
  dv.setUint32(o, crc32c(out.subarray(0, o)), true);
  return out;
}

/**
 * Reads the header block length H from the first 12 bytes of a file, checking magic and version.
 *
 * @param prefix at least the first 12 bytes
 * @returns H
 * @throws {EntryDecodeError} when the bytes are not the start of a supported entry
 */
export function entryHeaderLength(prefix: Uint8Array): number {
  if (prefix.length < 12) {
    throw new EntryDecodeError(`Cannot decode entry: length ${prefix.length} is less than 12`, 0);
  }
  const dv = new DataView(prefix.buffer, prefix.byteOffset, prefix.byteLength);
  const magic = dv.getUint32(0, true);
  if (magic !== ENTRY_MAGIC) {
    throw new EntryDecodeError(`Cannot decode entry: bad magic 0x${magic.toString(16).padStart(8, "0")}`, 0);
  }
  const version = dv.getUint16(4, true);
  if (version !== 1 && version !== 2) {
    throw new EntryDecodeError(`Cannot decode entry: unsupported format version ${version}`, 4);
  }
  const h = dv.getUint32(8, true);
  if (h < ENTRY_FIXED_BYTES + 4 || h > MAX_ENTRY_HEADER_BYTES) {
    throw new EntryDecodeError(`Cannot decode entry: header length ${h} is out of range`, 8);
  }
  return h;
}

/**
 * Decodes a header block and checks its CRC.
 *
 * @param bytes the file's first bytes, at least H of them (more is fine)
 * @returns the header
 * @throws {EntryDecodeError} when the block is truncated, inconsistent or fails its CRC
 */
export function decodeEntryHeader(bytes: Uint8Array): EntryHeader {
  const size = entryHeaderLength(bytes);
  if (bytes.length < size) {
    throw new EntryDecodeError(`Cannot decode entry: length ${bytes.length} is less than header length ${size}`, 0);
  }
  const dv = new DataView(bytes.buffer, bytes.byteOffset, size);
  const crc = dv.getUint32(size - 4, true);
  const actual = crc32c(bytes.subarray(0, size - 4));
  if (crc !== actual) {
    throw new EntryDecodeError(
      `Cannot decode entry: header CRC 0x${actual.toString(16)} does not match stored 0x${crc.toString(16)}`,
      size - 4,
    );
  }
  const end = size - 4;
  let o = ENTRY_FIXED_BYTES;
  const take = (n: number, what: string): Uint8Array => {
    if (o + n > end) throw new EntryDecodeError(`Cannot decode entry: ${what} runs past the header block`, o);
    const s = bytes.subarray(o, o + n);
    o += n;
    return s;
  };
  const text = (b: Uint8Array, what: string): string => {
    // Keys and headers are nearly always short ASCII: build those directly (several times
    // faster than TextDecoder for short strings); anything else goes through strict UTF-8.
    if (b.length <= 256) {
      let ascii = true;
      for (let i = 0; i < b.length; i++) {
        if (b[i] >= 0x80) {
          ascii = false;
          break;
        }
      }
      if (ascii) return String.fromCharCode.apply(null, b as unknown as number[]);
    }
    try {
      return dec.decode(b);
    } catch (e) {
      throw new EntryDecodeError(`Cannot decode entry: ${what} is not UTF-8: ${(e as Error).message}`, o);
    }
  };
  const primary = text(take(dv.getUint32(64, true), "primary key"), "primary key");
  const variant = text(take(dv.getUint32(68, true), "variant key"), "variant key");
  const etag = text(take(dv.getUint32(72, true), "ETag"), "ETag");
  const u16 = (what: string): number => dv.getUint16(take(2, what).byteOffset - bytes.byteOffset, true);
  const u32 = (what: string): number => dv.getUint32(take(4, what).byteOffset - bytes.byteOffset, true);
  const vary: string[] = [];
  for (let i = dv.getUint16(76, true); i > 0; i--) {
    vary.push(text(take(u16("Vary name length"), "Vary name"), "Vary name"));
  }
  const headers: [string, string][] = [];
  for (let i = dv.getUint16(78, true); i > 0; i--) {
    const nl = u16("header name length");
    const vl = u32("header value length");
    headers.push([text(take(nl, "header name"), "header name"), text(take(vl, "header value"), "header value")]);
  }
  if (o !== end) throw new EntryDecodeError(`Cannot decode entry: ${end - o} stray bytes after the headers`, o);
  const lo = dv.getUint32(16, true);
  const hi = dv.getUint32(20, true);
  return {
    meta: {
      primary,
      variant,
      status: dv.getUint16(6, true),
      headers,
      vary,
      requestTime: dv.getFloat64(24, true),
      responseTime: dv.getFloat64(32, true),
      expiresAt: dv.getFloat64(48, true),
      bodyBytes: hi * 0x1_0000_0000 + lo,
    },
    storedTime: dv.getFloat64(40, true),
    bodyCrc: dv.getUint32(12, true),
    etag,
    lastModified: dv.getFloat64(56, true),
    version: dv.getUint16(4, true),
  };
}

/**
 * Explains why a decoded header cannot describe a whole object in a file of `fileBytes`, or
 * returns `undefined` when it can. See {@link isSane}.
 */
export function insanity(h: EntryHeader, headerBytes: number, fileBytes: number): string | undefined {
  const m = h.meta;
  if (m.status < 100 || m.status > 999) return `status ${m.status} is not a 3-digit code`;
  if (!Number.isSafeInteger(m.bodyBytes) || m.bodyBytes < 0) return `body length ${m.bodyBytes} is invalid`;
  const version = h.version ?? ENTRY_FORMAT_VERSION;
  const table = blockTableBytes(m.bodyBytes, version);
  if (headerBytes + m.bodyBytes + table !== fileBytes) {
    return `file has ${fileBytes} bytes, header says ${headerBytes} + ${m.bodyBytes}` +
      (table ? ` + ${table} (block table)` : "");
  }
  for (const [what, t] of [["request time", m.requestTime], ["response time", m.responseTime]] as const) {
    if (!Number.isFinite(t) || t < 0) return `${what} ${t} is invalid`;
  }
  if (!Number.isFinite(h.storedTime) || h.storedTime < 0) return `stored time ${h.storedTime} is invalid`;
  if (Number.isNaN(m.expiresAt)) return "expiry is NaN";
  if (m.primary.length === 0) return "primary key is empty";
  return undefined;
}

/**
 * Whether a decoded header describes a whole object in a file of `fileBytes` bytes: sensible
 * status, times and keys, and a file length of exactly header + body. Used on every load.
 *
 * @param h the decoded header
 * @param headerBytes H, from {@link entryHeaderLength}
 * @param fileBytes the file's size
 */
export function isSane(h: EntryHeader, headerBytes: number, fileBytes: number): boolean {
  return insanity(h, headerBytes, fileBytes) === undefined;
}
