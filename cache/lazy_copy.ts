/**
 * `LazyCopy`: objects copied between cache workers only when asked for. Each worker keeps what it
 * fetched in its own memory tier and publishes it in the {@link SharedIndex}; a worker that misses
 * locally finds a holder there and asks it for the object over a `MessagePort` (one
 * `MessageChannel` per pair of workers), stores the copy and serves it as a hit (or, when the copy
 * is stale, revalidates it with its validators, as the holder itself would). When the holder no
 * longer has it, or does not answer within {@link LazyCopyOptions.timeoutMs}, the request goes on
 * as a normal miss (collapsed across workers by `shared_collapse.ts`).
 *
 * Before this, every stored object was copied into every other worker at once (one message batch
 * per 2 ms), which cost about 70 µs of CPU per miss; now a miss costs one index update, and a copy
 * happens once per object and worker that actually gets a request for it.
 *
 * Messages on a port (structured clone):
 *
 * | message | meaning |
 * |---|---|
 * | `{t:"get", id, key}` | send me every variant you hold of primary key `key` |
 * | `{t:"obj", id, batch}` | the answer: a `ReplicaBatch` (`replica_batch.ts`; bodies in a transferred buffer), or `null` when absent |
 *
 * Invalidations: a PURGE (or an unsafe method) deletes a key in every worker (`worker_pool.ts`'s
 * `inv` broadcast), and each worker's store then withdraws it from the index. A copy racing with
 * that must not bring the object back: the initiating worker marks the key's stripe busy in the
 * index for the whole invalidation (no copy starts meanwhile) and bumps its epoch at the end (a copy
 * that started before and arrives after is dropped); a worker deleting a key also drops its own
 * copies of it still in flight.
 *
 * @module
 */
import { getLogger } from "../core/log.ts";
import { workerCopies } from "./metrics.ts";
import { packReplicas, type ReplicaBatch, unpackReplicas } from "./replica_batch.ts";
import type { SharedIndex } from "./shared_index.ts";
import type { MemoryStore, MemoryStoreObserver } from "./store/memory_store.ts";
import type { StoredMeta } from "./store/store.ts";
import { storedHeaderList } from "./store/compact_meta.ts";

const log = getLogger("cache.lazy");

/** Default {@link LazyCopyOptions.timeoutMs}. */
export const COPY_TIMEOUT_MS = 250;

/** A message on a port between two workers; see the module doc. */
export type CopyMessage =
  | { t: "get"; id: number; key: string }
  | { t: "obj"; id: number; batch: ReplicaBatch | null };

/** Options of {@link LazyCopy}. */
export interface LazyCopyOptions {
  /** How long to wait for the holder's answer before fetching from the origin (ms). */
  timeoutMs?: number;
}

interface Pending {
  key: string;
  epoch: number;
  dropped: boolean;
  done: (ok: boolean) => void;
  timer: ReturnType<typeof setTimeout>;
}

/** Whether a response's own Cache-Control makes every use a revalidation (never fresh for others). */
function alwaysRevalidate(meta: StoredMeta): boolean {
  // Cache-Control or a targeted field (CDN-Cache-Control, RFC 9213): conservative either way.
  // Without keeping a decoded list on the memory tier's compact metadata: every stored object
  // passes through here, most are never hit.
  for (const [k, v] of storedHeaderList(meta)) {
    if (k.endsWith("cache-control") && /(^|[\s,])no-cache\s*(,|$)/i.test(v)) return true;
  }
  return false;
}

/** One worker's side of the lazy copies; see the module doc. */
export class LazyCopy implements MemoryStoreObserver {
  /** The shared index (this worker's view). */
  readonly index: SharedIndex;
  readonly #store: MemoryStore;
  readonly #timeoutMs: number;
  readonly #ports = new Map<number, MessagePort>();
  readonly #pending = new Map<number, Pending>();
  readonly #pulls = new Map<string, Promise<boolean>>();
  #nextId = 1;

  /**
   * Connects a worker's memory store to the index: from now on it publishes what it stores.
   *
   * @param index the shared index opened for this worker
   * @param store this worker's memory tier
   * @param opts the answer timeout
   */
  constructor(index: SharedIndex, store: MemoryStore, opts: LazyCopyOptions = {}) {
    this.index = index;
    this.#store = store;
    this.#timeoutMs = opts.timeoutMs ?? COPY_TIMEOUT_MS;
    store.setObserver(this);
  }

