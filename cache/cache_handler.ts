/**
 * `CacheHandler`: the entry of the cache role's request path. It answers plain GET hits itself
 * (the fast path: no URL parsing for a known URL, no promise with a synchronous store, a
 * pre-serialised head), and routes everything else:
 *
 * ```
 *            ┌─ fast hit ─────────────────────────── PreparedHit (GET, 2xx, no Vary, fresh, HTTP/1.1 keep-alive)
 *            ├─ PURGE ────────────────────────────── purge.ts: ACL cache.acl.purge → delete/ban on every cache → 200/404
 * request ──>├─ CONNECT (forward listeners) ───────── connect.ts: ACL cache.acl.forward, connectPorts → tunnel
 *            ├─ other methods ── pass ─────────────── pass.ts: forward, then invalidate URL/Location (unsafe methods)
 *            └─ GET/HEAD ─────────────────────────── request_fsm.ts: lookup → hit / stale / revalidate / miss / pass
 * ```
 *
 * The origin side (peer or origin, collapsing, storing) is `fetch_stage.ts`; stored objects go
 * out through `serve_stored.ts`, responses being fetched through `serve_inflight.ts`.
 *
 * Objects above `cache.maxObjectBytes` (by Content-Length, or once the stream passes it) are not
 * stored but still streamed. A client that goes away stops reading; the fetch and the store write
 * continue, so the stored object is complete or absent, never partial.
 *
 * @module
 */
import { Acl } from "../core/addr.ts";
import { getLogger } from "../core/log.ts";
import type { OriginPool } from "../http/origin_client.ts";
import { RequestBodyError, type ServerRequest, type ServerResponse } from "../http/server.ts";
import type { AccessLog } from "./access_log.ts";
import { sendDenied, sendError } from "./client_reply.ts";
import { DestinationGuard } from "./destination_guard.ts";
import { ForwardedHeaders } from "./forwarded_headers.ts";
import { connect } from "./connect.ts";
import { type CacheContext, type CacheHandlerConfig, type Exchange, freshOpts, type Invalidator } from "./exchange.ts";
import type { FetchPlan } from "./fetch_plan.ts";
import { forwardHeaders } from "./fetch_plan.ts";
import { FetchStage } from "./fetch_stage.ts";
import { interimRelay } from "./interim.ts";
import type { LazyCopy } from "./lazy_copy.ts";
import { counters, countRequest } from "./metrics.ts";
import { PartialStore } from "./partial_store.ts";
import { pass, readRequestBody } from "./pass.ts";
import type { PeerSelector } from "./peer_selector.ts";
import { type ClusterPurge, invalidatorFor, purge } from "./purge.ts";
import { hitCode } from "./log_codes.ts";
import { RequestFsm } from "./request_fsm.ts";
import { PreparedHit } from "./response_head.ts";
import { keyUrl, type ListenerMode, originFormUrl, resolveRoute } from "./route.ts";
import { cacheKey, evaluateFreshness } from "./semantics/mod.ts";
import type { SharedCollapse } from "./shared_collapse.ts";
import type { Store, StoredMeta, StoredObject } from "./store/store.ts";

export type { CacheHandlerConfig, Invalidator } from "./exchange.ts";
export { WHOLE_BODY_BYTES } from "./fetch_stage.ts";

const log = getLogger("cache");

/** Options of {@link CacheHandler}. */
export interface CacheHandlerOptions {
  /** Node name for Via and X-Cache. */
  node: string;
  /** Where objects are stored. */
  store: Store;
  /** Connections to origins and peers. */
  pool: OriginPool;
  /** Squid access log; none when omitted. */
  accessLog?: AccessLog;
  /** The `cache` settings used per request. */
  config: CacheHandlerConfig;
  /** Where misses go; default the origin. */
  peers?: PeerSelector;
  /** Invalidation across workers; default deletes from `store` only. */
  invalidate?: Invalidator;
  /** Cluster-wide purge (`purge_fanout.ts`): bans the URL, prefix or regex on every cache. */
  purge?: ClusterPurge;
  /** Request collapsing across workers (several workers on one port). */
  sharedCollapse?: SharedCollapse;
  /** Objects held by other workers, copied on demand (several workers, memory only). */
  lazyCopy?: LazyCopy;
  /** Where forward/transparent requests may go; default from `config.acl.allowDestinations`. */
  destinations?: DestinationGuard;
}

/** What the access log records, the fields of `Outcome`. */
type Outcome = Exchange["out"];

/** A stored object the fast hit path can send (see `CacheHandler.handle`). */
interface FastHit {
  primary: string;
  obj: StoredObject;
  prep: PreparedHit;
  /** When the lookup happened, ms since epoch (for Age). */
  now: number;
}

