/**
 * `MemoryStore`: the memory tier. Objects live in the JS heap as one `Uint8Array` each, found by
 * URL then variant, with byte accounting and eviction by an {@link EvictionPolicy}.
 *
 * Size of an object = body bytes + header bytes + {@link ENTRY_OVERHEAD_BYTES}; the store evicts
 * until the sum is at most `maxBytes` after every commit. Writes are buffered per writer and become
 * visible only on `commit()`; `abort()` drops them, so a failed fetch never leaves a partial object.
 *
 * @module
 */
import type { EvictionPolicy, ObjectKey, Store, StoredMeta, StoredObject, StoreStats, StoreWriter } from "./store.ts";
import { LruPolicy } from "./eviction/lru.ts";
import { CompactMeta } from "./compact_meta.ts";

/** Bookkeeping bytes charged per object besides body and headers (maps, metadata). */
export const ENTRY_OVERHEAD_BYTES = 256;

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /** Total size limit. */
  maxBytes: number;
  /** Largest single object accepted; larger writes fail. */
  maxObjectBytes: number;
  /** Eviction policy over `primary \n variant` keys; default LRU. */
  policy?: EvictionPolicy<string>;
}

/** Learns which URLs a {@link MemoryStore} holds (the shared index of `cache/lazy_copy.ts`). */
export interface MemoryStoreObserver {
  /** A variant of `meta.primary` was stored, replaced, or got new metadata (after a 304). */
  added(meta: StoredMeta): void;
  /** The last variant of `primary` went (evicted, deleted or purged). */
  gone(primary: string): void;
}

/** What {@link MemoryStore.variants} returns for a URL not held (shared, like every list it returns). */
const NO_VARIANTS: StoredMeta[] = Object.freeze([]) as unknown as StoredMeta[];

/** The policy key of a variant; see {@link Entry.key}. */
function policyKey(primary: string, variant: string): string {
  return variant === "" ? primary : primary + "\n" + variant;
}

/**
 * The variants stored for one URL: the entry itself when it is the only one and its variant is
 * `""` (the usual case: no `Vary`), else a map by variant. One `Map` per stored URL would be two
 * more heap objects for the garbage collector to copy and walk per object.
 */
type Variants = Entry | Map<string, Entry>;

function variantOf(v: Variants | undefined, variant: string): Entry | undefined {
  if (v === undefined) return undefined;
  if (v instanceof Map) return v.get(variant);
  return variant === "" ? v : undefined;
}

function entriesOf(v: Variants): Iterable<[string, Entry]> {
  return v instanceof Map ? v : [["", v]];
}

function sizeOf(meta: StoredMeta, bodyBytes: number): number {
  let n = ENTRY_OVERHEAD_BYTES + bodyBytes + meta.primary.length + meta.variant.length;
  for (const [k, v] of CompactMeta.headerList(meta)) n += k.length + v.length + 4;
  return n;
}

/**
 * A stored object of the memory tier, which is also the store's own entry for it (one heap object
 * for both; a class: no closure and context kept per object). Its `meta` is a {@link CompactMeta}.
 */
class MemoryObject implements StoredObject {
  /** `[meta]`, made on the first {@link MemoryStore.variants} call of a URL held only here. */
  list: StoredMeta[] | undefined = undefined;

  /**
   * @param meta the compact metadata
   * @param body the body
   * @param size bytes charged for it (see the module doc)
   * @param key the policy key (kept so a hit does not build and hash a new string): `primary \n
   *   variant`, or the primary key itself for the variant `""` (URLs hold no line feed, so neither
   *   form collides; one string less kept per object)
   */
  constructor(readonly meta: CompactMeta, readonly body: Uint8Array, readonly size: number, readonly key: string) {}

  openBody(range?: { start: number; end: number }): ReadableStream<Uint8Array> {
    const part = range ? this.body.subarray(range.start, range.end + 1) : this.body;
    return new ReadableStream({
      start(c) {
        if (part.length) c.enqueue(part);
        c.close();
      },
    });
  }
}

/**
 * A {@link MemoryStore} write: chunks buffered until `commit()` (one object per write; a class, not
 * a literal of closures, so a miss allocates one object for it). A single chunk is stored as it
 * is, several are joined.
 */
class MemoryWriter implements StoreWriter {
  #chunks: Uint8Array[] | undefined;
  #first: Uint8Array | undefined;
  #total = 0;
  #open = true;

