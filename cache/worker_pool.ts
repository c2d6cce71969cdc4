/**
 * Several cache workers on one set of ports. The main process runs one {@link CacheService} and
 * starts `count - 1` more in Web Workers (threads with their own V8 isolate and event loop), each
 * listening on the same ports with SO_REUSEPORT so the kernel spreads connections over them.
 * Every worker has its own memory tier (as Squid's workers without a shared memory cache and the
 * harness's multi-process Deno variants do).
 *
 * A worker runs the same program (`Deno.mainModule`, same arguments); `webcache cache` notices it
 * is inside a worker ({@link isWorkerContext}) and serves instead of starting another pool.
 *
 * Messages (structured clone):
 *
 * | direction | message | meaning |
 * |---|---|---|
 * | worker → main | `{t:"ready"}` / `{t:"fail", error}` | listeners up / start failed |
 * | worker → main | `{t:"stats", stats}` | counters and store statistics, every second |
 * | worker → main | `{t:"inv", id, keys}` | PURGE or unsafe method: delete these keys everywhere |
 * | both ways | `{t:"puts", batch}` | objects one worker stored: copy them into the others' memory ({@link ReplicaBatcher}) |
 * | main → worker | `{t:"inv", id, keys}` | delete locally, answer `{t:"invdone", id, n}` |
 * | main → worker | `{t:"invdone", id, n}` | objects deleted in the other workers |
 * | main → worker | `{t:"close"}` | stop; answers `{t:"closed"}` |
 *
 * @module
 */
import { getLogger } from "../core/log.ts";
import type { CacheService, WorkerStats } from "./cache_service.ts";
import { type ReplicaBatch, ReplicaBatcher, unpackReplicas } from "./replica_batch.ts";
import type { StoredMeta } from "./store/store.ts";

const log = getLogger("cache.workers");

type Msg =
  | { t: "ready" }
  | { t: "fail"; error: string }
  | { t: "stats"; stats: WorkerStats }
  | { t: "inv"; id: number; keys: string[] }
  | { t: "invdone"; id: number; n: number }
  | { t: "puts"; batch: ReplicaBatch }
  | { t: "close" }
  | { t: "closed" };

/** Whether this code runs inside a Web Worker. */
export function isWorkerContext(): boolean {
  return typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== "undefined";
}

interface WorkerScope {
  postMessage(m: Msg, transfer?: Transferable[]): void;
  onmessage: ((e: MessageEvent<Msg>) => void) | null;
  close(): void;
}

interface Slot {
  worker: Worker;
  stats?: WorkerStats;
  closed?: () => void;
}

/** The main side: starts workers, relays invalidations, collects statistics. */
export class WorkerPool {
  readonly #count: number;
  readonly #slots: Slot[] = [];
  readonly #pending = new Map<number, { left: number; n: number; done: (n: number) => void }>();
  /** Copies of the objects the main service stores, on their way to every worker. */
  readonly #copies = new ReplicaBatcher((batch, transfer) => this.#postPuts(batch, undefined, transfer));
  #nextId = 1;
  #local?: CacheService;

  /**
   * Creates the pool; `start()` launches the workers.
   *
   * @param count workers to start besides the main one
   */
  constructor(count: number) {
    this.#count = count;
  }

