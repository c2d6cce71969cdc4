/**
 * `TieredStore`: a memory tier in front of a disk tier, like Squid's `cache_mem` over its
 * `cache_dir`s. Hot objects are answered from memory; the rest from disk.
 *
 * - Writes go to the disk (the durable copy) and, when the body is at most the memory tier's
 *   `maxObjectBytes`, to memory too. A disk that refuses (full, I/O error) does not fail the
 *   write while memory takes it: serving continues from memory.
 * - Lookups try memory, then disk. A disk hit whose body fits the memory tier is promoted: at
 *   once when the disk tier read the body already (small files), otherwise when a whole-body
 *   stream of it has been read to the end (a tee, so the object is read from disk once).
 * - The memory tier evicts by its own policy (objects stay on disk); the disk evicts by its own
 *   watermarks and deletes objects from memory only through `delete()`.
 * - `variants()` answers from memory when memory knows any variant of the URL (all variants of a
 *   URL share one Vary header, which is what callers need to compute the variant key), otherwise
 *   from disk.
 *
 * @module
 */
import type { ObjectKey, Store, StoredMeta, StoredObject, StoreStats, StoreWriter, VariantsOpts } from "./store.ts";

/** Counters of a {@link TieredStore}: the sum plus each tier. */
export interface TieredStats extends StoreStats {
  memoryHits: number;
  diskHits: number;
  promotions: number;
}

/** Options of {@link TieredStore}. */
export interface TieredStoreOptions {
  /** The memory tier (e.g. `MemoryStore`). */
  memory: Store;
  /** The disk tier (e.g. `DiskStore`). */
  disk: Store;
  /** Largest body promoted to or written into memory (`cache.memory.maxObjectBytes`). */
  memoryMaxObjectBytes: number;
}

/** Memory in front of disk; see the module doc. */
export class TieredStore implements Store {
  /** `tiered` */
  readonly name = "tiered";
  /** The memory tier. */
  readonly memory: Store;
  /** The disk tier. */
  readonly disk: Store;
  readonly #maxMem: number;
  #hits = 0;
  #misses = 0;
  #memoryHits = 0;
  #diskHits = 0;
  #promotions = 0;

  /** @param opts the tiers and the memory object size limit */
  constructor(opts: TieredStoreOptions) {
    this.memory = opts.memory;
    this.disk = opts.disk;
    this.#maxMem = opts.memoryMaxObjectBytes;
  }

  /**
   * Variants of a URL: from memory when it knows any, else from disk. Synchronous when both
   * tiers answer synchronously (a memory tier and the disk's plain-URL fast path).
   */
  variants(primary: string, opts?: VariantsOpts): StoredMeta[] | Promise<StoredMeta[]> {
    const mem = this.memory.variants(primary);
    if (mem instanceof Promise) return mem.then((m) => m.length > 0 ? m : this.disk.variants(primary, opts));
    return mem.length > 0 ? mem : this.disk.variants(primary, opts);
  }

