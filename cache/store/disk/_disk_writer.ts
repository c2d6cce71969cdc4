/**
 * Writes one object to a temporary file and renames it into place on commit. Private to the
 * disk store.
 *
 * Small bodies (up to {@link SPILL_BYTES}) are buffered and written with their header in one
 * write at commit, synchronously (open, write, close, rename: tens of microseconds on the page
 * cache, where four trips through the blocking thread pool cost more), unless the host asks for
 * asynchronous writes (it does after a slow synchronous one: a file system journal stalled by
 * other processes' fsyncs must not stall the event loop); larger ones spill to the temporary
 * file as they arrive, after a placeholder
 * header of the same length, which is overwritten with the final body length and CRC-32C at
 * commit. The file becomes visible only through the final `rename()` (atomic on POSIX), so a
 * crash or an abort at any point leaves at most a file in `tmp/`, which the next start removes.
 *
 * @module
 */
import type { StoredMeta, StoreWriter } from "../store.ts";
import { crc32c } from "./crc32c.ts";
import {
  BODY_BLOCK_BYTES,
  encodeBlockTable,
  encodeEntryHeader,
  type EntryHeader,
  validatorsOf,
} from "./entry_format.ts";

/** Bodies up to this size are buffered in memory until commit. */
export const SPILL_BYTES = 64 * 1024;

/** Why a write failed (the `reason` label of the failure counter). */
export type WriteFailureReason = "nospace" | "io" | "toolarge" | "length";

/** A write failure with its reason. */
export class StoreWriteError extends Error {
  /** The failure reason. */
  readonly reason: WriteFailureReason;
  /**
   * @param message what failed
   * @param reason the failure reason
   * @param options `cause`
   */
  constructor(message: string, reason: WriteFailureReason, options?: ErrorOptions) {
    super(message, options);
    this.name = "StoreWriteError";
    this.reason = reason;
  }
}

/** Whether an error is a full disk (ENOSPC) or quota (EDQUOT). */
export function isNoSpace(e: unknown): boolean {
  const code = (e as { code?: string })?.code;
  return code === "ENOSPC" || code === "EDQUOT" || /os error (28|122)\)/.test(String((e as Error)?.message));
}

/** What the writer needs from its directory. */
export interface WriterHost {
  /** Temporary file path for a new object. */
  tempPath(name: string): string;
  /** Renames the finished temporary file into place (creating subdirectories). */
  install(temp: string, name: string): Promise<void>;
  /** {@link WriterHost.install}, synchronously. */
  installSync(temp: string, name: string): void;
  /** Whether buffered objects may be written synchronously now. */
  syncWrites(): boolean;
  /** Reports how long a synchronous write + install took, ms. */
  wroteSync(ms: number): void;
  /** Called after a successful install. */
  committed(name: string, header: EntryHeader, fileBytes: number): void;
  /** Called once per failed write. */
  failed(reason: WriteFailureReason, error: unknown): void;
  /** Largest object accepted, bytes of body. */
  maxObjectBytes: number;
}

/** Writes one object; see the module doc. */
export class DiskWriter implements StoreWriter {
  #host: WriterHost;
  #meta: StoredMeta;
  #name: string;
  #temp: string;
  #chunks: Uint8Array[] = [];
  #length = 0;
  #crc = 0;
  /** CRC-32C of each complete 64 KiB block so far, and of the started one. */
  #blockCrcs: number[] = [];
  #blockCrc = 0;
  #blockFill = 0;
  #file: Deno.FsFile | undefined;
  #headerBytes = 0;
  #done = false;
  #error: unknown;