  /**
   * Adds the port to another worker (both ends call this with their end of one `MessageChannel`).
   *
   * @param worker the other worker's number
   * @param port this end of the channel
   */
  connect(worker: number, port: MessagePort): void {
    this.#ports.set(worker, port);
    port.onmessage = (e: MessageEvent<CopyMessage>) => this.#onMessage(port, e.data);
  }

  /** Index hook: this worker stored (a variant of) a URL. */
  added(meta: StoredMeta): void {
    this.index.publish(meta.primary, alwaysRevalidate(meta) ? 0 : meta.expiresAt);
  }

  /** Index hook: this worker no longer holds any variant of a URL. */
  gone(primary: string): void {
    this.index.withdraw(primary);
  }

  /**
   * After a local miss: when another worker holds a copy of `key` (fresh or stale: a stale one is
   * revalidated here with its validators instead of fetched whole), asks it for the object and
   * stores it here. Returns undefined at once (no promise) when no other worker has it.
   *
   * @param key the primary cache key
   * @param opts.freshOnly only from a worker whose copy is fresh (this worker's own copy is stale:
   *   another worker may have revalidated the URL since)
   * @returns resolves true when the object is now in this worker's store
   */
  pull(key: string, opts: { freshOnly?: boolean } = {}): Promise<boolean> | undefined {
    const running = this.#pulls.get(key);
    if (running) return running;
    const holder = opts.freshOnly ? this.index.freshHolder(key) : this.index.holder(key);
    if (holder < 0) return undefined;
    const port = this.#ports.get(holder);
    if (!port) return undefined;
    const epoch = this.index.copyEpoch(key);
    if (epoch < 0) return undefined; // being invalidated right now
    const id = this.#nextId++;
    const p = new Promise<boolean>((done) => {
      const timer = setTimeout(() => {
        this.#pending.delete(id);
        workerCopies.inc({ result: "timeout" });
        log.debug("Worker did not answer a copy request in time", { url: key, worker: holder });
        done(false);
      }, this.#timeoutMs);
      this.#pending.set(id, { key, epoch, dropped: false, done, timer });
      port.postMessage({ t: "get", id, key } satisfies CopyMessage);
    }).finally(() => this.#pulls.delete(key));
    this.#pulls.set(key, p);
    return p;
  }

  /**
   * Drops copies of these keys still in flight to this worker (they were just deleted here).
   *
   * @param keys primary cache keys
   */
  forget(keys: readonly string[]): void {
    if (this.#pending.size === 0) return;
    const drop = new Set(keys);
    for (const p of this.#pending.values()) if (drop.has(p.key)) p.dropped = true;
  }

  /** Copies in flight (tests). */
  get inFlight(): number {
    return this.#pending.size;
  }

  #onMessage(port: MessagePort, m: CopyMessage): void {
    if (m.t === "get") {
      const objs = this.#store.peek(m.key).filter((o) => o.body !== undefined);
      if (objs.length === 0) {
        port.postMessage({ t: "obj", id: m.id, batch: null } satisfies CopyMessage);
        return;
      }
      const batch = packReplicas(objs.map((o) => [o.meta, o.body!] as const));
      port.postMessage({ t: "obj", id: m.id, batch } satisfies CopyMessage, [batch.bodies.buffer as ArrayBuffer]);
      return;
    }
    if (m.t !== "obj") return;
    const p = this.#pending.get(m.id);
    if (!p) return; // timed out already
    this.#pending.delete(m.id);
    clearTimeout(p.timer);
    if (!m.batch) {
      workerCopies.inc({ result: "absent" });
      return p.done(false);
    }
    if (p.dropped || this.index.copyEpoch(p.key) !== p.epoch) {
      workerCopies.inc({ result: "invalidated" });
      return p.done(false);
    }
    let objects: [StoredMeta, Uint8Array][];
    try {
      objects = unpackReplicas(m.batch);
    } catch (e) {
      log.warn("Bad copy from another worker", { url: p.key, error: e });
      workerCopies.inc({ result: "absent" });
      return p.done(false);
    }
    let stored = false;
    for (const [meta, body] of objects) {
      if (meta.primary !== p.key) continue; // never another key's object
      try {
        this.#store.put(meta, body);
        stored = true;
      } catch (e) {
        log.debug("Copy not stored", { url: p.key, error: e });
      }
    }
    workerCopies.inc({ result: stored ? "copied" : "absent" });
    p.done(stored);
  }

  /** Closes the ports and ends the copies in flight (as not copied). */
  close(): void {
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.done(false);
    }
    this.#pending.clear();
    for (const port of this.#ports.values()) {
      port.onmessage = null;
      port.close();
    }
    this.#ports.clear();
    this.#store.setObserver(undefined);
  }
}
