/**
 * Decoded header blocks of recently read object files, so a hit on a file read before decodes
 * nothing. Private to the disk store.
 *
 * Decoding a header block (its CRC, then a string per key, header name and value) was the
 * largest JavaScript cost of a small disk hit after the system calls. A hit reads the header
 * block anyway; when its bytes equal, byte for byte, the block this memo decoded last time for the
 * same object name, the earlier decode is returned. Equal bytes decode to an equal header, so the
 * format's checks (magic, version, header CRC, field bounds) hold exactly as if the block had been
 * decoded again; any change to the file (a newer version, damage) changes the bytes and decodes
 * afresh. The returned header, and its `meta`, are shared by every hit of that file version: they
 * must not be modified (stores hand out metadata read-only anyway, as the memory store does).
 *
 * @module
 */
import { decodeEntryHeader, type EntryHeader } from "./entry_format.ts";

/** Header blocks kept by default (about 1 KiB each with their decoded fields). */
export const HEADER_MEMO_ENTRIES = 16384;

/** Header blocks larger than this are decoded every time (rare, and costly to keep). */
const MAX_MEMO_BLOCK_BYTES = 4096;

/** Decoded header blocks by object name; see the module doc. */
export class HeaderMemo {
  readonly #max: number;
  readonly #byName = new Map<string, { bytes: Uint8Array; header: EntryHeader }>();

  /** @param max entries kept at most (the map is emptied when full) */
  constructor(max = HEADER_MEMO_ENTRIES) {
    this.#max = max;
  }

  /** Entries kept now. */
  get size(): number {
    return this.#byName.size;
  }

  /**
   * The header decoded from `block`, from the memo when `name`'s last block had the same bytes.
   *
   * @param name the object's name (its file name)
   * @param block exactly the header block (H bytes, from `entryHeaderLength`)
   * @returns the decoded header (shared: do not modify)
   * @throws {EntryDecodeError} as `decodeEntryHeader` does for a block that does not decode
   */
  decode(name: string, block: Uint8Array): EntryHeader {
    const e = this.#byName.get(name);
    if (e && sameBytes(e.bytes, block)) return e.header;
    const header = decodeEntryHeader(block);
    if (block.length <= MAX_MEMO_BLOCK_BYTES && this.#max > 0) {
      if (!e && this.#byName.size >= this.#max) this.#byName.clear();
      this.#byName.set(name, { bytes: block.slice(), header });
    }
    return header;
  }

  /** Forgets `name` (its file was replaced or deleted). */
  forget(name: string): void {
    this.#byName.delete(name);
  }

  /** Forgets everything. */
  clear(): void {
    this.#byName.clear();
  }
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  const n = a.length;
  if (n !== b.length) return false;
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return false;
  return true;
}
