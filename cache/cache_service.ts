/**
 * `CacheService`: one worker's cache — the memory store, the origin pool, the request handler and
 * an {@link HttpServer} per configured listener (with SO_REUSEPORT when several workers share the
 * ports). The main process runs one and {@link WorkerPool} runs the others.
 *
 * Each listener answers the cache's own health endpoint (`health_endpoint.ts`) before the handler.
 * {@link CacheService.reconfigure} puts a reloaded `cache` section into effect in place (SIGHUP);
 * {@link CacheService.drain} and {@link CacheService.finish} stop it gracefully (SIGTERM).
 *
 * @module
 */
import type { Appliance } from "../config/mod.ts";
import type { MetricSnapshot } from "../core/metrics.ts";
import type { TopUrlCount } from "../status/top_urls.ts";
import { parseHostPort } from "../core/addr.ts";
import { getLogger } from "../core/log.ts";
import { OriginPool } from "../http/origin_client.ts";
import type { OriginTlsOptions } from "../http/origin_tls.ts";
import { type CertificateReload, HttpServer } from "../http/server.ts";
import type { TlsFiles } from "../http/tls_files.ts";
import { AccessLog } from "./access_log.ts";
import { CacheHealth, dirsCheck, isHealthTarget } from "./health_endpoint.ts";
import { CacheHandler, type CacheHandlerOptions, type Invalidator } from "./cache_handler.ts";
import { DestinationGuard } from "./destination_guard.ts";
import { type CacheCounters, counters, countRequest } from "./metrics.ts";
import type { PeerSelector } from "./peer_selector.ts";
import type { SharedCollapse } from "./shared_collapse.ts";
import type { LazyCopy } from "./lazy_copy.ts";
import type { ListenerMode } from "./route.ts";
import { MemoryStore } from "./store/memory_store.ts";
import { TieredStore } from "./store/tiered.ts";
import { createPolicy } from "./store/eviction/mod.ts";
import type { Store, StoreStats } from "./store/store.ts";

const log = getLogger("cache");

/** Options of {@link CacheService}. */
export interface CacheServiceOptions {
  /** Node name for Via/X-Cache. */
  node: string;
  /** Share the listening ports with other workers. */
  reusePort: boolean;
  /** Store to use instead of a new memory store (tests, tiered stores). */
  store?: Store;
  /** Peer selection for misses (ICP, `--peers auto`). */
  peers?: PeerSelector;
  /** Invalidation across workers (set by the worker plumbing). */
  invalidate?: Invalidator;
  /** Cluster-wide purge (the main process's `PurgeFanout`, or a worker's link to it). */
  purge?: CacheHandlerOptions["purge"];
  /**
   * Copies between workers on demand (several memory-only workers): what this worker stores is
   * published in the shared index, and a local miss asks the worker holding it (`lazy_copy.ts`).
   */
  lazyCopy?: LazyCopy;
  /** The cross-worker collapse table (several workers). */
  sharedCollapse?: SharedCollapse;
  /** Workers sharing `cache.memory.maxBytes` (each memory tier gets its share on a reload); default 1. */
  workers?: number;
  /**
   * This node's admin, gossip and ICP ports: forward and transparent requests never reach them on
   * its own addresses (`destination_guard.ts`).
   */
  servicePorts?: number[];
  /** Listeners to use instead of `cache.listen` (tests bind port 0, which the schema refuses). */
  listeners?: { hostname: string; port: number; mode: ListenerMode; proxyProtocol?: boolean; tls?: TlsFiles }[];
}

/** A snapshot of one worker for /status and metrics. */
export interface WorkerStats {
  /** Request, byte and origin counters. */
  counters: CacheCounters;
  /** Store statistics. */
  store: StoreStats;
  /** A worker's counters and histograms outside {@link CacheCounters} (summed into `/metrics`). */
  metrics?: MetricSnapshot[];
  /** A worker's most requested URLs (merged into `/status`). */
  topUrls?: TopUrlCount[];
  /** When its health endpoint last answered a probe (ms since epoch), if ever. */
  healthProbedAt?: number;
}

/** One worker's cache; see the module doc. */
export class CacheService {
  /** This worker's store. */
  readonly store: Store;
  /** Origin connection pool. */
  readonly pool: OriginPool;
  /** The request state machine. */
  readonly handler: CacheHandler;
  /** The access log. */
  readonly accessLog: AccessLog;
  /** One server per listener, once started. */
  readonly servers: HttpServer[] = [];
  /** The health endpoint's state (draining, store). */
  readonly health: CacheHealth;
  #cfg: Appliance["cache"];
  readonly #opts: CacheServiceOptions;
  /** Trust for https:// origins, read once at start (`cache.originTls`). */
  readonly #originTls: OriginTlsOptions;

