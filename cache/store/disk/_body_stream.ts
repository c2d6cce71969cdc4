/**
 * Streams an object's body (or a byte range of it) from its file in chunks, never holding the
 * object in memory. Private to the disk store.
 *
 * The stream first re-reads the header and checks it is still the object the caller looked up
 * (same stored time and body CRC: a concurrent replacement is not spliced into a response). Each
 * 64 KiB block is checked against the block CRC table (entry format 2) before it is enqueued
 * (format 1 files: a whole-body read against the body CRC, the last chunk held back); a short
 * file or a CRC mismatch errors the stream and reports the file as damaged.
 *
 * @module
 */
import { crc32c } from "./crc32c.ts";
import {
  BODY_BLOCK_BYTES,
  decodeEntryHeader,
  ENTRY_FORMAT_VERSION,
  ENTRY_PEEK_BYTES,
  entryHeaderLength,
} from "./entry_format.ts";

/** Bytes read from the file per chunk. */
export const CHUNK_BYTES = 64 * 1024;

/** What the caller looked up. */
export interface ExpectedEntry {
  headerBytes: number;
  bodyBytes: number;
  bodyCrc: number;
  storedTime: number;
}

/** Reads into `buf` until it is full or the file ends; returns the bytes read. */
export async function readFull(f: Deno.FsFile, buf: Uint8Array): Promise<number> {
  let o = 0;
  while (o < buf.length) {
    const n = await f.read(buf.subarray(o));
    if (n === null) break;
    o += n;
  }
  return o;
}

/** Synchronous {@link readFull}, for small reads from the page cache. */
export function readFullSync(f: Deno.FsFile, buf: Uint8Array): number {
  let o = 0;
  while (o < buf.length) {
    const n = f.readSync(buf.subarray(o));
    if (n === null || n === 0) break;
    o += n;
  }
  return o;
}

/** Reads and decodes the header block at the start of an open file. */
export async function readEntryHeader(f: Deno.FsFile, peek = ENTRY_PEEK_BYTES) {
  let buf = new Uint8Array(peek);
  let n = await readFull(f, buf);
  const headerBytes = entryHeaderLength(buf.subarray(0, n));
  if (headerBytes > n && n === buf.length) {
    const more = new Uint8Array(headerBytes);
    more.set(buf);
    n += await readFull(f, more.subarray(n));
    buf = more;
  }
  const header = decodeEntryHeader(buf.subarray(0, n));
  return { header, headerBytes, buf: buf.subarray(0, n) };
}

/**
 * A body already in memory as a one-chunk stream, or the bytes of `range` in it (its end clamped
 * to the body).
 *
 * @param body the whole body
 * @param range first and last byte offsets, inclusive
 * @returns the stream
 */
export function bytesBodyStream(body: Uint8Array, range?: { start: number; end: number }): ReadableStream<Uint8Array> {
  const part = range ? body.subarray(range.start, Math.min(range.end, body.length - 1) + 1) : body;
  return new ReadableStream({
    start(c) {
      if (part.length) c.enqueue(part);
      c.close();
    },
  });
}

/**
 * Opens a body stream.
 *
 * Format 2 (block table): the blocks covering the range are read whole, each checked against its
 * table entry before any of it is enqueued; the first bad block errors the stream, so the client
 * gets the good blocks before it and then a cut connection, never bad bytes. Format 1: a whole
 * body is checked against the body CRC as it goes, its last chunk held back until it matched.
 *
 * @param path the object file
 * @param expect the entry the caller looked up
 * @param range inclusive byte range of the body; whole body when omitted
 * @param onDamaged called once when the file turns out damaged (the caller deletes and counts it)
 * @param opened the file, already open since the lookup (the stream owns and closes it): an object
 *   evicted or replaced between the lookup and the first read is then still the one looked up,
 *   instead of a response cut after its head was sent
 */
