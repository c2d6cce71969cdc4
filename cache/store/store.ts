/**
 * The `Store` interface every cache tier implements (memory, disk shard, tiered), and the
 * `EvictionPolicy` interface the tiers share (SIEVE, LRU, GDSF, LFUDA).
 *
 * Keys. An object is found by a primary key (the request URL, normalised; GET and HEAD share it)
 * and a variant key (the request header values named by the stored response's `Vary`, normalised;
 * `""` when the response has no Vary). Several variants of one URL may be stored at once.
 *
 * Writes. `openWrite()` returns a writer; the body arrives in chunks; `commit()` makes the object
 * visible atomically (and replaces an older object under the same keys); `abort()` discards
 * everything written, so a client or origin that goes away never leaves a partial object.
 *
 * @module
 */

/** A value or a promise of it: memory stores answer synchronously, disk stores asynchronously. */
export type MaybePromise<T> = T | Promise<T>;

/** Identifies one stored object. */
export interface ObjectKey {
  /** Normalised URL, e.g. `http://www.example.org/a?b`. */
  primary: string;
  /** Normalised values of the Vary'd request headers, or `""`. */
  variant: string;
}

/** Everything about a stored response except its body. */
export interface StoredMeta extends ObjectKey {
  /** Response status code. */
  status: number;
  /** Response headers as stored (lower-case names, in order; hop-by-hop already removed). */
  headers: [string, string][];
  /** Header names the response varies on (lower-case), from its `Vary`; empty when none. */
  vary: string[];
  /** When the request that fetched it was sent (ms since epoch; RFC 9111 request_time). */
  requestTime: number;
  /** When its response arrived (ms since epoch; RFC 9111 response_time). */
  responseTime: number;
  /** When it becomes stale, ms since epoch (for ICP answers, eviction hints and the index). */
  expiresAt: number;
  /** Body length in bytes. */
  bodyBytes: number;
}

/** A stored object found by a lookup. */
export interface StoredObject {
  meta: StoredMeta;
  /**
   * The whole body when this tier holds it in memory or read it whole (zero-copy; do not modify).
   * A disk tier's body is a view into a read buffer shared with other lookups: copy it to keep it
   * beyond serving the request.
   */
  body?: Uint8Array;
  /**
   * Bytes right before `body` in its buffer that belong to this lookup alone (a disk tier reads
   * the file into room of its own). A sender may write the response head there and send head and
   * body as one buffer without copying the body. Returns the count the first time it is called
   * and 0 afterwards, so only one response ever writes there. Absent: no such room.
   */
  takeHeadroom?(): number;
  /**
   * Tells the store that nothing uses `body` (or its headroom) any more, so it may reuse that
   * memory for later reads. Call at most once, after the last use (a hit's response write has
   * completed); never while anything still holds the body. Absent: nothing to release.
   */
  release?(): void;
  /**
   * Opens the body (or the byte range `[start, end]`, inclusive) as a stream. Disk tiers stream
   * from the file without holding the object in memory. The stream errors if the stored data is
   * found damaged on the way.
   */
  openBody(range?: { start: number; end: number }): ReadableStream<Uint8Array>;
  /**
   * Which tier read it: `disk` when it came off a cache directory (the access log says `TCP_HIT`),
   * `memory` or unset when a memory tier held it (`TCP_MEM_HIT`), as Squid tells them apart.
   */
  tier?: "memory" | "disk";
}

/** Receives one object's body; see {@link Store.openWrite}. */
export interface StoreWriter {
  /** Appends body bytes. Rejects (and the writer is aborted) when the store cannot take more. */
  write(chunk: Uint8Array): MaybePromise<void>;
  /** Makes the object visible. Throws if the written length differs from `meta.bodyBytes` when that was known. */
  commit(): MaybePromise<void>;
  /** Discards what was written; safe to call more than once or after a failed write. */
  abort(): MaybePromise<void>;
}

/** Counters every store reports in `/status` and metrics. */
export interface StoreStats {
  objects: number;
  bytes: number;
  maxBytes: number;
  hits: number;
  misses: number;
  evictions: number;
  /** Objects found damaged and deleted (disk). */
  damaged?: number;
  /** Write failures by reason, e.g. `{ nospace: 3 }`. */
  writeFailures?: Record<string, number>;
}

/** Options of {@link Store.variants}. */
export interface VariantsOpts {
  /**
   * Look at the tier itself even where it found the URL absent a moment ago (a disk directory
   * believes "nothing stored" for a few ms): a request that claimed a miss looks once more before
   * fetching, and another worker may have stored the object since.
   */
  recheck?: boolean;
}

/** A cache tier. */
export interface Store {
  /** Name for logs and `/status`, e.g. `memory` or `disk:/var/cache/webcache/d1`. */
  readonly name: string;
  /** Returns the stored variants of a URL (their metadata), for Vary matching, ICP and PURGE. */
  variants(primary: string, opts?: VariantsOpts): MaybePromise<StoredMeta[]>;
  /** Returns one object, counting a hit or a miss and telling the eviction policy of the access. */
  get(key: ObjectKey): MaybePromise<StoredObject | undefined>;
  /** Starts storing an object; nothing is visible before `commit()`. */
  openWrite(meta: StoredMeta): MaybePromise<StoreWriter>;
  /** Replaces the metadata of a stored object (headers refreshed by a 304, new times); false if absent. */
  updateMeta(meta: StoredMeta): MaybePromise<boolean>;
  /** Deletes one variant, or every variant of `primary` when `variant` is omitted; returns how many. */
  delete(primary: string, variant?: string): MaybePromise<number>;
  /** Iterates the metadata of every stored object (order unspecified). */
  entries(): AsyncIterable<StoredMeta>;
  /** Current counters. */
  stats(): StoreStats;
  /** Flushes and releases resources. */
  close(): Promise<void>;
}

/**
 * An eviction policy tracks keys with sizes and picks victims. Implementations: SIEVE (default),
 * LRU, GDSF, LFUDA. Pure in-memory bookkeeping, no I/O, O(1) or O(log n) per operation.
 */
export interface EvictionPolicy<K> {
  /** Policy name as in `cache.store.policy`. */
  readonly name: string;
  /** Adds a new key (or re-adds a replaced one) of `bytes` size. */
  insert(key: K, bytes: number): void;
  /** Records a hit on `key`. */
  touch(key: K): void;
  /** Forgets `key` (deleted or replaced). */
  remove(key: K): void;
  /** Chooses and forgets the next victim; `undefined` when empty. */
  evict(): K | undefined;
  /** Number of keys tracked. */
  readonly size: number;
}
