/**
 * The writer of a rock directory: buffers a body in memory (it is at most one slot) and hands its
 * chunks to the directory at commit, which encodes them into its reused slot buffer and writes
 * the record with one `pwrite`. A body that outgrows the
 * slot is handed, with what was buffered, to an overflow writer (a ufs directory's) when the
 * directory has one (Squid's rock-for-small, ufs-for-large), and fails with `toolarge` otherwise.
 *
 * @module
 */
import type { MaybePromise, StoredMeta, StoreWriter } from "../../store.ts";
import { StoreWriteError, type WriteFailureReason } from "../_disk_writer.ts";

/** What a {@link RockWriter} needs from its directory. */
export interface RockWriterHost {
  /** Largest body the slot can take (an upper bound: the record must also fit the entry header). */
  maxBodyBytes: number;
  /**
   * Stores a whole body, given as the chunks written (copied into the record, not joined
   * first); returns false when its record does not fit a slot after all (long headers), else
   * whether it replaced an "in ufs" marker. Throws a {@link StoreWriteError} when the write fails.
   */
  store(meta: StoredMeta, body: readonly Uint8Array[]): false | { replacedUfs: boolean };
  /** Opens a writer elsewhere for a body too large for a slot, or is absent. */
  overflow?: (meta: StoredMeta) => MaybePromise<StoreWriter>;
  /** Counts a failure (not the ones the overflow writer reports itself). */
  failed(reason: WriteFailureReason, e: unknown): void;
}

/** Writes one object to a rock directory; see the module doc. */
export class RockWriter implements StoreWriter {
  readonly #host: RockWriterHost;
  readonly #meta: StoredMeta;
  #chunks: Uint8Array[] = [];
  #bytes = 0;
  #done = false;
  #overflow: StoreWriter | undefined;
  /** True once the body went to the overflow writer. */
  spilled = false;
  /** True once committed in rock over an "in ufs" marker: an older copy is in the ufs directory. */
  replacedUfs = false;

  /**
   * @param host the directory
   * @param meta the object's metadata (`bodyBytes` -1 when unknown)
   */
  constructor(host: RockWriterHost, meta: StoredMeta) {
    this.#host = host;
    this.#meta = meta;
  }

  /** Buffers a chunk, or passes it on once the body went to the overflow writer. */
  async write(chunk: Uint8Array): Promise<void> {
    if (this.#done) throw new StoreWriteError("Cannot write object: writer is closed", "io");
    if (this.#overflow) return await this.#overflow.write(chunk);
    this.#bytes += chunk.length;
    this.#chunks.push(chunk.slice());
    if (this.#bytes > this.#host.maxBodyBytes) await this.#spill();
  }

  async #spill(): Promise<void> {
    if (!this.#host.overflow) {
      this.#done = true;
      this.#chunks = [];
      const e = new StoreWriteError(
        `Cannot store object: body of ${this.#bytes}+ bytes exceeds the rock slot (${this.#host.maxBodyBytes})`,
        "toolarge",
      );
      this.#host.failed("toolarge", e);
      throw e;
    }
    this.spilled = true;
    const w = this.#overflow = await this.#host.overflow(this.#meta);
    const chunks = this.#chunks;
    this.#chunks = [];
    for (const c of chunks) await w.write(c);
  }

  /** Stores the object (or commits the overflow writer). */
  async commit(): Promise<void> {
    if (this.#done) throw new StoreWriteError("Cannot commit object: writer is closed", "io");
    if (this.#overflow) {
      this.#done = true;
      return await this.#overflow.commit();
    }
    const want = this.#meta.bodyBytes;
    if (want >= 0 && want !== this.#bytes) {
      this.#done = true;
      this.#chunks = [];
      const e = new StoreWriteError(`Cannot commit object: wrote ${this.#bytes} of ${want} body bytes`, "length");
      this.#host.failed("length", e);
      throw e;
    }
    const stored = this.#host.store({ ...this.#meta, bodyBytes: this.#bytes }, this.#chunks);
    if (stored) {
      this.replacedUfs = stored.replacedUfs;
      this.#done = true;
      this.#chunks = [];
      return;
    }
    // The record does not fit with its headers: the overflow writer takes it whole.
    await this.#spill();
    this.#done = true;
    await this.#overflow!.commit();
  }

  /** Discards the object. */
  async abort(): Promise<void> {
    this.#done = true;
    this.#chunks = [];
    await this.#overflow?.abort();
  }
}