  /**
   * @param host the directory
   * @param name the object's file name
   * @param meta the object's metadata (`bodyBytes` < 0 when unknown)
   */
  constructor(host: WriterHost, name: string, meta: StoredMeta) {
    this.#host = host;
    this.#meta = meta;
    this.#name = name;
    this.#temp = host.tempPath(name);
    if (meta.bodyBytes > host.maxObjectBytes) {
      this.#fail(
        new StoreWriteError(`Cannot store object: ${meta.bodyBytes} bytes exceed ${host.maxObjectBytes}`, "toolarge"),
      );
    }
  }

  #fail(e: unknown): never {
    if (!this.#error) {
      const reason = e instanceof StoreWriteError ? e.reason : isNoSpace(e) ? "nospace" : "io";
      this.#error = e instanceof StoreWriteError
        ? e
        : new StoreWriteError(`Cannot store object: ${(e as Error).message}`, reason, { cause: e });
      this.#host.failed(reason, e);
    }
    throw this.#error;
  }

  #header(bodyBytes: number, crc: number): EntryHeader {
    return {
      meta: { ...this.#meta, bodyBytes },
      storedTime: Date.now(),
      bodyCrc: crc,
      ...validatorsOf(this.#meta.headers),
    };
  }

  /** Appends body bytes; rejects with a {@link StoreWriteError} (and aborts) when they cannot be stored. */
  async write(chunk: Uint8Array): Promise<void> {
    if (this.#error) throw this.#error;
    if (this.#done) throw new TypeError("Cannot write: the object was already committed or aborted");
    const known = this.#meta.bodyBytes >= 0 ? this.#meta.bodyBytes : Infinity;
    if (this.#length + chunk.length > Math.min(known, this.#host.maxObjectBytes)) {
      await this.abort();
      const reason = this.#length + chunk.length > this.#host.maxObjectBytes ? "toolarge" : "length";
      this.#fail(
        new StoreWriteError(`Cannot store object: body exceeds ${Math.min(known, this.#host.maxObjectBytes)}`, reason),
      );
    }
    this.#crc = crc32c(chunk, this.#crc);
    this.#addToBlocks(chunk);
    this.#length += chunk.length;
    try {
      if (this.#file) {
        await writeAll(this.#file, chunk);
      } else {
        this.#chunks.push(chunk.slice());
        if (this.#length > SPILL_BYTES) await this.#spill();
      }
    } catch (e) {
      await this.abort();
      this.#fail(e);
    }
  }

  /** Adds bytes to the per-block CRCs (the block table, entry format 2). */
  #addToBlocks(chunk: Uint8Array): void {
    for (let o = 0; o < chunk.length;) {
      const n = Math.min(chunk.length - o, BODY_BLOCK_BYTES - this.#blockFill);
      this.#blockCrc = crc32c(chunk.subarray(o, o + n), this.#blockCrc);
      this.#blockFill += n;
      o += n;
      if (this.#blockFill === BODY_BLOCK_BYTES) {
        this.#blockCrcs.push(this.#blockCrc);
        this.#blockCrc = 0;
        this.#blockFill = 0;
      }
    }
  }

  /** The block CRC table of the whole body. */
  #blockTable(): Uint8Array {
    return encodeBlockTable(this.#blockFill > 0 ? [...this.#blockCrcs, this.#blockCrc] : this.#blockCrcs);
  }

  async #spill(): Promise<void> {
    const placeholder = encodeEntryHeader(this.#header(0, 0));
    this.#headerBytes = placeholder.length;
    this.#file = await Deno.open(this.#temp, { createNew: true, write: true });
    await writeAll(this.#file, placeholder);
    for (const c of this.#chunks) await writeAll(this.#file, c);
    this.#chunks = [];
  }

  /** Finishes the file and renames it into place. */
  async commit(): Promise<void> {
    if (this.#error) throw this.#error;
    if (this.#done) throw new TypeError("Cannot commit: the object was already committed or aborted");
    if (this.#meta.bodyBytes >= 0 && this.#length !== this.#meta.bodyBytes) {
      await this.abort();
      this.#fail(
        new StoreWriteError(`Cannot store object: got ${this.#length} of ${this.#meta.bodyBytes} body bytes`, "length"),
      );
    }
    this.#done = true;
    const entry = this.#header(this.#length, this.#crc);
    let header: Uint8Array;
    let installed = false;
    const table = this.#blockTable();
    try {
      header = encodeEntryHeader(entry);
      if (this.#file) {
        if (header.length !== this.#headerBytes) throw new Error("header length changed while writing");
        await writeAll(this.#file, table);
        await this.#file.seek(0, Deno.SeekMode.Start);
        await writeAll(this.#file, header);
        this.#file.close();
        this.#file = undefined;
      } else {
        const all = new Uint8Array(header.length + this.#length + table.length);
        all.set(header, 0);
        let o = header.length;
        for (const c of this.#chunks) {
          all.set(c, o);
          o += c.length;
        }
        all.set(table, o);
        this.#chunks = [];
        if (this.#host.syncWrites()) {
          const t0 = performance.now();
          const f = Deno.openSync(this.#temp, { createNew: true, write: true });
          try {
            for (let w = 0; w < all.length;) w += f.writeSync(all.subarray(w));
          } finally {
            f.close();
          }
          this.#host.installSync(this.#temp, this.#name);
          this.#host.wroteSync(performance.now() - t0);
          installed = true;
        } else {
          // Asynchronous: creating and renaming files takes the file system's journal, which can
          // stall for milliseconds when other processes fsync; the event loop must not wait on it.
          const f = await Deno.open(this.#temp, { createNew: true, write: true });
          try {
            await writeAll(f, all);
          } finally {
            f.close();
          }
        }
      }
      if (!installed) await this.#host.install(this.#temp, this.#name);
    } catch (e) {
      this.#done = false;
      await this.abort();
      this.#fail(e);
    }
    this.#host.committed(this.#name, entry, header.length + this.#length + table.length);
  }

  /** Discards the temporary file; safe to call more than once. */
  async abort(): Promise<void> {
    if (this.#done) return;
    this.#done = true;
    this.#chunks = [];
    if (this.#file) {
      try {
        this.#file.close();
      } catch { /* already closed */ }
      this.#file = undefined;
    }
    await Deno.remove(this.#temp).catch(() => {});
  }
}

/** Writes every byte of `data` (Deno's write may be partial). */
export async function writeAll(f: Deno.FsFile, data: Uint8Array): Promise<void> {
  let o = 0;
  while (o < data.length) o += await f.write(data.subarray(o));
}