  /**
   * Creates the service; nothing listens before `start()`.
   *
   * @param cfg the `cache` config section
   * @param opts node name and worker settings
   */
  constructor(cfg: Appliance["cache"], opts: CacheServiceOptions) {
    this.#cfg = cfg;
    this.#opts = opts;
    this.store = opts.store ??
      new MemoryStore({
        maxBytes: cfg.memory.maxBytes,
        maxObjectBytes: cfg.maxObjectBytes,
        policy: createPolicy(cfg.store.policy),
      });
    this.#originTls = originTlsOptions(cfg.originTls);
    this.pool = new OriginPool({ ...cfg.origin, tls: this.#originTls });
    this.accessLog = new AccessLog(cfg.accessLog);
    this.health = new CacheHealth(dirsCheck(cfg.store.dirs.map((d) => d.path)));
    this.handler = new CacheHandler({
      node: opts.node,
      store: this.store,
      pool: this.pool,
      accessLog: this.accessLog,
      config: cfg,
      peers: opts.peers,
      invalidate: opts.invalidate,
      purge: opts.purge,
      sharedCollapse: opts.sharedCollapse,
      lazyCopy: opts.lazyCopy,
      destinations: new DestinationGuard({
        allow: cfg.acl.allowDestinations,
        servicePorts: opts.servicePorts,
        ownAddresses: cfg.vip ? [cfg.vip] : [],
      }),
    });
  }

  /**
   * Starts every listener.
   *
   * @throws {Deno.errors.AddrInUse} when a port is taken
   */
  start(): this {
    const listeners = this.#opts.listeners ?? this.#cfg.listen.map((l) => {
      const hp = parseHostPort(l.address);
      const tls = l.tls ? { certFile: l.tls.cert, keyFile: l.tls.key } : undefined;
      return { hostname: hp.host, port: hp.port, mode: l.mode, proxyProtocol: l.proxyProtocol, tls };
    });
    for (const l of listeners) {
      const server = new HttpServer(
        {
          hostname: l.hostname,
          port: l.port,
          reusePort: this.#opts.reusePort,
          proxyProtocol: (l.proxyProtocol ?? false) || this.#cfg.proxyProtocol,
          tls: l.tls,
          proxyProtocolFrom: this.#cfg.acl.proxyProtocol,
          listenKey: "cache.listen",
          maxHeaderBytes: this.#cfg.maxHeaderBytes,
          idleTimeoutMs: this.#cfg.client.idleTimeoutMs,
          headerTimeoutMs: this.#cfg.client.headerTimeoutMs,
          sendTimeoutMs: this.#cfg.client.sendTimeoutMs,
          bodyIdleTimeoutMs: this.#cfg.client.bodyIdleTimeoutMs,
          bodyTimeoutMs: this.#cfg.client.bodyTimeoutMs,
          onBadRequest: (client, status, e) => {
            countRequest("error");
            this.accessLog.log({
              time: Date.now(),
              elapsedMs: 0,
              client: client.hostname,
              code: "NONE",
              status,
              bytes: 0,
              method: "NONE",
              url: "error:invalid-request",
              hierarchy: "HIER_NONE",
              peer: "-",
              type: "-",
            });
            log.debug("Bad request", { from: client.hostname, status, error: e });
          },
        },
        (req, res) => isHealthTarget(req.target) ? this.health.answer(req, res) : this.handler.handle(req, res, l.mode),
      );
      this.servers.push(server.start());
      log.info("Cache listening", {
        listen: `${server.addr.hostname}:${server.addr.port}`,
        mode: l.mode,
        ...(l.tls ? { tls: true, cert: l.tls.certFile } : {}),
      });
    }
    return this;
  }

  /**
   * Re-reads every TLS listener's certificate and key (SIGHUP). A listener whose files cannot be
   * used keeps its old certificate; its result says why.
   *
   * @returns one result per TLS listener
   */
  reloadCertificates(): CertificateReload[] {
    return this.servers.filter((s) => s.tls).map((s) => s.reloadCertificates());
  }

  /** The `cache` section in effect. */
  get config(): Appliance["cache"] {
    return this.#cfg;
  }

