/**
 * Cache stores: the `Store` interface (`store.ts`), the memory tier (`memory_store.ts`), the disk
 * tier (`disk/`), the tiered combination (`tiered.ts`) and the eviction policies they share
 * (`eviction/`). {@link createStoreFromConfig} builds what `cache.memory` and `cache.store`
 * describe.
 *
 * @module
 */
import type { Appliance } from "../../config/schema.ts";
import { DiskStore } from "./disk/disk_store.ts";
import { openFileBudget } from "./disk/mod.ts";
import type { CacheDirStatus } from "./disk/cache_dir.ts";
import { createPolicy } from "./eviction/mod.ts";
import { MemoryStore } from "./memory_store.ts";
import type { Store, StoreStats } from "./store.ts";
import { TieredStore } from "./tiered.ts";

export type { ObjectKey, Store, StoredMeta, StoredObject, StoreStats, StoreWriter } from "./store.ts";
export { DiskStore } from "./disk/disk_store.ts";
export { CacheDir } from "./disk/cache_dir.ts";
export { DirLockedError } from "./disk/dir_lock.ts";
export { TieredStore } from "./tiered.ts";
export { createPolicy, POLICY_NAMES } from "./eviction/mod.ts";

/** How this process shares the cache directories with its siblings (see `disk/cache_dir.ts`). */
export interface StoreProcessOptions {
  /** Id shared by every worker of one cache instance (the parent makes it, e.g. `crypto.randomUUID()`). */
  instance?: string;
  /** The parent's pid: the lock stays held while it lives. Default this process. */
  ownerPid?: number;
  /** True in exactly one process per instance (worker 0): it evicts and rebuilds. Default true. */
  evictor?: boolean;
  /**
   * Workers of this cache (default 1). `cache.memory.maxBytes` is the limit of the whole cache, and
   * every worker has its own memory tier (objects are copied between them on demand, `lazy_copy.ts`),
   * so each worker's memory tier gets `floor(maxBytes / workers)`.
   */
  workers?: number;
}

/**
 * Builds the store of the cache role: memory only when `cache.store.dirs` is empty, otherwise a
 * memory tier (`cache.memory.maxBytes / workers`, `cache.memory.maxObjectBytes`) in front of the disk
 * directories (ufs and rock, see `disk/disk_store.ts`), the memory tier and ufs directories evicting
 * with `cache.store.policy` (rock directories evict per set).
 *
 * @param cache the validated `cache` section
 * @param opts how this process shares the directories with the other workers
 * @throws {Error} naming the directory when one cannot be used (not writable, locked by another
 *   instance, not a directory): report it and exit at start
 * @example
 * ```ts
 * const store = await createStoreFromConfig(cfg.cache, { instance, ownerPid, evictor: workerIndex === 0 });
 * admin.status("store", () => storeStatus(store));
 * ```
 */
export async function createStoreFromConfig(
  cache: Appliance["cache"],
  opts: StoreProcessOptions = {},
): Promise<Store> {
  const s = cache.store;
  const memory = new MemoryStore({
    maxBytes: Math.floor(cache.memory.maxBytes / Math.max(1, opts.workers ?? 1)),
    maxObjectBytes: s.dirs.length ? cache.memory.maxObjectBytes : cache.maxObjectBytes,
    policy: createPolicy(s.policy),
  });
  if (s.dirs.length === 0) return memory;
  const disk = await DiskStore.open(s.dirs, {
    policy: s.policy,
    lowWatermark: s.lowWatermark,
    highWatermark: s.highWatermark,
    maxObjectBytes: cache.maxObjectBytes,
    instance: opts.instance,
    ownerPid: opts.ownerPid,
    evictor: opts.evictor,
    openFiles: openFileBudget(opts.workers ?? 1, s.dirs.length),
    mapFiles: s.mapFiles,
  });
  return new TieredStore({ memory, disk, memoryMaxObjectBytes: cache.memory.maxObjectBytes });
}

/** The `/status` section of a store: counters per tier, and per cache directory its state and rebuild progress. */
export function storeStatus(
  store: Store,
): { name: string; stats: StoreStats; memory?: StoreStats; dirs?: CacheDirStatus[] } {
  if (store instanceof TieredStore) {
    const disk = store.disk;
    return {
      name: store.name,
      stats: store.stats(),
      memory: store.memory.stats(),
      dirs: disk instanceof DiskStore ? disk.status() : undefined,
    };
  }
  if (store instanceof DiskStore) return { name: store.name, stats: store.stats(), dirs: store.status() };
  return { name: store.name, stats: store.stats() };
}