/** Request fields that make a GET leave the fast hit path. */
const SLOW_FIELDS = new Set([
  "range",
  "if-range",
  "if-none-match",
  "if-modified-since",
  "if-match",
  "if-unmodified-since",
  "cache-control",
  "pragma",
  "authorization",
]);

/** The cache request handler; see the module doc. */
export class CacheHandler {
  readonly #o: CacheHandlerOptions;
  #cfg: CacheHandlerConfig;
  readonly #ctx: CacheContext;
  readonly #fsm: RequestFsm;
  #forwardAcl: Acl;
  #purgeAcl: Acl;
  /** Prepared heads by stored metadata: a disk tier returns a new object per hit, the same meta. */
  readonly #prepared = new WeakMap<StoredMeta, PreparedHit>();
  readonly #xHit: string;
  /** Raw `host\ntarget` → normalised key, so hits skip URL parsing (cleared when large). */
  readonly #keys = new Map<string, string>();
  /** This worker's stored partial responses (none when `cache.partial.maxBytes` is 0). */
  readonly partials: PartialStore | undefined;

  /**
   * Creates the handler.
   *
   * @param opts store, origin pool, config and hooks
   */
  constructor(opts: CacheHandlerOptions) {
    this.#o = opts;
    this.#cfg = opts.config;
    this.#forwardAcl = new Acl(opts.config.acl.forward);
    this.#purgeAcl = new Acl(opts.config.acl.purge);
    this.#xHit = `HIT from ${opts.node}`;
    const maxPartial = opts.config.partial?.maxBytes ?? 0;
    const partials = maxPartial > 0 ? new PartialStore({ maxBytes: maxPartial }) : undefined;
    this.partials = partials;
    const everywhere = invalidatorFor(opts);
    // Stored parts of a URL go with its objects (PURGE, unsafe methods, a 304 changing Vary).
    const invalidate = partials
      ? async (keys: string[]) => keys.reduce((n, k) => n + partials.delete(k), 0) + await everywhere(keys)
      : everywhere;
    const forwarded = new ForwardedHeaders(opts.config.trustForwardedHeaders ?? []);
    const destinations = opts.destinations ?? new DestinationGuard({ allow: opts.config.acl.allowDestinations });
    const fetch = new FetchStage({
      forwarded,
      destinations,
      store: opts.store,
      pool: opts.pool,
      config: opts.config,
      invalidate,
      peers: opts.peers,
      sharedCollapse: opts.sharedCollapse,
    });
    this.#ctx = {
      node: opts.node,
      xMiss: `MISS from ${opts.node}`,
      store: opts.store,
      config: opts.config,
      fetch,
      invalidate,
      lazyCopy: opts.lazyCopy,
      partials,
      accessLog: opts.accessLog,
      forwarded,
      destinations,
    };
    this.#fsm = new RequestFsm(this.#ctx);
  }

  /**
   * Puts new settings into effect for the requests that start from now on (SIGHUP): origins,
   * ACLs, freshness heuristics, object size limit, collapsing.
   *
   * @param config the new settings
   */
  reconfigure(config: CacheHandlerConfig): void {
    this.#forwardAcl = new Acl(config.acl.forward);
    this.#purgeAcl = new Acl(config.acl.purge);
    this.#cfg = config;
    this.#ctx.config = config;
    this.#ctx.fetch.reconfigure(config);
  }

  /** Replaces the peer selector (ICP, `--peers auto`). */
  setPeerSelector(sel: PeerSelector): void {
    this.#ctx.fetch.upstream.peers = sel;
  }

  /** Tells `fn` the outcome of each origin request (its absolute URL, answered or not); for ICP MISS_NOFETCH. */
  setOriginObserver(fn: (url: string, ok: boolean) => void): void {
    this.#ctx.fetch.upstream.originObserver = fn;
  }

  /** Waits for background revalidations (tests, shutdown). */
  async settle(): Promise<void> {
    await this.#fsm.settle();
  }

  /**
   * Whether a fresh response for `url` is stored (any variant), for ICP's `ICP_OP_HIT`.
   *
   * @param url absolute URL
   */
  async lookupFresh(url: string): Promise<boolean> {
    let primary: string;
    try {
      primary = cacheKey(url);
    } catch {
      return false;
    }
    const now = Date.now();
    // Several memory-only workers: any worker's fresh copy counts (the shared index).
    if (this.#o.lazyCopy) return this.#o.lazyCopy.index.freshAnywhere(primary, now);
    for (const meta of await this.#o.store.variants(primary)) {
      const d = evaluateFreshness([], meta, now, freshOpts(this.#cfg, meta.primary));
      if (d.action === "serve") return true;
    }
    return false;
  }

  /**
   * Handles one request on a listener.
   *
   * @param req the request
   * @param res where to write the response
   * @param mode the listener's mode
   */
  async handle(req: ServerRequest, res: ServerResponse, mode: ListenerMode): Promise<void> {
    // Fast path: a plain GET hit of a stored 2xx without Vary, HTTP/1.1 keep-alive.
    let key: string | undefined;
    if (req.method === "GET" && req.minor === 1 && !res.close && mode === "accel" && req.target.charCodeAt(0) === 47) {
      let found = this.#fastLookup(req);
      if (found instanceof Promise) found = await found;
      if (typeof found === "object") return await this.#fastHit(req, res, found);
      key = found;
    }
    const out: Outcome = {
      code: "NONE",
      result: "error",
      status: 0,
      url: req.target,
      hierarchy: "HIER_NONE",
      peer: "-",
      type: "-",
    };
    const ex: Exchange = { req, res, out };
    try {
      await this.#route(ex, mode, key);
    } catch (e) {
      log.debug("Request failed", { from: req.client.hostname, url: out.url, error: e });
      if (e instanceof RequestBodyError) {
        // The client's body was malformed, cut or stalled (before any response): its error, not
        // the origin's. The connection cannot be reused (the body's end is unknown).
        out.status = e.status;
        out.result = "error";
        res.close = true;
        if (!res.broken) await sendError(this.#ctx, ex, { status: e.status, message: e.message }).catch(() => {});
      } else if (res.bytesWritten === 0 && !res.broken) {
        out.status = 500;
        out.result = "error";
        await sendError(this.#ctx, ex, { status: 500, message: "Internal error" }).catch(() => {});
      } else {
        res.close = true;
      }
    }
    this.#finish(req, res, out);
  }

  #finish(req: ServerRequest, res: ServerResponse, out: Outcome): void {
    countRequest(out.result);
    counters.clientBytes += res.bytesWritten;
    this.#o.accessLog?.log({
      time: Date.now(),
      elapsedMs: Date.now() - req.receivedAt,
      client: req.client.hostname,
      code: out.code,
      status: out.status,
      bytes: res.bytesWritten,
      method: req.method,
      url: out.url,
      hierarchy: out.hierarchy,
      peer: out.peer,
      type: out.type,
    });
  }

  /**
   * The lookup of the fast hit path, without a promise when the store answers synchronously (the
   * memory store): the object when it can be sent as a plain hit; otherwise the request's primary
   * key when it was computed (so the slow path does not parse the URL again), or undefined.
   */
  #fastLookup(req: ServerRequest): FastHit | string | undefined | Promise<FastHit | string | undefined> {
    for (const [k] of req.headers.fields) if (SLOW_FIELDS.has(k)) return undefined;
    const host = req.headers.get("host");
    if (host === null) return undefined;
    // Host and target apart (a newline is in neither), so `Host: a/x` + `/y` is not `a` + `/x/y`;
    // a TLS request's memo starts with a newline (a Host never does), as its scheme differs.
    const url = req.tls ? `\n${host}\n${req.target}` : `${host}\n${req.target}`;
    let primary = this.#keys.get(url);
    const known = primary !== undefined;
    if (primary === undefined) {
      // The same normalised URL the route forwards (route.ts), so a hit is what that URL fetched.
      const abs = originFormUrl(host, req.target, req.tls ? "https" : "http")?.url;
      if (abs === undefined) return undefined;
      primary = keyUrl(abs, this.#cfg.schemeInKey ?? true);
    }
    const store = this.#o.store;
    const vr = store.variants(primary);
    if (vr instanceof Promise) return vr.then((v) => this.#fastLookupVariants(url, primary, known, v));
    return this.#fastLookupVariants(url, primary, known, vr);
  }

  #fastLookupVariants(
    url: string,
    primary: string,
    known: boolean,
    variants: StoredMeta[],
  ): FastHit | string | Promise<FastHit | string> {
    if (variants.length !== 1 || variants[0].vary.length !== 0) return primary;
    const meta0 = variants[0];
    const now = Date.now();
    if (now >= meta0.expiresAt || meta0.status < 200 || meta0.status > 299) return primary;
    // Remember the key only for stored URLs: a miss would add an entry per new URL for nothing.
    if (!known) {
      if (this.#keys.size >= 100_000) this.#keys.clear();
      this.#keys.set(url, primary);
    }
    const gr = this.#o.store.get({ primary, variant: "" });
    if (gr instanceof Promise) return gr.then((obj) => this.#fastPrepared(primary, obj, now));
    return this.#fastPrepared(primary, gr, now);
  }

  #fastPrepared(primary: string, obj: StoredObject | undefined, now: number): FastHit | string {
    if (!obj || !obj.body) return primary;
    let prep = this.#prepared.get(obj.meta);
    if (!prep) this.#prepared.set(obj.meta, prep = new PreparedHit(obj, this.#o.node, this.#xHit));
    if (prep.noCache) return primary;
    return { primary, obj, prep, now };
  }

  async #fastHit(req: ServerRequest, res: ServerResponse, hit: FastHit): Promise<void> {
    const { obj, prep } = hit;
    const age = Math.floor(prep.ageMs(hit.now) / 1000);
    try {
      for (const b of prep.bytes(age, res, obj)) await res.write(b);
    } catch {
      res.close = true;
    }
    // The write completed or failed: the body read for this hit is no longer used.
    obj.release?.();
    this.#finish(req, res, {
      code: hitCode(obj),
      result: "hit",
      status: obj.meta.status,
      url: hit.primary,
      hierarchy: "HIER_NONE",
      peer: "-",
      type: prep.contentType,
    });
  }

  /**
   * Dispatches a request off the fast path: PURGE, CONNECT, pass, or the request state machine.
   * Not an async function (one frame less per miss): every branch returns its promise, and what
   * throws before one is caught by `handle` as a rejection would be.
   */
  #route(ex: Exchange, mode: ListenerMode, key?: string): Promise<void> {
    const { req, res, out } = ex;
    const ctx = this.#ctx;
    const client = req.client.hostname;
    // Only forward and transparent listeners consult the forward ACL (accelerators never proxy
    // for the client), so accelerated requests skip parsing the client address.
    const forwardAllowed = mode !== "accel" && this.#forwardAcl.allows(client);
    if (req.method === "PURGE") return purge(ctx, ex, { mode, acl: this.#purgeAcl, cluster: this.#o.purge });
    const route = resolveRoute(
      { method: req.method, target: req.target, host: req.headers.get("host"), tls: req.tls },
      mode,
      {
        origins: this.#cfg.origins,
        defaultOrigin: this.#cfg.defaultOrigin,
        schemeInKey: this.#cfg.schemeInKey,
        forwardAllowed,
      },
    );
    if (route.kind === "error") {
      out.status = route.status;
      // After a refused CONNECT the client may already be sending tunnel bytes: close.
      if (req.method === "CONNECT") res.close = true;
      if (route.status === 403) {
        out.code = "TCP_DENIED";
        out.result = "denied";
        log.info("Denied proxy request", { from: client, target: req.target.slice(0, 200) });
      }
      return sendError(ctx, ex, { status: route.status, message: route.message });
    }
    if (route.kind === "connect") return connect(ctx, ex, route.target);
    out.url = route.url;
    if (mode !== "accel") {
      // Not a way into the appliance (destination_guard.ts); names are checked again on connect.
      const why = ctx.destinations.checkHost(route.origin.hostname, route.origin.port);
      if (why) return sendDenied(ctx, ex, `Destination ${route.host} is not allowed: ${why}`);
    }
    // The route's URL is normalised: it is the key, and its path is what the origin is asked.
    const primary = key ?? route.key;
    out.url = primary;
    const via = req.headers.get("via");
    if (via && via.split(",").some((v) => v.trim() === `1.1 ${ctx.node}`)) {
      out.status = 508;
      return sendError(ctx, ex, {
        status: 508,
        message: "Forwarding loop detected (this cache is already in Via)",
      });
    }
    const plan: FetchPlan = {
      method: req.method,
      url: route.url,
      primary,
      origin: route.origin,
      host: route.host,
      path: route.path,
      headers: [],
      reqHeaders: req.headers,
      store: false,
      guarded: mode !== "accel",
    };
    if (req.method !== "GET" && req.method !== "HEAD") {
      plan.headers = forwardHeaders(req, {
        host: route.host,
        node: ctx.node,
        cacheable: false,
        forwarded: ctx.forwarded,
      });
      return this.#passWithBody(ex, plan);
    }
    return this.#fsm.lookup(ex, plan);
  }

  /** Forwards a request with a body (not GET/HEAD): reads its start, relays 100-continue, passes it. */
  async #passWithBody(ex: Exchange, plan: FetchPlan): Promise<void> {
    const sent100 = await readRequestBody(ex, plan);
    plan.onInterim = interimRelay(ex.req, ex.res, { sent100 });
    return await pass(this.#ctx, ex, plan);
  }
}