export function fileBodyStream(
  path: string,
  expect: ExpectedEntry,
  range: { start: number; end: number } | undefined,
  onDamaged: (reason: string) => void,
  opened?: Deno.FsFile,
): ReadableStream<Uint8Array> {
  const start = range?.start ?? 0;
  const end = range ? Math.min(range.end, expect.bodyBytes - 1) : expect.bodyBytes - 1;
  const whole = start === 0 && end === expect.bodyBytes - 1;
  let remaining = Math.max(0, end - start + 1);
  let crc = 0;
  let file: Deno.FsFile | undefined;
  /** Format 2: CRCs of the blocks from `firstBlock` on; undefined for format 1. */
  let table: DataView | undefined;
  let firstBlock = 0;
  /** Format 2: the next block to read, and the body offset of the next byte to send. */
  let block = 0;
  let at = start;
  const close = () => {
    try {
      file?.close();
    } catch { /* closed */ }
    file = undefined;
  };
  const damaged = (reason: string, message: string): never => {
    onDamaged(reason);
    throw new Error(`Cannot read object body: ${message}`);
  };
  return new ReadableStream<Uint8Array>({
    async start(controller) {
      try {
        if (opened) {
          file = opened;
          await file.seek(0, Deno.SeekMode.Start);
        } else {
          file = await Deno.open(path, { read: true });
        }
        const { header, headerBytes } = await readEntryHeader(file);
        if (header.storedTime !== expect.storedTime || header.bodyCrc !== expect.bodyCrc) {
          throw new Error("Cannot read object body: the object was replaced since it was looked up");
        }
        if ((header.version ?? ENTRY_FORMAT_VERSION) >= 2 && remaining > 0) {
          firstBlock = Math.floor(start / BODY_BLOCK_BYTES);
          const lastBlock = Math.floor(end / BODY_BLOCK_BYTES);
          const bytes = new Uint8Array(4 * (lastBlock - firstBlock + 1));
          await file.seek(headerBytes + expect.bodyBytes + 4 * firstBlock, Deno.SeekMode.Start);
          if (await readFull(file, bytes) < bytes.length) damaged("file shorter than its header says", "truncated");
          table = new DataView(bytes.buffer);
          block = firstBlock;
          await file.seek(headerBytes + firstBlock * BODY_BLOCK_BYTES, Deno.SeekMode.Start);
        } else {
          await file.seek(headerBytes + start, Deno.SeekMode.Start);
        }
      } catch (e) {
        close();
        controller.error(e);
      }
    },
    async pull(controller) {
      if (!file) return;
      try {
        if (remaining === 0) {
          close();
          controller.close();
          return;
        }
        if (table) {
          // One whole block, checked, then the part of it inside the range.
          const blockStart = block * BODY_BLOCK_BYTES;
          const buf = new Uint8Array(Math.min(BODY_BLOCK_BYTES, expect.bodyBytes - blockStart));
          if (await readFull(file, buf) < buf.length) damaged("file shorter than its header says", "truncated");
          if (crc32c(buf) !== table.getUint32(4 * (block - firstBlock), true)) {
            damaged(`block ${block} checksum mismatch`, `block ${block} fails its checksum, the file is damaged`);
          }
          const from = at - blockStart;
          const to = Math.min(buf.length, from + remaining);
          block++;
          at += to - from;
          remaining -= to - from;
          controller.enqueue(from === 0 && to === buf.length ? buf : buf.subarray(from, to));
          return;
        }
        const buf = new Uint8Array(Math.min(CHUNK_BYTES, remaining));
        const n = await readFull(file, buf);
        if (n < buf.length) damaged("file shorter than its header says", "the file is truncated");
        if (whole) crc = crc32c(buf, crc);
        remaining -= n;
        // The last chunk is held back until the checksum of the whole body matched, so a damaged
        // body never reaches a client complete.
        if (remaining === 0 && whole && crc !== expect.bodyCrc) {
          damaged("body checksum mismatch", "checksum mismatch, the file is damaged");
        }
        controller.enqueue(buf);
      } catch (e) {
        close();
        controller.error(e);
      }
    },
    cancel() {
      close();
    },
  }, { highWaterMark: 0 });
}
