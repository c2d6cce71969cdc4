/**
 * `DiskStore`: several cache directories behind one {@link Store}, each object in exactly one of
 * them. The directory of a URL is chosen by weighted rendezvous hashing of its primary key
 * (every variant of a URL lands in the same directory, so `variants()` asks one directory):
 * score(dir) = -weight / ln(u), u = hash(primary, dir) in (0, 1), weight = the dir's size; the
 * highest score wins. Adding a directory moves only the share of objects it takes over.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { ObjectKey, Store, StoredMeta, StoredObject, StoreStats, StoreWriter } from "../store.ts";
import { CacheDir, type CacheDirOptions, type CacheDirStatus } from "./cache_dir.ts";

/** Options shared by every directory of a {@link DiskStore}. */
export type DiskStoreOptions = Omit<CacheDirOptions, "path" | "maxBytes" | "l1" | "l2">;

/** One directory's settings (`cache.store.dirs[]`). */
export interface DiskDirConfig {
  path: string;
  size: number;
  l1?: number;
  l2?: number;
}

function unitHash(s: string): number {
  const b = createHash("sha256").update(s).digest();
  // 52 bits -> (0, 1)
  const hi = b.readUInt32BE(0) >>> 12;
  const lo = b.readUInt32BE(4);
  return (hi * 2 ** 32 + lo + 1) / (2 ** 52 + 2);
}

/** Several {@link CacheDir}s; see the module doc. */
export class DiskStore implements Store {
  /** `disk` */
  readonly name = "disk";
  /** The directories, in configuration order. */
  readonly dirs: readonly CacheDir[];
  readonly #weights: number[];

  private constructor(dirs: CacheDir[], weights: number[]) {
    this.dirs = dirs;
    this.#weights = weights;
  }

  /**
   * Opens every directory; if one fails the ones already open are closed and the error is thrown.
   *
   * @throws {Error} naming the directory that cannot be used
   */
  static async open(dirs: DiskDirConfig[], opts: DiskStoreOptions = {}): Promise<DiskStore> {
    if (dirs.length === 0) throw new RangeError("Cannot open disk store: no cache directories configured");
    const opened: CacheDir[] = [];
    try {
      for (const d of dirs) {
        opened.push(await CacheDir.open({ ...opts, path: d.path, maxBytes: d.size, l1: d.l1, l2: d.l2 }));
      }
    } catch (e) {
      for (const d of opened) await d.close();
      throw e;
    }
    return new DiskStore(opened, dirs.map((d) => d.size));
  }

  /** The directory that holds (or would hold) objects of `primary`. */
  dirFor(primary: string): CacheDir {
    if (this.dirs.length === 1) return this.dirs[0];
    let best = this.dirs[0];
    let bestScore = -Infinity;
    this.dirs.forEach((d, i) => {
      const score = -this.#weights[i] / Math.log(unitHash(`${d.path}\n${primary}`));
      if (score > bestScore) {
        bestScore = score;
        best = d;
      }
    });
    return best;
  }

  /** Variants of a URL, from its directory. */
  variants(primary: string): StoredMeta[] | Promise<StoredMeta[]> {
    return this.dirFor(primary).variants(primary);
  }

  /** Looks an object up in its directory. */
  get(key: ObjectKey): StoredObject | undefined {
    return this.dirFor(key.primary).get(key);
  }

  /** Starts writing an object to its directory. */
  openWrite(meta: StoredMeta): StoreWriter {
    return this.dirFor(meta.primary).openWrite(meta);
  }

  /** Rewrites an object's metadata. */
  updateMeta(meta: StoredMeta): Promise<boolean> {
    return this.dirFor(meta.primary).updateMeta(meta);
  }

  /** Deletes one or every variant of a URL. */
  delete(primary: string, variant?: string): Promise<number> {
    return this.dirFor(primary).delete(primary, variant);
  }

  /** Every object of every directory. */
  async *entries(): AsyncIterable<StoredMeta> {
    for (const d of this.dirs) yield* d.entries();
  }

  /** Sums of the directories' counters. */
  stats(): StoreStats {
    const out: StoreStats = { objects: 0, bytes: 0, maxBytes: 0, hits: 0, misses: 0, evictions: 0, damaged: 0 };
    const failures: Record<string, number> = {};
    for (const d of this.dirs) {
      const s = d.stats();
      out.objects += s.objects;
      out.bytes += s.bytes;
      out.maxBytes += s.maxBytes;
      out.hits += s.hits;
      out.misses += s.misses;
      out.evictions += s.evictions;
      out.damaged! += s.damaged ?? 0;
      for (const [k, v] of Object.entries(s.writeFailures ?? {})) failures[k] = (failures[k] ?? 0) + v;
    }
    out.writeFailures = failures;
    return out;
  }

  /** Per-directory state for `/status`. */
  status(): CacheDirStatus[] {
    return this.dirs.map((d) => d.status());
  }

  /** Resolves when every directory has loaded or rebuilt its index. */
  async whenReady(): Promise<void> {
    await Promise.all(this.dirs.map((d) => d.whenReady()));
  }

  /** Closes every directory. */
  async close(): Promise<void> {
    for (const d of this.dirs) await d.close();
  }
}