  /**
   * @param store the store to insert into on commit
   * @param meta the object's metadata
   * @param limit largest body accepted
   * @param tooBig counts a refused object
   */
  constructor(
    readonly store: MemoryStore,
    readonly meta: StoredMeta,
    readonly limit: number,
    readonly tooBig: () => void,
  ) {}

  write(chunk: Uint8Array): void {
    if (!this.#open) throw new TypeError("Cannot write to memory store: writer is closed");
    this.#total += chunk.length;
    if (this.#total > this.limit) {
      this.abort();
      this.tooBig();
      throw new RangeError(`Cannot store object: ${this.#total} bytes exceeds the limit of ${this.limit}`);
    }
    if (this.#first === undefined) this.#first = chunk;
    else (this.#chunks ??= [this.#first]).push(chunk);
  }

  commit(): void {
    if (!this.#open) throw new TypeError("Cannot commit to memory store: writer is closed");
    this.#open = false;
    const total = this.#total;
    if (this.meta.bodyBytes >= 0 && this.meta.bodyBytes !== total) {
      throw new RangeError(`Cannot commit object: wrote ${total} bytes, expected ${this.meta.bodyBytes}`);
    }
    let body: Uint8Array;
    if (this.#chunks === undefined) body = this.#first ?? new Uint8Array(0);
    else {
      body = new Uint8Array(total);
      let off = 0;
      for (const c of this.#chunks) {
        body.set(c, off);
        off += c.length;
      }
    }
    this.#first = this.#chunks = undefined;
    this.store.put(this.meta, body);
  }

  abort(): void {
    this.#open = false;
    this.#first = this.#chunks = undefined;
  }
}

/** A stored object is its own entry: see {@link MemoryObject}. */
type Entry = MemoryObject;

/** The in-memory {@link Store}. */
export class MemoryStore implements Store {
  readonly name = "memory";
  #opts: MemoryStoreOptions;
  readonly #policy: EvictionPolicy<string>;
  readonly #byPrimary = new Map<string, Variants>();
  readonly #metaLists = new Map<string, StoredMeta[]>();
  #bytes = 0;
  #objects = 0;
  #hits = 0;
  #misses = 0;
  #evictions = 0;
  readonly #failures: Record<string, number> = {};
  #observer: MemoryStoreObserver | undefined;

  /**
   * Creates an empty memory store.
   *
   * @param opts size limits and policy
   */
  constructor(opts: MemoryStoreOptions) {
    this.#opts = opts;
    this.#policy = opts.policy ?? new LruPolicy<string>();
  }

  /**
   * Tells `observer` of every URL stored from now on and of every URL that goes.
   *
   * @param observer the observer, or undefined to stop
   */
  setObserver(observer: MemoryStoreObserver | undefined): void {
    this.#observer = observer;
  }

  /**
   * Every stored variant of a URL with its body, without counting a hit or telling the eviction
   * policy (another worker copying it is not a client's access).
   *
   * @param primary the primary cache key
   */
  peek(primary: string): StoredObject[] {
    const v = this.#byPrimary.get(primary);
    return v === undefined ? [] : v instanceof Map ? [...v.values()] : [v];
  }

  /** The variants of a URL; the returned array is shared, do not modify it. */
  variants(primary: string): StoredMeta[] {
    const v = this.#byPrimary.get(primary);
    if (v === undefined) return NO_VARIANTS;
    // A URL's only entry keeps its list itself (an entry's metadata never changes: new metadata
    // makes a new entry), so a lookup is one hash lookup, not two.
    if (!(v instanceof Map)) return v.list ??= [v.meta];
    let list = this.#metaLists.get(primary);
    if (list) return list;
    list = [...v.values()].map((e) => e.meta);
    this.#metaLists.set(primary, list);
    return list;
  }

  /** Looks an object up, counting a hit or miss. */
  get(key: ObjectKey): StoredObject | undefined {
    const e = variantOf(this.#byPrimary.get(key.primary), key.variant);
    if (!e) {
      this.#misses++;
      return undefined;
    }
    this.#hits++;
    this.#policy.touch(e.key);
    return e;
  }

  /** Starts buffering an object; see the module doc. */
  openWrite(meta: StoredMeta): StoreWriter {
    return new MemoryWriter(this, meta, Math.min(this.#opts.maxObjectBytes, this.#opts.maxBytes), this.#tooBig);
  }

  /** Counts an object refused for its size (one function per store, handed to every writer). */
  readonly #tooBig = (): void => {
    this.#failures.toobig = (this.#failures.toobig ?? 0) + 1;
  };

  /**
   * Stores a complete object at once (used by tests and by tiers promoting objects).
   *
   * @param meta metadata; `bodyBytes` is taken from `body`
   * @param body the body
   */
  put(meta: StoredMeta, body: Uint8Array): void {
    this.#insert(meta, body);
  }

  #insert(input: StoredMeta, body: Uint8Array): void {
    const meta = new CompactMeta(input, body.length);
    const size = sizeOf(input, body.length);
    const primary = meta.primary;
    const variant = meta.variant;
    const key = policyKey(primary, variant);
    const e = new MemoryObject(meta, body, size, key);
    // One lookup of the URL for the usual new object (no entry yet); a replacement removes the
    // old entry first and looks again.
    let v = this.#byPrimary.get(primary);
    if (v !== undefined && variantOf(v, variant) !== undefined) {
      this.#remove(primary, variant);
      v = this.#byPrimary.get(primary);
    }
    if (v === undefined) {
      this.#byPrimary.set(primary, variant === "" ? e : new Map([[variant, e]]));
    } else {
      if (v instanceof Map) v.set(variant, e);
      else this.#byPrimary.set(primary, new Map([["", v], [variant, e]]));
      this.#metaLists.delete(primary);
    }
    this.#bytes += size;
    this.#objects++;
    this.#policy.insert(key, size);
    this.#observer?.added(meta);
    this.#evictOver();
  }

  /**
   * Changes the size limits in place (a SIGHUP reload of `cache.memory`); objects beyond a lower
   * `maxBytes` are evicted at once by the policy, larger objects than a lower `maxObjectBytes`
   * stay until they go.
   *
   * @param limits the new limits
   */
  setLimits(limits: { maxBytes: number; maxObjectBytes: number }): void {
    this.#opts = { ...this.#opts, ...limits };
    this.#evictOver();
  }

  #evictOver(): void {
    while (this.#bytes > this.#opts.maxBytes) {
      const victim = this.#policy.evict();
      if (victim === undefined) break;
      const nl = victim.indexOf("\n");
      const primary = nl < 0 ? victim : victim.slice(0, nl);
      if (this.#remove(primary, nl < 0 ? "" : victim.slice(nl + 1), false)) {
        this.#evictions++;
        if (this.#observer && !this.#byPrimary.has(primary)) this.#observer.gone(primary);
      }
    }
  }

  #remove(primary: string, variant: string, tellPolicy = true): boolean {
    const v = this.#byPrimary.get(primary);
    const e = variantOf(v, variant);
    if (v === undefined || e === undefined) return false;
    if (v instanceof Map) {
      v.delete(variant);
      if (v.size === 0) this.#byPrimary.delete(primary);
    } else this.#byPrimary.delete(primary);
    this.#metaLists.delete(primary);
    this.#bytes -= e.size;
    this.#objects--;
    if (tellPolicy) this.#policy.remove(e.key);
    return true;
  }

  /** Replaces an object's metadata (after a 304), keeping its body. */
  updateMeta(meta: StoredMeta): boolean {
    const e = variantOf(this.#byPrimary.get(meta.primary), meta.variant);
    if (!e) return false;
    const body = e.body;
    this.#insert(meta, body);
    return true;
  }

  /** Deletes one variant or all variants of a URL. */
  delete(primary: string, variant?: string): number {
    let n = 0;
    if (variant !== undefined) n = this.#remove(primary, variant) ? 1 : 0;
    else {
      const v = this.#byPrimary.get(primary);
      if (v === undefined) return 0;
      for (const [variant] of [...entriesOf(v)]) if (this.#remove(primary, variant)) n++;
    }
    if (n > 0 && this.#observer && !this.#byPrimary.has(primary)) this.#observer.gone(primary);
    return n;
  }

  /** Iterates every object's metadata. */
  async *entries(): AsyncIterable<StoredMeta> {
    for (const v of this.#byPrimary.values()) for (const [, e] of entriesOf(v)) yield e.meta;
  }

  /** Counters for /status. */
  stats(): StoreStats {
    return {
      objects: this.#objects,
      bytes: this.#bytes,
      maxBytes: this.#opts.maxBytes,
      hits: this.#hits,
      misses: this.#misses,
      evictions: this.#evictions,
      writeFailures: { ...this.#failures },
    };
  }

  /** Drops everything. */
  close(): Promise<void> {
    this.#byPrimary.clear();
    this.#metaLists.clear();
    this.#bytes = 0;
    this.#objects = 0;
    return Promise.resolve();
  }
}
