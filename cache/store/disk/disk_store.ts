/**
 * `DiskStore`: several cache directories behind one {@link Store}, each object in exactly one of
 * them. The directory of a URL is chosen by weighted rendezvous hashing of its primary key
 * (every variant of a URL lands in the same directory, so `variants()` asks one directory):
 * score(dir) = -weight / ln(u), u = hash(primary, dir) in (0, 1), weight = the dir's size; the
 * highest score wins. Adding a directory moves only the share of objects it takes over.
 *
 * Directories are of two types (`cache.store.dirs[].type`): `ufs` (one file per object,
 * `cache_dir.ts`) and `rock` (small objects packed in slots, `rock/rock_dir.ts`). With rock
 * directories, an object goes to the rock directory of its URL when its record fits a slot, and
 * otherwise to the ufs directory of its URL when there is one (a body of unknown length starts in
 * rock and moves to ufs when it outgrows the slot); without a ufs directory it is not stored on
 * disk (Squid's rock-for-small, ufs-for-large). Lookups ask the rock directory first, then the
 * ufs one only when the rock directory holds an "in ufs" marker of the key (written when the
 * object went to ufs; see `rock/rock_dir.ts`), so a miss probes no ufs directory. Storing a key
 * in ufs replaces its rock copy by the marker; storing it in rock replaces the marker and deletes
 * the ufs copy, so a lookup never finds an older copy behind a newer one.
 *
 * @module
 */
import { createHash } from "node:crypto";
import type { ObjectKey, Store, StoredMeta, StoredObject, StoreStats, StoreWriter, VariantsOpts } from "../store.ts";
import { CacheDir, type CacheDirOptions, type CacheDirStatus } from "./cache_dir.ts";
import { IN_UFS, RockDir } from "./rock/rock_dir.ts";
import type { RockWriter } from "./rock/rock_writer.ts";

/** Options shared by every directory of a {@link DiskStore}. */
export type DiskStoreOptions = Omit<CacheDirOptions, "path" | "maxBytes" | "l1" | "l2">;

/** One directory's settings (`cache.store.dirs[]`). */
export interface DiskDirConfig {
  path: string;
  size: number;
  /** `ufs` (default) or `rock`. */
  type?: "ufs" | "rock";
  l1?: number;
  l2?: number;
  /** Rock slot size in bytes (rock only). */
  slotBytes?: number;
  /** Rock slots per set (rock only). */
  ways?: number;
}

function unitHash(s: string): number {
  const b = createHash("sha256").update(s).digest();
  // 52 bits -> (0, 1)
  const hi = b.readUInt32BE(0) >>> 12;
  const lo = b.readUInt32BE(4);
  return (hi * 2 ** 32 + lo + 1) / (2 ** 52 + 2);
}

/** Picks one of several weighted directories by rendezvous hashing (see the module doc). */
function pick<D extends { path: string }>(dirs: readonly D[], weights: readonly number[], primary: string): D {
  if (dirs.length === 1) return dirs[0];
  let best = dirs[0];
  let bestScore = -Infinity;
  dirs.forEach((d, i) => {
    const score = -weights[i] / Math.log(unitHash(`${d.path}\n${primary}`));
    if (score > bestScore) {
      bestScore = score;
      best = d;
    }
  });
  return best;
}

/** Several {@link CacheDir}s and {@link RockDir}s; see the module doc. */
export class DiskStore implements Store {
  /** `disk` */
  readonly name = "disk";
  /** The ufs directories, in configuration order. */
  readonly dirs: readonly CacheDir[];
  /** The rock directories, in configuration order. */
  readonly rocks: readonly RockDir[];
  readonly #weights: number[];
  readonly #rockWeights: number[];

  private constructor(dirs: CacheDir[], weights: number[], rocks: RockDir[], rockWeights: number[]) {
    this.dirs = dirs;
    this.#weights = weights;
    this.rocks = rocks;
    this.#rockWeights = rockWeights;
  }

  /**
   * Opens every directory (ufs first, so that rock directories can hand large bodies to them);
   * if one fails the ones already open are closed and the error is thrown.
   *
   * @throws {Error} naming the directory that cannot be used
   */
  static async open(dirs: DiskDirConfig[], opts: DiskStoreOptions = {}): Promise<DiskStore> {
    if (dirs.length === 0) throw new RangeError("Cannot open disk store: no cache directories configured");
    const ufsConf = dirs.filter((d) => (d.type ?? "ufs") === "ufs");
    const rockConf = dirs.filter((d) => d.type === "rock");
    const opened: CacheDir[] = [];
    const rocks: RockDir[] = [];
    let store: DiskStore | undefined;
    try {
      for (const d of ufsConf) {
        opened.push(await CacheDir.open({ ...opts, path: d.path, maxBytes: d.size, l1: d.l1, l2: d.l2 }));
      }
      store = new DiskStore(opened, ufsConf.map((d) => d.size), rocks, rockConf.map((d) => d.size));
      const s = store;
      for (const d of rockConf) {
        rocks.push(
          await RockDir.open({
            path: d.path,
            maxBytes: d.size,
            slotBytes: d.slotBytes,
            ways: d.ways,
            instance: opts.instance,
            ownerPid: opts.ownerPid,
            evictor: opts.evictor,
            noSpaceBackoffMs: opts.noSpaceBackoffMs,
            overflow: opened.length ? (meta) => s.#ufsWrite(meta) : undefined,
          }),
        );
      }
    } catch (e) {
      for (const d of opened) await d.close();
      for (const d of rocks) await d.close();
      throw e;
    }
    return store;
  }

