/**
 * {@link BannedStore}: a {@link Store} seen through a {@link BanList}. Lookups (`variants`, `get`)
 * drop the objects a ban or the ban floor covers and delete them from the store underneath, so a
 * purge acts lazily, object by object, when a request meets it (Varnish's ban check on lookup).
 * Everything else passes through. With an empty ban list a lookup costs one property read, and a
 * synchronous store (memory) stays synchronous.
 *
 * @module
 */
import { getLogger } from "../core/log.ts";
import type { BanList } from "./ban_list.ts";
import { banLazyDeletesTotal } from "./metrics.ts";
import type {
  MaybePromise,
  ObjectKey,
  Store,
  StoredMeta,
  StoredObject,
  StoreStats,
  StoreWriter,
  VariantsOpts,
} from "./store/store.ts";

const log = getLogger("cache.purge");

/** A store whose lookups honour a ban list; see the module doc. */
export class BannedStore implements Store {
  readonly #inner: Store;
  readonly #bans: BanList;
  #lazyDeletes = 0;

  /**
   * Wraps a store.
   *
   * @param inner the store holding the objects
   * @param bans the ban list lookups consult
   */
  constructor(inner: Store, bans: BanList) {
    this.#inner = inner;
    this.#bans = bans;
  }

  /** The store underneath's name. */
  get name(): string {
    return this.#inner.name;
  }

  /** The store underneath. */
  get inner(): Store {
    return this.#inner;
  }

  /** Objects deleted because a lookup met them under a ban. */
  get lazyDeletes(): number {
    return this.#lazyDeletes;
  }

  #drop(meta: StoredMeta): void {
    this.#lazyDeletes++;
    banLazyDeletesTotal.inc();
    try {
      const r = this.#inner.delete(meta.primary, meta.variant);
      if (r instanceof Promise) {
        r.catch((e) => log.warn("Cannot delete a purged object", { url: meta.primary, error: e as Error }));
      }
    } catch (e) {
      log.warn("Cannot delete a purged object", { url: meta.primary, error: e as Error });
    }
  }

  #filter(list: StoredMeta[]): StoredMeta[] {
    if (this.#bans.empty || list.length === 0) return list;
    let out: StoredMeta[] | undefined;
    for (let i = 0; i < list.length; i++) {
      if (this.#bans.banned(list[i])) {
        out ??= list.slice(0, i);
        this.#drop(list[i]);
      } else out?.push(list[i]);
    }
    return out ?? list;
  }

  #check(obj: StoredObject | undefined): StoredObject | undefined {
    if (!obj || this.#bans.empty || !this.#bans.banned(obj.meta)) return obj;
    this.#drop(obj.meta);
    return undefined;
  }

  /** The stored variants, without banned ones (which are deleted). */
  variants(primary: string, opts?: VariantsOpts): MaybePromise<StoredMeta[]> {
    const r = this.#inner.variants(primary, opts);
    return r instanceof Promise ? r.then((l) => this.#filter(l)) : this.#filter(r);
  }

  /** One object, or undefined when absent or banned (then deleted). */
  get(key: ObjectKey): MaybePromise<StoredObject | undefined> {
    const r = this.#inner.get(key);
    return r instanceof Promise ? r.then((o) => this.#check(o)) : this.#check(r);
  }

  /** Passes through. */
  openWrite(meta: StoredMeta): MaybePromise<StoreWriter> {
    return this.#inner.openWrite(meta);
  }

  /** Passes through. */
  updateMeta(meta: StoredMeta): MaybePromise<boolean> {
    return this.#inner.updateMeta(meta);
  }

  /** Passes through. */
  delete(primary: string, variant?: string): MaybePromise<number> {
    return this.#inner.delete(primary, variant);
  }

  /** Every stored object not banned (banned ones are skipped, not deleted). */
  async *entries(): AsyncIterable<StoredMeta> {
    for await (const m of this.#inner.entries()) if (this.#bans.empty || !this.#bans.banned(m)) yield m;
  }

  /** The store underneath's counters. */
  stats(): StoreStats {
    return this.#inner.stats();
  }

  /** Closes the store underneath. */
  close(): Promise<void> {
    return this.#inner.close();
  }
}
