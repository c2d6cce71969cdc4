/**
 * Streams an object's body (or a byte range of it) from its file in chunks, never holding the
 * object in memory. Private to the disk store.
 *
 * The stream first re-reads the header and checks it is still the object the caller looked up
 * (same stored time and body CRC: a concurrent replacement is not spliced into a response). A
 * whole-body read is checked against the body CRC-32C as it goes; a short file or a CRC mismatch
 * errors the stream (before its last chunk) and reports the file as damaged.
 *
 * @module
 */
import { crc32c } from "./crc32c.ts";
import { decodeEntryHeader, ENTRY_PEEK_BYTES, entryHeaderLength } from "./entry_format.ts";

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
 * Opens a body stream.
 *
 * @param path the object file
 * @param expect the entry the caller looked up
 * @param range inclusive byte range of the body; whole body when omitted
 * @param onDamaged called once when the file turns out damaged (the caller deletes and counts it)
 */
export function fileBodyStream(
  path: string,
  expect: ExpectedEntry,
  range: { start: number; end: number } | undefined,
  onDamaged: (reason: string) => void,
): ReadableStream<Uint8Array> {
  const start = range?.start ?? 0;
  const end = range ? Math.min(range.end, expect.bodyBytes - 1) : expect.bodyBytes - 1;
  const whole = start === 0 && end === expect.bodyBytes - 1;
  let remaining = Math.max(0, end - start + 1);
  let crc = 0;
  let file: Deno.FsFile | undefined;
  const close = () => {
    try {
      file?.close();
    } catch { /* closed */ }
    file = undefined;
  };
  return new ReadableStream<Uint8Array>({
    async start(controller) {
      try {
        file = await Deno.open(path, { read: true });
        const { header, headerBytes } = await readEntryHeader(file);
        if (header.storedTime !== expect.storedTime || header.bodyCrc !== expect.bodyCrc) {
          throw new Error("Cannot read object body: the object was replaced since it was looked up");
        }
        await file.seek(headerBytes + start, Deno.SeekMode.Start);
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
        const buf = new Uint8Array(Math.min(CHUNK_BYTES, remaining));
        const n = await readFull(file, buf);
        if (n < buf.length) {
          onDamaged("file shorter than its header says");
          throw new Error("Cannot read object body: the file is truncated");
        }
        if (whole) crc = crc32c(buf, crc);
        remaining -= n;
        // The last chunk is held back until the checksum of the whole body matched, so a damaged
        // body never reaches a client complete.
        if (remaining === 0 && whole && crc !== expect.bodyCrc) {
          onDamaged("body checksum mismatch");
          throw new Error("Cannot read object body: checksum mismatch, the file is damaged");
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
