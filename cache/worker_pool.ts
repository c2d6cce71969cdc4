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
 * | worker → main | `{t:"hello"}` | the worker's handler is installed: send `init` |
 * | main → worker | `{t:"init", index, shared, sharedIndex, ports, peering?}` | worker number, the shared collapse table, the shared object index, a `MessagePort` to every other worker (transferred), peering view |
 * | worker → main | `{t:"ready"}` / `{t:"fail", error}` | listeners up / start failed |
 * | worker → main | `{t:"stats", stats}` | counters, store statistics, metrics and top URLs, every second |
 * | main → worker | `{t:"peering", view}` | peers and their liveness changed (see `cache/peering/remote_icp.ts`) |
 * | worker → main | `{t:"icpq", id, url}` | run an ICP lookup for a worker's miss (multicast only); answered by `{t:"icpa", id, lookup}` |
 * | worker → main | `{t:"peerdead", key}` | a peer failed over HTTP in a worker: mark it dead |
 * | worker → main | `{t:"origin", url, ok}` | an origin began or stopped failing in a worker (ICP MISS_NOFETCH) |
 * | worker → main | `{t:"inv", id, keys}` | PURGE or unsafe method: delete these keys everywhere |
 * | main → worker | `{t:"inv", id, keys}` | delete locally, answer `{t:"invdone", id, n}` |
 * | main → worker | `{t:"invdone", id, n}` | objects deleted in the other workers |
 * | main → worker | `{t:"close"}` | stop; answers `{t:"closed"}` |
 * | main → worker | `{t:"reload", id, cfg}` | SIGHUP: put the reloaded config into effect; answers `{t:"ack", id, error?}` |
 * | main → worker | `{t:"reopen", id}` | SIGHUP: reopen the access log (after logrotate's rename); answers `{t:"ack", id, error?}` |
 * | main → worker | `{t:"drain"}` | SIGTERM: health 503, `Connection: close` on every response |
 * | main → worker | `{t:"finish", id, deadline}` | stop accepting, finish requests in flight until `deadline`; answers `{t:"ack", id}` |
 * | worker → main | `{t:"purge", id, ban, deleted}` | a PURGE arrived here (url purges already deleted everywhere): ban it cluster-wide |
 * | main → worker | `{t:"purged", id, result}` | what the cluster did (`PurgeResult`) |
 * | main → worker | `{t:"bans", set}` | bans new in the main process (and its floor): merge into the worker's list; the whole list after `init` |
 * | main → worker | `{t:"certs"}` | SIGHUP: re-read the TLS listeners' certificates (`CacheService.reloadCertificates`) |
 *
 * Request collapsing across workers needs no message per miss: the workers share one
 * {@link SharedArrayBuffer} (a `SharedCollapse` table, `shared_collapse.ts`) that the main process creates and
 * hands out in `init`. Memory-only caches also share a `SharedIndex` (`shared_index.ts`) of who holds
 * which object; a worker that misses locally asks the holder for its copy over their `MessagePort`
 * (`lazy_copy.ts`; one `MessageChannel` per pair of workers, the main process's service included),
 * so nothing is copied on the miss path. Peering (ICP server and client, liveness pings) runs in the main process; a
 * worker decides hash ownership locally from the mirrored view and queries ICP on its own socket
 * (with a multicast group it sends its ICP lookups to the main process).
 *
 * @module
 */
import type { Appliance } from "../config/mod.ts";
import { getLogger } from "../core/log.ts";
import type { CacheService, WorkerStats } from "./cache_service.ts";
import type { LazyCopy } from "./lazy_copy.ts";
import type { IcpLookup } from "../icp/client.ts";
import type { PeeringView } from "./peering/remote_icp.ts";
import { siteOf } from "./peering/load_guard.ts";
import type { Ban, BanSet } from "../cluster/ban_codec.ts";
import type { PurgeResult } from "./purge_request.ts";

const log = getLogger("cache.workers");

type Msg =
  | { t: "hello" }
  | {
    t: "init";
    index: number;
    shared?: SharedArrayBuffer;
    sharedIndex?: SharedArrayBuffer;
    ports?: WorkerPort[];
    peering?: PeeringView;
  }
  | { t: "peering"; view: PeeringView }
  | { t: "icpq"; id: number; url: string }
  | { t: "icpa"; id: number; lookup: IcpLookup }
  | { t: "peerdead"; key: string }
  | { t: "origin"; url: string; ok: boolean }
  | { t: "ready" }
  | { t: "fail"; error: string }
  | { t: "stats"; stats: WorkerStats }
  | { t: "inv"; id: number; keys: string[] }
  | { t: "invdone"; id: number; n: number }
  | { t: "close" }
  | { t: "closed" }
  | { t: "reload"; id: number; cfg: Appliance }
  | { t: "reopen"; id: number }
  | { t: "drain" }
  | { t: "finish"; id: number; deadline: number }
  | { t: "ack"; id: number; error?: string }
  | { t: "purge"; id: number; ban: Ban; deleted: number }
  | { t: "purged"; id: number; result: PurgeResult }
  | { t: "bans"; set: BanSet }
  | { t: "certs" };

/** What the main process offers workers for purges (see `purge_fanout.ts`). */
export interface PurgeHost {
  /** Applies a ban issued in a worker here and cluster-wide. */
  purge(ban: Ban, localDeleted: number): Promise<PurgeResult>;
  /** The main process's ban list, for a worker that starts. */
  snapshot(): BanSet;
}

/** Whether this code runs inside a Web Worker. */
export function isWorkerContext(): boolean {
  return typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== "undefined";
}

/** A port to another worker, for lazy copies. */
export interface WorkerPort {
  /** The other worker's number (0 = main process). */
  peer: number;
  /** This end of the channel to it. */
  port: MessagePort;
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

/** What the main process's peering offers the workers (see `cache/peering/remote_icp.ts`). */
export interface PeeringHost {
  /** The current peers and their liveness. */
  view(): PeeringView;
  /** Runs an ICP lookup for a worker's miss. */
  lookup(url: string): Promise<IcpLookup>;
  /** A worker could not reach this peer (`HOST:ICP_PORT`) over HTTP. */
  markDead(key: string): void;
  /** An origin failed for a worker, or answered again after failing. */
  originResult(url: string, ok: boolean): void;
}

/** How often the main process checks whether the peering view changed (ms). */
const PEERING_VIEW_INTERVAL_MS = 100;

/** Options of {@link WorkerPool}. */
export interface WorkerPoolOptions {
  /** Shared collapse table handed to every worker (see `shared_collapse.ts`). */
  shared?: SharedArrayBuffer;
  /** Shared object index handed to every worker (see `shared_index.ts`); with it, workers copy lazily. */
  sharedIndex?: SharedArrayBuffer;
  /** The main process's side of the lazy copies (gets a port to every worker). */
  lazyCopy?: LazyCopy;
}

/** The main side: starts workers, relays invalidations, connects them for lazy copies, collects statistics. */
export class WorkerPool {
  readonly #count: number;
  readonly #opts: WorkerPoolOptions;
  readonly #slots: Slot[] = [];
  readonly #pending = new Map<number, { left: number; n: number; done: (n: number) => void }>();
  readonly #acks = new Map<number, { left: number; errors: string[]; done: (errors: string[]) => void }>();
  #nextId = 1;
  #local?: CacheService;
  #peering?: PeeringHost;
  #purger?: PurgeHost;
  #viewTimer?: ReturnType<typeof setInterval>;
  #lastView = "";

  /**
   * Creates the pool; `start()` launches the workers.
   *
   * @param count workers to start besides the main one
   * @param opts the shared collapse table
   */
  constructor(count: number, opts: WorkerPoolOptions = {}) {
    this.#count = count;
    this.#opts = opts;
  }

  /** Workers started besides the main one. */
  get count(): number {
    return this.#count;
  }

  /**
   * Lets workers use the main process's peering: they get its view at start and whenever it
   * changes, and send it their ICP lookups. Call before {@link WorkerPool.start}.
   *
   * @param host the main process's peering
   */
  setPeering(host: PeeringHost): void {
    this.#peering = host;
  }

  /**
   * Lets workers' PURGEs reach the cluster, and gives each worker the ban list at start. Call
   * before {@link WorkerPool.start}.
   *
   * @param host the main process's purge fan-out
   */
  setPurger(host: PurgeHost): void {
    this.#purger = host;
  }

  /**
   * Sends bans new in the main process to every worker.
   *
   * @param set the floor and the new bans
   */
  sendBans(set: BanSet): void {
    for (const s of this.#slots) s.worker.postMessage({ t: "bans", set });
  }

  /** Tells every worker to re-read its TLS certificates (each logs its own outcome). */
  reloadCertificates(): void {
    for (const s of this.#slots) s.worker.postMessage({ t: "certs" });
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
    const ports = this.#channels();
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
            if (m.t === "hello") {
              const mine = ports[i + 1];
              worker.postMessage({
                t: "init",
                index: i + 1,
                shared: this.#opts.shared,
                sharedIndex: this.#opts.sharedIndex,
                ports: mine,
                peering: this.#peering?.view(),
              }, mine.map((p) => p.port));
              if (this.#purger) worker.postMessage({ t: "bans", set: this.#purger.snapshot() });
            } else if (m.t === "ready") {
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
    if (this.#peering && this.#count > 0) {
      const host = this.#peering;
      this.#lastView = JSON.stringify(host.view());
      this.#viewTimer = setInterval(() => this.#sendViewIfChanged(host), PEERING_VIEW_INTERVAL_MS);
    }
    log.info("Cache workers started", { workers: this.#count + 1 });
  }

  /**
   * One `MessageChannel` per pair of workers (the main process is worker 0) for lazy copies; the
   * main process's ends go to its own {@link LazyCopy} at once.
   *
   * @returns for each worker number, its ends
   */
  #channels(): WorkerPort[][] {
    const ends: WorkerPort[][] = Array.from({ length: this.#count + 1 }, () => []);
    if (!this.#opts.sharedIndex) return ends;
    for (let a = 0; a <= this.#count; a++) {
      for (let b = a + 1; b <= this.#count; b++) {
        const ch = new MessageChannel();
        ends[a].push({ peer: b, port: ch.port1 });
        ends[b].push({ peer: a, port: ch.port2 });
      }
    }
    for (const { peer, port } of ends[0]) {
      if (this.#opts.lazyCopy) this.#opts.lazyCopy.connect(peer, port);
      else port.close();
    }
    return ends;
  }

  #sendViewIfChanged(host: PeeringHost): void {
    const view = host.view();
    const text = JSON.stringify(view);
    if (text === this.#lastView) return;
    this.#lastView = text;
    for (const s of this.#slots) s.worker.postMessage({ t: "peering", view });
  }

  #onMessage(slot: Slot, m: Msg): void {
    switch (m.t) {
      case "stats":
        slot.stats = m.stats;
        break;
      case "inv":
        this.invalidate(m.keys, slot).then((n) => slot.worker.postMessage({ t: "invdone", id: m.id, n }));
        break;
      case "icpq": {
        const host = this.#peering;
        if (!host) break;
        host.lookup(m.url).then(
          (lookup) => slot.worker.postMessage({ t: "icpa", id: m.id, lookup }),
          () =>
            slot.worker.postMessage({
              t: "icpa",
              id: m.id,
              lookup: { decision: { kind: "none" }, outcome: "no_peers", answers: [], expected: 0, waitedMs: 0 },
            }),
        );
        break;
      }
      case "origin":
        this.#peering?.originResult(m.url, m.ok);
        break;
      case "peerdead":
        this.#peering?.markDead(m.key);
        if (this.#peering) this.#sendViewIfChanged(this.#peering);
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
      case "ack": {
        const a = this.#acks.get(m.id);
        if (!a) break;
        if (m.error) a.errors.push(m.error);
        if (--a.left === 0) {
          this.#acks.delete(m.id);
          a.done(a.errors);
        }
        break;
      }
      case "purge": {
        const host = this.#purger;
        if (!host) break;
        host.purge(m.ban, m.deleted).then(
          (result) => slot.worker.postMessage({ t: "purged", id: m.id, result }),
          (e) => {
            log.error("Purge from a worker failed", { error: e as Error });
            const result = { id: m.ban.id, kind: m.ban.kind, pattern: m.ban.pattern, deleted: m.deleted };
            slot.worker.postMessage({ t: "purged", id: m.id, result: { ...result, nodes: 0, acked: 0, failed: [] } });
          },
        );
        break;
      }
    }
  }

  /**
   * Sends a message to every worker and waits for each one's `ack` (or `timeoutMs`).
   *
   * @returns the errors the workers reported, one per failing worker
   */
  #ask(make: (id: number) => Msg, timeoutMs: number): Promise<string[]> {
    if (this.#slots.length === 0) return Promise.resolve([]);
    const id = this.#nextId++;
    return new Promise<string[]>((resolve) => {
      const timer = setTimeout(() => {
        const a = this.#acks.get(id);
        this.#acks.delete(id);
        resolve([...(a?.errors ?? []), `${a?.left ?? 0} worker(s) did not answer in ${timeoutMs} ms`]);
      }, timeoutMs);
      this.#acks.set(id, {
        left: this.#slots.length,
        errors: [],
        done: (errors) => {
          clearTimeout(timer);
          resolve(errors);
        },
      });
      for (const s of this.#slots) s.worker.postMessage(make(id));
    });
  }

  /**
   * Puts a reloaded configuration into effect in every worker (SIGHUP).
   *
   * @param cfg the new configuration
   * @returns the errors reported by workers (empty when all applied it)
   */
  reload(cfg: Appliance): Promise<string[]> {
    return this.#ask((id) => ({ t: "reload", id, cfg }), 10_000);
  }

  /**
   * Reopens every worker's access log (SIGHUP after logrotate renamed the file).
   *
   * @returns the errors reported by workers
   */
  reopenLogs(): Promise<string[]> {
    return this.#ask((id) => ({ t: "reopen", id }), 10_000);
  }

  /** Starts draining every worker (SIGTERM): health 503, responses close their connections. */
  drain(): void {
    for (const s of this.#slots) s.worker.postMessage({ t: "drain" });
  }

  /**
   * Stops every worker's listeners and waits for the requests in flight until `deadline`.
   *
   * @param deadline ms since epoch
   */
  async finish(deadline: number): Promise<void> {
    await this.#ask((id) => ({ t: "finish", id, deadline }), Math.max(0, deadline - Date.now()) + 2000);
  }

  /**
   * Deletes keys in the main service and every worker except `except`.
   *
   * @returns how many objects were deleted
   */
  async invalidate(keys: string[], except?: object): Promise<number> {
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

  /** The latest snapshot of every worker (main excluded). */
  snapshots(): WorkerStats[] {
    return this.#slots.flatMap((s) => s.stats ? [s.stats] : []);
  }

  /** Stops every worker (waits up to 5 s each, then terminates). */
  async close(): Promise<void> {
    clearInterval(this.#viewTimer);
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

/** What a worker's peering gets from the main process (see `cache/peering/remote_icp.ts`). */
export interface WorkerPeeringLink {
  /** The view at start. */
  view: PeeringView;
  /** Runs an ICP lookup in the main process. */
  lookup(url: string): Promise<IcpLookup>;
  /** Tells the main process a peer failed over HTTP. */
  markDead(key: string): void;
  /**
   * Tells the main process an origin result; only changes are sent (a failure, or the first answer
   * after one), so a healthy origin costs no message.
   */
  originResult(url: string, ok: boolean): void;
  /** Called with each new view. */
  onView: ((view: PeeringView) => void) | undefined;
}

/** What {@link runWorker} gives the function that starts a worker's service. */
export interface WorkerContext {
  /** This worker's number (1 .. count; the main process is 0). */
  index: number;
  /** Deletes keys here and in every other worker. */
  invalidate: (keys: string[]) => Promise<number>;
  /** The shared collapse table, when the main process made one. */
  shared?: SharedArrayBuffer;
  /** The shared object index, when the main process made one (memory-only caches: lazy copies). */
  sharedIndex?: SharedArrayBuffer;
  /** A port to every other worker (with {@link WorkerContext.sharedIndex}). */
  ports: WorkerPort[];
  /** The main process's peering, when it runs one. */
  peering?: WorkerPeeringLink;
  /** Registers something to close after the service when the worker stops. */
  onClose(fn: () => Promise<void> | void): void;
  /**
   * Registers what a SIGHUP reload does in this worker (default: the service's `reconfigure()`
   * with the `cache` section); may throw to report a failure to the main process.
   */
  onReload(fn: (cfg: Appliance) => Promise<void> | void): void;
  /** Sends a PURGE received in this worker to the main process, which bans it cluster-wide. */
  purge(ban: Ban, localDeleted: number): Promise<PurgeResult>;
  /** Receives the main process's bans (the whole list first, then what is new); earlier ones are replayed. */
  onBans(fn: (set: BanSet) => void): void;
}

/**
 * The worker side: reports readiness and statistics, applies and forwards invalidations.
 *
 * @param start creates and starts this worker's service
 * @param extras adds to each statistics snapshot (metrics, top URLs)
 */
export async function runWorker(
  start: (ctx: WorkerContext) => Promise<CacheService>,
  extras?: () => Promise<Partial<WorkerStats>>,
): Promise<void> {
  const scope = globalThis as unknown as WorkerScope;
  const pending = new Map<number, (n: number) => void>();
  const lookups = new Map<number, (l: IcpLookup) => void>();
  const purges = new Map<number, (r: PurgeResult) => void>();
  const banQueue: BanSet[] = [];
  let onBans: ((set: BanSet) => void) | undefined;
  let nextId = 1;
  let service: CacheService | undefined;
  let peering: WorkerPeeringLink | undefined;
  const closers: (() => Promise<void> | void)[] = [];
  let reloader: ((cfg: Appliance) => Promise<void> | void) | undefined;
  const ack = async (id: number, fn: () => Promise<void> | void) => {
    try {
      await fn();
      scope.postMessage({ t: "ack", id });
    } catch (e) {
      scope.postMessage({ t: "ack", id, error: (e as Error).message });
    }
  };
  let gotInit!: (m: Extract<Msg, { t: "init" }>) => void;
  const init = new Promise<Extract<Msg, { t: "init" }>>((r) => gotInit = r);
  const invalidate = async (keys: string[]) => {
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
    if (m.t === "init") {
      gotInit(m);
    } else if (m.t === "inv") {
      const n = service ? await service.invalidateLocal(m.keys) : 0;
      scope.postMessage({ t: "invdone", id: m.id, n });
    } else if (m.t === "invdone") {
      pending.get(m.id)?.(m.n);
      pending.delete(m.id);
    } else if (m.t === "certs") {
      service?.reloadCertificates();
    } else if (m.t === "bans") {
      if (onBans) onBans(m.set);
      else banQueue.push(m.set);
    } else if (m.t === "purged") {
      purges.get(m.id)?.(m.result);
      purges.delete(m.id);
    } else if (m.t === "icpa") {
      lookups.get(m.id)?.(m.lookup);
      lookups.delete(m.id);
    } else if (m.t === "peering") {
      if (peering) {
        peering.view = m.view;
        peering.onView?.(m.view);
      }
    } else if (m.t === "reload") {
      await ack(m.id, () => reloader ? reloader(m.cfg) : service?.reconfigure(m.cfg.cache));
    } else if (m.t === "reopen") {
      await ack(m.id, () => service?.accessLog.reopen());
    } else if (m.t === "drain") {
      service?.drain();
    } else if (m.t === "finish") {
      await ack(m.id, () => service?.finish(m.deadline));
    } else if (m.t === "close") {
      clearInterval(stats.timer);
      for (const done of lookups.values()) {
        done({ decision: { kind: "none" }, outcome: "no_peers", answers: [], expected: 0, waitedMs: 0 });
      }
      lookups.clear();
      await service?.close();
      for (const f of closers) await Promise.resolve(f()).catch(() => {});
      scope.postMessage({ t: "closed" });
      scope.close();
    }
  };
  scope.postMessage({ t: "hello" });
  const first = await init;
  if (first.peering) {
    const failing = new Set<string>();
    peering = {
      view: first.peering,
      lookup: (url) =>
        new Promise<IcpLookup>((resolve) => {
          const id = nextId++;
          lookups.set(id, resolve);
          scope.postMessage({ t: "icpq", id, url });
        }),
      markDead: (key) => scope.postMessage({ t: "peerdead", key }),
      originResult: (url, ok) => {
        if (ok && failing.size === 0) return; // the common case: no URL parsing, no message
        const site = siteOf(url);
        if (site === undefined || (ok && !failing.has(site))) return;
        if (ok) failing.delete(site);
        else failing.add(site);
        scope.postMessage({ t: "origin", url, ok });
      },
      onView: undefined,
    };
  }
  try {
    service = await start({
      index: first.index,
      invalidate,
      shared: first.shared,
      sharedIndex: first.sharedIndex,
      ports: first.ports ?? [],
      peering,
      onClose: (f) => closers.push(f),
      onReload: (f) => reloader = f,
      purge: (ban, deleted) =>
        new Promise<PurgeResult>((resolve) => {
          const id = nextId++;
          purges.set(id, resolve);
          scope.postMessage({ t: "purge", id, ban, deleted });
        }),
      onBans: (fn) => {
        onBans = fn;
        for (const set of banQueue.splice(0)) fn(set);
      },
    });
  } catch (e) {
    scope.postMessage({ t: "fail", error: (e as Error).message });
    scope.close();
    return;
  }
  const report = async () => scope.postMessage({ t: "stats", stats: { ...service!.stats(), ...await extras?.() } });
  stats.timer = setInterval(() => report().catch(() => {}), 1000);
  await report();
  scope.postMessage({ t: "ready" });
}