  /** Memory first, then disk (promoting what fits); synchronous when the tiers are. */
  get(key: ObjectKey): StoredObject | undefined | Promise<StoredObject | undefined> {
    const mem = this.memory.get(key);
    if (mem instanceof Promise) return mem.then((m) => this.#afterMemory(key, m));
    return this.#afterMemory(key, mem);
  }

  #afterMemory(
    key: ObjectKey,
    mem: StoredObject | undefined,
  ): StoredObject | undefined | Promise<StoredObject | undefined> {
    if (mem) {
      this.#hits++;
      this.#memoryHits++;
      return mem;
    }
    const d = this.disk.get(key);
    return d instanceof Promise ? d.then((obj) => this.#fromDisk(obj)) : this.#fromDisk(d);
  }

  #fromDisk(obj: StoredObject | undefined): StoredObject | undefined | Promise<StoredObject | undefined> {
    if (!obj) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    this.#diskHits++;
    if (obj.meta.bodyBytes > this.#maxMem) return obj;
    if (obj.body) {
      // A copy: the disk tier's body is a view into a read buffer shared with other lookups,
      // which the memory tier would otherwise keep alive whole.
      return this.#promote(obj.meta, [obj.body.slice()]).then(() => obj);
    }
    return {
      meta: obj.meta,
      tier: obj.tier,
      openBody: (range) => {
        const stream = obj.openBody(range);
        if (range && (range.start > 0 || range.end < obj.meta.bodyBytes - 1)) return stream;
        const chunks: Uint8Array[] = [];
        return stream.pipeThrough(
          new TransformStream<Uint8Array, Uint8Array>({
            transform(chunk, c) {
              chunks.push(chunk);
              c.enqueue(chunk);
            },
            flush: () => this.#promote(obj.meta, chunks),
          }),
        );
      },
    };
  }

  async #promote(meta: StoredMeta, chunks: Uint8Array[]): Promise<void> {
    try {
      const w = await this.memory.openWrite(meta);
      for (const c of chunks) await w.write(c);
      await w.commit();
      this.#promotions++;
    } catch {
      // The memory tier refused (too large for it): the object stays on disk only.
    }
  }

  /** Writes to disk and, when it fits, to memory. */
  async openWrite(meta: StoredMeta): Promise<StoreWriter> {
    let disk: StoreWriter | undefined = await this.disk.openWrite(meta);
    let mem: StoreWriter | undefined = meta.bodyBytes <= this.#maxMem ? await this.memory.openWrite(meta) : undefined;
    let length = 0;
    let diskError: unknown;
    const dropMem = async () => {
      const m = mem;
      mem = undefined;
      await m?.abort();
    };
    return {
      write: async (chunk) => {
        length += chunk.length;
        if (mem && length > this.#maxMem) await dropMem();
        if (mem) {
          try {
            await mem.write(chunk);
          } catch {
            mem = undefined;
          }
        }
        if (disk) {
          try {
            await disk.write(chunk);
          } catch (e) {
            diskError = e;
            disk = undefined;
          }
        }
        if (!disk && !mem) throw diskError ?? new RangeError("Cannot store object: no tier accepts it");
      },
      commit: async () => {
        let err: unknown = diskError;
        if (disk) {
          try {
            await disk.commit();
          } catch (e) {
            err = e;
            disk = undefined;
          }
        }
        if (mem) {
          try {
            await mem.commit();
            return;
          } catch (e) {
            err ??= e;
            mem = undefined;
          }
        }
        if (!disk) throw err ?? new RangeError("Cannot store object: no tier accepts it");
      },
      abort: async () => {
        await dropMem();
        const d = disk;
        disk = undefined;
        await d?.abort();
      },
    };
  }

  /** Updates both tiers; true when either had the object. */
  async updateMeta(meta: StoredMeta): Promise<boolean> {
    const a = await this.memory.updateMeta(meta);
    const b = await this.disk.updateMeta(meta);
    return a || b;
  }

  /** Deletes from both tiers; returns the larger count. */
  async delete(primary: string, variant?: string): Promise<number> {
    const a = await this.memory.delete(primary, variant);
    const b = await this.disk.delete(primary, variant);
    return Math.max(a, b);
  }

  /** Every object once: the disk's, then memory-only ones. */
  async *entries(): AsyncIterable<StoredMeta> {
    const seen = new Set<string>();
    for await (const m of this.disk.entries()) {
      seen.add(m.primary + "\n" + m.variant);
      yield m;
    }
    for await (const m of this.memory.entries()) if (!seen.has(m.primary + "\n" + m.variant)) yield m;
  }

  /** Hits and misses of the tiered lookups; sizes of the disk tier (the superset). */
  stats(): TieredStats {
    const d = this.disk.stats();
    return {
      ...d,
      hits: this.#hits,
      misses: this.#misses,
      memoryHits: this.#memoryHits,
      diskHits: this.#diskHits,
      promotions: this.#promotions,
    };
  }

  /** Closes both tiers. */
  async close(): Promise<void> {
    await this.memory.close();
    await this.disk.close();
  }
}