  /**
   * Starts the workers and waits until each listens.
   *
   * @param local the main process's own service (invalidated too)
   * @param timeoutMs how long a worker may take to start
   * @throws {Error} when a worker fails to start
   */
  async start(local: CacheService, timeoutMs = 30_000): Promise<void> {
    this.#local = local;
    const starts: Promise<void>[] = [];
    for (let i = 0; i < this.#count; i++) {
      const worker = new Worker(Deno.mainModule, { type: "module", name: `cache-worker-${i + 1}` });
      const slot: Slot = { worker };
      this.#slots.push(slot);
      starts.push(
        new Promise<void>((resolve, reject) => {
          const timer = setTimeout(
            () => reject(new Error(`Cache worker ${i + 1} did not start in ${timeoutMs} ms`)),
            timeoutMs,
          );
          worker.onerror = (e) => {
            e.preventDefault();
            clearTimeout(timer);
            reject(new Error(`Cache worker ${i + 1} failed: ${e.message}`));
          };
          worker.onmessage = (e: MessageEvent<Msg>) => {
            const m = e.data;
            if (m.t === "ready") {
              clearTimeout(timer);
              resolve();
            } else if (m.t === "fail") {
              clearTimeout(timer);
              reject(new Error(`Cache worker ${i + 1} failed: ${m.error}`));
            } else this.#onMessage(slot, m);
          };
        }),
      );
    }
    await Promise.all(starts);
    log.info("Cache workers started", { workers: this.#count + 1 });
  }

  #onMessage(slot: Slot, m: Msg): void {
    switch (m.t) {
      case "stats":
        slot.stats = m.stats;
        break;
      case "inv":
        this.invalidate(m.keys, slot).then((n) => slot.worker.postMessage({ t: "invdone", id: m.id, n }));
        break;
      case "puts":
        this.#receivePuts(m.batch, slot);
        break;
      case "invdone": {
        const p = this.#pending.get(m.id);
        if (!p) break;
        p.n += m.n;
        if (--p.left === 0) {
          this.#pending.delete(m.id);
          p.done(p.n);
        }
        break;
      }
      case "closed":
        slot.closed?.();
        break;
    }
  }

  /**
   * Deletes keys in the main service and every worker except `except`.
   *
   * @returns how many objects were deleted
   */
  async invalidate(keys: string[], except?: object): Promise<number> {
    this.#copies.forget(keys); // a pending copy must not bring a deleted object back
    let n = except && this.#local ? await this.#local.invalidateLocal(keys) : 0;
    const targets = this.#slots.filter((s) => s !== except);
    if (targets.length === 0) return n;
    const id = this.#nextId++;
    n += await new Promise<number>((done) => {
      this.#pending.set(id, { left: targets.length, n: 0, done });
      for (const s of targets) s.worker.postMessage({ t: "inv", id, keys });
    });
    return n;
  }

  /**
   * Copies an object the main service stored into every worker (batched, see {@link ReplicaBatcher}).
   *
   * @param meta its metadata
   * @param body its body (copied when the batch is sent)
   */
  replicate(meta: StoredMeta, body: Uint8Array): void {
    if (this.#slots.length) this.#copies.add(meta, body);
  }

  /** Objects a worker stored: into the main service, and on to the other workers. */
  #receivePuts(batch: ReplicaBatch, from: Slot): void {
    if (this.#local) {
      for (const [meta, body] of unpackReplicas(batch)) this.#local.putLocal(meta, body).catch(() => {});
    }
    this.#postPuts(batch, from);
  }

  #postPuts(batch: ReplicaBatch, except?: Slot, transfer?: ArrayBuffer[]): void {
    const targets = this.#slots.filter((s) => s !== except);
    // The buffer can be transferred only once, and only when nothing here uses it (our own batch).
    targets.forEach((s, i) =>
      s.worker.postMessage({ t: "puts", batch }, i === targets.length - 1 && transfer ? transfer : [])
    );
  }

  /** The latest snapshot of every worker (main excluded). */
  snapshots(): WorkerStats[] {
    return this.#slots.flatMap((s) => s.stats ? [s.stats] : []);
  }

  /** Stops every worker (waits up to 5 s each, then terminates). */
  async close(): Promise<void> {
    this.#copies.close();
    await Promise.all(this.#slots.map((s) =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, 5000);
        s.closed = () => {
          clearTimeout(timer);
          resolve();
        };
        s.worker.postMessage({ t: "close" });
      })
    ));
    for (const s of this.#slots) s.worker.terminate();
    this.#slots.length = 0;
  }
}

/**
 * The worker side: reports readiness and statistics, applies and forwards invalidations.
 *
 * @param start creates and starts this worker's service, given the cross-worker invalidator
 */
export async function runWorker(
  start: (
    invalidate: (keys: string[]) => Promise<number>,
    replicate: (meta: StoredMeta, body: Uint8Array) => void,
  ) => Promise<CacheService>,
): Promise<void> {
  const scope = globalThis as unknown as WorkerScope;
  const pending = new Map<number, (n: number) => void>();
  let nextId = 1;
  let service: CacheService | undefined;
  const copies = new ReplicaBatcher((batch, transfer) => scope.postMessage({ t: "puts", batch }, transfer));
  const invalidate = async (keys: string[]) => {
    copies.forget(keys); // a pending copy must not bring a deleted object back elsewhere
    const local = service ? await service.invalidateLocal(keys) : 0;
    const id = nextId++;
    const others = await new Promise<number>((resolve) => {
      pending.set(id, resolve);
      scope.postMessage({ t: "inv", id, keys });
    });
    return local + others;
  };
  const stats: { timer?: ReturnType<typeof setInterval> } = {};
  scope.onmessage = async (e: MessageEvent<Msg>) => {
    const m = e.data;
    if (m.t === "inv") {
      copies.forget(m.keys);
      const n = service ? await service.invalidateLocal(m.keys) : 0;
      scope.postMessage({ t: "invdone", id: m.id, n });
    } else if (m.t === "puts") {
      for (const [meta, body] of unpackReplicas(m.batch)) await service?.putLocal(meta, body);
    } else if (m.t === "invdone") {
      pending.get(m.id)?.(m.n);
      pending.delete(m.id);
    } else if (m.t === "close") {
      clearInterval(stats.timer);
      copies.close();
      await service?.close();
      scope.postMessage({ t: "closed" });
      scope.close();
    }
  };
  try {
    const replicate = (meta: StoredMeta, body: Uint8Array) => copies.add(meta, body);
    service = await start(invalidate, replicate);
  } catch (e) {
    scope.postMessage({ t: "fail", error: (e as Error).message });
    scope.close();
    return;
  }
  stats.timer = setInterval(() => scope.postMessage({ t: "stats", stats: service!.stats() }), 1000);
  scope.postMessage({ t: "stats", stats: service.stats() });
  scope.postMessage({ t: "ready" });
}
