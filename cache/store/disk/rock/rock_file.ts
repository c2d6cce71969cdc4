/**
 * The file I/O of a rock directory: the one `rock.slots` file (format in `slot_format.ts`),
 * created sparse at its full size, read and written with positioned system calls (`pread`,
 * `pwrite` through `node:fs`: one system call each, no shared file offset, so the worker
 * processes of an instance use one file at once without coordination).
 *
 * Everything is synchronous: each call is one system call on the page cache (microseconds),
 * where an asynchronous file op costs a trip through the blocking thread pool.
 *
 * @module
 */
import * as fs from "node:fs";
import {
  decodeRockFileHeader,
  encodeRockFileHeader,
  FILE_HEADER_BYTES,
  rockFileBytes,
  type RockFileHeader,
  type RockGeometry,
  SLOT_HEADER_BYTES,
  slotHeaderOffset,
  slotOffset,
  tableOffset,
} from "./slot_format.ts";

/** The rock file's name inside its directory. */
export const ROCK_FILE_NAME = "rock.slots";

const ZERO_HEADER = new Uint8Array(SLOT_HEADER_BYTES);

/** Why an existing rock file was replaced by an empty one (for the log), or `undefined`. */
export type RockFileReset = string | undefined;

/** An open rock file. Open with {@link RockFile.open}. */
export class RockFile {
  /** The file's path. */
  readonly path: string;
  /** The geometry read from (or written to) its header. */
  readonly header: RockFileHeader;
  readonly #fd: number;

  private constructor(path: string, fd: number, header: RockFileHeader) {
    this.path = path;
    this.#fd = fd;
    this.header = header;
  }

  /**
   * Opens the rock file of a directory. With `create` (the instance's first process), a missing
   * file, or one whose header is damaged or whose geometry differs from `geometry`, is replaced by
   * an empty sparse file of the full size (written aside and renamed, so no process ever sees a
   * half-made file); `reset` says why. Without `create` (the other workers), the file must exist
   * with that geometry.
   *
   * @param dir the cache directory
   * @param geometry the wanted geometry
   * @param opts whether this process may create or replace the file
   * @throws {Error} when the file cannot be opened or created, or (without `create`) does not match
   */
  static open(
    dir: string,
    geometry: RockGeometry,
    opts: { create: boolean },
  ): { file: RockFile; reset: RockFileReset } {
    const path = `${dir}/${ROCK_FILE_NAME}`;
    let reset: RockFileReset;
    let header: RockFileHeader | undefined;
    try {
      header = readHeader(path);
      if (
        header.slotBytes !== geometry.slotBytes || header.ways !== geometry.ways || header.sets !== geometry.sets
      ) {
        reset = `geometry changed from ${header.sets} sets × ${header.ways} ways × ${header.slotBytes} bytes`;
        header = undefined;
      }
    } catch (e) {
      reset = (e as { code?: string }).code === "ENOENT" ? "new directory" : `unusable file: ${(e as Error).message}`;
    }
    if (!header) {
      if (!opts.create) throw new Error(`Cannot open rock file "${path}": ${reset}`);
      header = { ...geometry, generation: randomHex16(), created: Date.now() };
      const temp = `${path}.new.${Deno.pid}`;
      const fd = fs.openSync(temp, "w");
      try {
        fs.ftruncateSync(fd, rockFileBytes(geometry));
        fs.writeSync(fd, encodeRockFileHeader(header), 0, FILE_HEADER_BYTES, 0);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(temp, path);
    }
    return { file: new RockFile(path, fs.openSync(path, "r+"), header), reset };
  }

  /**
   * Reads the table (every slot header) of a set into `into` (at least ways × 64 bytes).
   *
   * @returns the bytes read (fewer only if the file was truncated underneath)
   */
  readTable(set: number, into: Uint8Array): number {
    const n = this.header.ways * SLOT_HEADER_BYTES;
    return fs.readSync(this.#fd, into, 0, n, tableOffset(this.header, set));
  }

  /**
   * Reads the tables of `count` consecutive sets from `firstSet` (they are contiguous in the
   * directory) into `into`, in one system call; returns the bytes read.
   */
  readTables(firstSet: number, count: number, into: Uint8Array): number {
    const n = Math.min(count * this.header.ways * SLOT_HEADER_BYTES, into.length);
    return fs.readSync(this.#fd, into, 0, n, tableOffset(this.header, firstSet));
  }

  /** Reads `length` bytes of the record of a way into `into`; returns the bytes read. */
  readRecord(set: number, way: number, length: number, into: Uint8Array): number {
    let done = 0;
    const at = slotOffset(this.header, set, way);
    while (done < length) {
      const n = fs.readSync(this.#fd, into, done, length - done, at + done);
      if (n === 0) break;
      done += n;
    }
    return done;
  }

  /** Reads one way's 64-byte slot header into `into`; returns the bytes read. */
  readSlotHeader(set: number, way: number, into: Uint8Array): number {
    return fs.readSync(this.#fd, into, 0, SLOT_HEADER_BYTES, slotHeaderOffset(this.header, set, way));
  }

  /** Writes a record into a way's slot (the caller checked it fits). */
  writeRecord(set: number, way: number, record: Uint8Array): void {
    writeFully(this.#fd, record, slotOffset(this.header, set, way));
  }

  /** Writes a way's 64-byte slot header. */
  writeSlotHeader(set: number, way: number, header: Uint8Array): void {
    writeFully(this.#fd, header.subarray(0, SLOT_HEADER_BYTES), slotHeaderOffset(this.header, set, way));
  }

  /** Empties a way (zeroes its slot header). */
  clearSlot(set: number, way: number): void {
    writeFully(this.#fd, ZERO_HEADER, slotHeaderOffset(this.header, set, way));
  }

  /** Closes the file. */
  close(): void {
    fs.closeSync(this.#fd);
  }
}

function readHeader(path: string): RockFileHeader {
  const fd = fs.openSync(path, "r");
  try {
    const buf = new Uint8Array(64);
    const n = fs.readSync(fd, buf, 0, 64, 0);
    return decodeRockFileHeader(buf.subarray(0, n));
  } finally {
    fs.closeSync(fd);
  }
}

function writeFully(fd: number, bytes: Uint8Array, at: number): void {
  let done = 0;
  while (done < bytes.length) done += fs.writeSync(fd, bytes, done, bytes.length - done, at + done);
}

function randomHex16(): string {
  return [...crypto.getRandomValues(new Uint8Array(16))].map((b) => b.toString(16).padStart(2, "0")).join("");
}