  /**
   * Puts a reloaded `cache` section into effect for the requests that start from now on: origins,
   * ACLs, freshness heuristics and size limits, collapsing, origin timeouts, the memory tier's
   * limits, and `accessLog` (reopened at its new path). Listeners, workers and cache directories
   * stay as they are (the caller reports those as needing a restart).
   *
   * @param cfg the new `cache` section
   * @throws {Error} when the new access log cannot be opened (everything else is applied)
   */
  async reconfigure(cfg: Appliance["cache"]): Promise<void> {
    this.#cfg = cfg;
    this.handler.reconfigure(cfg);
    // cache.originTls needs a restart: the trust read at start stays.
    this.pool.setOptions({ ...cfg.origin, tls: this.#originTls });
    const memory = this.store instanceof TieredStore ? this.store.memory : this.store;
    if (memory instanceof MemoryStore) {
      memory.setLimits({
        maxBytes: Math.floor(cfg.memory.maxBytes / Math.max(1, this.#opts.workers ?? 1)),
        maxObjectBytes: cfg.store.dirs.length ? cfg.memory.maxObjectBytes : cfg.maxObjectBytes,
      });
    }
    if (cfg.accessLog !== this.accessLog.target) await this.accessLog.reopen(cfg.accessLog);
  }

  /**
   * First step of a graceful stop: the health endpoint answers 503 and every response closes its
   * connection, while the listeners still accept (directors learn of it meanwhile).
   */
  drain(): void {
    this.health.drain();
    for (const s of this.servers) s.drain();
  }

  /**
   * Second step: stops accepting, lets requests in flight finish until `deadline`, closes the rest.
   *
   * @param deadline ms since epoch
   */
  async finish(deadline: number): Promise<void> {
    this.drain();
    await Promise.all(this.servers.map((s) => s.finish(deadline)));
  }

  /** Deletes keys from this worker's store and its stored partial responses. */
  async invalidateLocal(keys: string[]): Promise<number> {
    this.#opts.lazyCopy?.forget(keys); // a copy on its way here must not bring a deleted object back
    let n = 0;
    for (const k of keys) n += this.handler.partials?.delete(k) ?? 0;
    for (const k of keys) n += await this.store.delete(k);
    return n;
  }

  /** This worker's counters and store statistics. */
  stats(): WorkerStats {
    const s = this.store.stats();
    counters.storedObjects = s.objects;
    counters.storedBytes = s.bytes;
    return {
      counters: {
        ...counters,
        requests: { ...counters.requests },
        originFailures: { ...counters.originFailures },
      },
      store: s,
      ...(Number.isFinite(this.health.probedAt) ? { healthProbedAt: this.health.probedAt } : {}),
    };
  }

  /** Stops listening, closes connections, the pool, the access log and the store. */
  async close(): Promise<void> {
    await Promise.all(this.servers.map((s) => s.close()));
    await this.handler.settle();
    this.#opts.lazyCopy?.close();
    this.pool.close();
    await this.accessLog.close();
    await this.store.close();
  }
}

/**
 * The origin pool's TLS settings from `cache.originTls`: the CA file read now, and a warning when
 * verification is off.
 *
 * @param cfg `cache.originTls`
 * @returns the pool's TLS options
 * @throws {Error} when the CA file cannot be read
 */
export function originTlsOptions(cfg: Appliance["cache"]["originTls"] | undefined): OriginTlsOptions {
  if (!cfg) return {};
  let caCerts: string[] | undefined;
  if (cfg.caFile) {
    try {
      caCerts = [Deno.readTextFileSync(cfg.caFile)];
    } catch (e) {
      throw new Error(`Cannot read cache.originTls.caFile "${cfg.caFile}": ${(e as Error).message}`, { cause: e });
    }
  }
  if (cfg.insecure) {
    log.warn(
      "cache.originTls.insecure is set: https:// origin certificates are NOT verified; anyone on the path can " +
        "impersonate an origin",
    );
  }
  return { caCerts, insecure: cfg.insecure };
}

/**
 * Sums worker snapshots into the `/status` `cache` section.
 *
 * @param list one snapshot per worker
 * @returns objects, bytes, hits, misses, requests by result, per-worker shares and more
 */
export function statusSection(list: WorkerStats[]): Record<string, unknown> {
  const requests: Record<string, number> = {};
  let objects = 0, bytes = 0, maxBytes = 0, evictions = 0, collapsed = 0, clientBytes = 0, originBytes = 0;
  const originFailures: Record<string, number> = {};
  for (const w of list) {
    for (const [k, v] of Object.entries(w.counters.requests)) requests[k] = (requests[k] ?? 0) + v;
    for (const [k, v] of Object.entries(w.counters.originFailures)) originFailures[k] = (originFailures[k] ?? 0) + v;
    objects += w.store.objects;
    bytes += w.store.bytes;
    maxBytes += w.store.maxBytes;
    evictions += w.store.evictions;
    collapsed += w.counters.collapsed;
    clientBytes += w.counters.clientBytes;
    originBytes += w.counters.originBytes;
  }
  const hits = (requests.hit ?? 0) + (requests.stale ?? 0) + (requests.revalidated ?? 0);
  const misses = requests.miss ?? 0;
  return {
    workers: list.length,
    // Each worker's share of the requests (the main process first): how SO_REUSEPORT spread them.
    perWorker: list.map((w) => ({
      requests: Object.values(w.counters.requests).reduce((a, b) => a + b, 0),
      misses: w.counters.requests.miss ?? 0,
      objects: w.store.objects,
      bytes: w.store.bytes,
    })),
    objects,
    bytes,
    maxBytes,
    hits,
    misses,
    hitRatio: hits + misses > 0 ? Number((hits / (hits + misses)).toFixed(4)) : 0,
    evictions,
    collapsed,
    clientBytes,
    originBytes,
    requests,
    originFailures,
  };
}