  /** The ufs directory that holds (or would hold) objects of `primary` (undefined: none configured). */
  dirFor(primary: string): CacheDir {
    return pick(this.dirs, this.#weights, primary);
  }

  /** The rock directory of `primary`, or undefined when none is configured. */
  rockFor(primary: string): RockDir | undefined {
    return this.rocks.length ? pick(this.rocks, this.#rockWeights, primary) : undefined;
  }

  /**
   * Variants of a URL: the rock directory's, and the ufs directory's when rock holds an "in ufs"
   * marker of the URL.
   */
  variants(primary: string, opts?: VariantsOpts): StoredMeta[] | Promise<StoredMeta[]> {
    const rock = this.rockFor(primary);
    if (!rock) return this.dirFor(primary).variants(primary, opts);
    const { metas: r, inUfs } = rock.variantsAndUfs(primary, opts);
    if (this.dirs.length === 0 || !inUfs) return r;
    const u = this.dirFor(primary).variants(primary, opts);
    const merge = (list: StoredMeta[]) => {
      if (r.length === 0) return list;
      const seen = new Set(r.map((m) => m.variant));
      return [...r, ...list.filter((m) => !seen.has(m.variant))];
    };
    return u instanceof Promise ? u.then(merge) : merge(u);
  }

  /** Looks an object up: its rock directory first, then its ufs directory if rock says so. */
  get(key: ObjectKey): StoredObject | undefined {
    const rock = this.rockFor(key.primary);
    if (!rock) return this.dirFor(key.primary).get(key);
    const obj = rock.locate(key);
    if (obj === IN_UFS && this.dirs.length) return this.dirFor(key.primary).get(key);
    if (obj && obj !== IN_UFS) return obj;
    rock.countMiss();
    return undefined;
  }

  /**
   * Starts writing an object: to its rock directory when it may fit a slot (or its length is
   * unknown), else to its ufs directory; see the module doc.
   */
  openWrite(meta: StoredMeta): StoreWriter {
    const rock = this.rockFor(meta.primary);
    if (!rock) return this.dirFor(meta.primary).openWrite(meta);
    if (meta.bodyBytes < 0 || rock.fits(meta.bodyBytes) || this.dirs.length === 0) {
      const w = rock.openWrite(meta);
      return {
        write: (c) => w.write(c),
        abort: () => w.abort(),
        commit: async () => {
          await w.commit();
          // Spilled: the ufs writer's commit wrote the marker. Over a marker: the ufs copy is older.
          const rw = w as Partial<RockWriter>;
          if (!rw.spilled && rw.replacedUfs && this.dirs.length) {
            await this.dirFor(meta.primary).delete(meta.primary, meta.variant);
          }
        },
      };
    }
    return this.#ufsWrite(meta);
  }

  /** A ufs writer whose commit replaces the key's rock copy by an "in ufs" marker. */
  #ufsWrite(meta: StoredMeta): StoreWriter {
    const w = this.dirFor(meta.primary).openWrite(meta);
    const rock = this.rockFor(meta.primary);
    if (!rock) return w;
    return {
      write: (c) => w.write(c),
      abort: () => w.abort(),
      commit: async () => {
        await w.commit();
        try {
          rock.markInUfs(meta);
        } catch (e) {
          // No marker: the ufs object is unreachable (a miss); an older rock copy must not stay.
          await rock.delete(meta.primary, meta.variant).catch(() => {});
          throw e;
        }
      },
    };
  }

  /** Rewrites an object's metadata where it is stored. */
  async updateMeta(meta: StoredMeta): Promise<boolean> {
    const rock = this.rockFor(meta.primary);
    if (rock && await rock.updateMeta(meta)) return true;
    return this.dirs.length ? await this.dirFor(meta.primary).updateMeta(meta) : false;
  }

  /** Deletes one or every variant of a URL. */
  async delete(primary: string, variant?: string): Promise<number> {
    const rock = this.rockFor(primary);
    let n = rock ? await rock.delete(primary, variant) : 0;
    if (this.dirs.length) n += await this.dirFor(primary).delete(primary, variant);
    return n;
  }

  /** Every object of every directory. */
  async *entries(): AsyncIterable<StoredMeta> {
    for (const d of this.rocks) yield* d.entries();
    for (const d of this.dirs) yield* d.entries();
  }

  /** Sums of the directories' counters. */
  stats(): StoreStats {
    const out: StoreStats = { objects: 0, bytes: 0, maxBytes: 0, hits: 0, misses: 0, evictions: 0, damaged: 0 };
    const failures: Record<string, number> = {};
    for (const d of [...this.rocks, ...this.dirs]) {
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

  /** Per-directory state for `/status` (rock directories first). */
  status(): CacheDirStatus[] {
    return [...this.rocks.map((d) => d.status()), ...this.dirs.map((d) => d.status())];
  }

  /** Resolves when every directory has loaded or rebuilt its index. */
  async whenReady(): Promise<void> {
    await Promise.all([...this.dirs.map((d) => d.whenReady()), ...this.rocks.map((d) => d.whenReady())]);
  }

  /** Closes every directory. */
  async close(): Promise<void> {
    for (const d of this.rocks) await d.close();
    for (const d of this.dirs) await d.close();
  }
}
