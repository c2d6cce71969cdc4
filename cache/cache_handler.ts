/**
 * `CacheHandler`: the request state machine of the cache role, after Squid's client-side and
 * Varnish's vcl states:
 *
 * ```
 *            ┌─ PURGE ────────────────────────────── ACL cache.acl.purge → delete everywhere → 200/404
 * request ──>├─ CONNECT (forward listeners) ───────── ACL cache.acl.forward → tunnel
 *            ├─ other methods ── pass ─────────────── forward, then invalidate URL/Location (unsafe methods)
 *            └─ GET/HEAD ── lookup ──┬─ fresh ─────── HIT (304/412/206/416/HEAD from the stored object)
 *                                    ├─ max-stale ─── STALE
 *                                    ├─ swr ───────── STALE + background revalidation
 *                                    ├─ stale ─────── revalidate (conditional, collapsed) ─┬─ 304 → REVALIDATED
 *                                    │                                                    ├─ 304 not selecting it (§4.3.4) or changing Vary
 *                                    │                                                    │    → unconditional refetch → MISS (replaced)
 *                                    │                                                    ├─ 200 → MISS (replaced)
 *                                    │                                                    └─ error (none; 500/502/503/504, not 501) → STALE
 *                                    │                                                       if stale-if-error allows, else relayed / 502/504
 *                                    ├─ not stored + only-if-cached → 504
 *                                    ├─ Range, not stored → pass (206 relayed, never stored)
 *                                    └─ miss ──────── fetch (collapsed: one origin request per URL; others wait ≤ collapse.waitMs)
 *                                                     stream to every waiting client while storing
 * ```
 *
 * Objects above `cache.maxObjectBytes` (by Content-Length, or once the stream passes it) are not
 * stored but still streamed. A client that goes away stops reading; the fetch and the store write
 * continue, so the stored object is complete or absent, never partial.
 *
 * @module
 */
import { Acl } from "../core/addr.ts";
import { getLogger } from "../core/log.ts";
import { encodeChunk, LAST_CHUNK } from "../http/chunked.ts";
import type { HeaderList } from "../http/header_list.ts";
import { latin1Encode } from "../http/head_codec.ts";
import { OriginError, type OriginPool, type OriginResponse } from "../http/origin_client.ts";
import {
  closeQuietly,
  type Endpoint,
  RequestBodyError,
  type ServerRequest,
  type ServerResponse,
} from "../http/server.ts";
import type { AccessLog } from "./access_log.ts";
import { Collapser, Inflight, type InflightHead } from "./inflight.ts";
import type { SharedCollapse } from "./shared_collapse.ts";
import type { LazyCopy } from "./lazy_copy.ts";
import { type CacheResult, counters, countOriginFailure, countRequest, observeOriginLatency } from "./metrics.ts";
import { DIRECT, type ForwardChoice, type PeerSelector } from "./peer_selector.ts";
import { type ClientFraming, clientHead, headWithBody, INLINE_BODY_BYTES, PreparedHit } from "./response_head.ts";
import { type ListenerMode, resolveRoute } from "./route.ts";
import {
  ageHeaderValue,
  cacheKey,
  conditionalHeadersFor,
  contentRangeHeader,
  correctedInitialAgeMs,
  currentAgeMs,
  evaluateClientConditional,
  evaluateFreshness,
  expiresAtMs,
  formatHttpDate,
  getHeader,
  invalidationTargets,
  isStorable,
  mergeHeadersFrom304,
  notModifiedHeaders,
  parseCacheControl,
  parseRange,
  parseVary,
  select304Targets,
  staleIfErrorAllowed,
  stripHopByHop,
  varyKey,
  varyMatches,
} from "./semantics/mod.ts";
import type { Store, StoredMeta, StoredObject, StoreWriter } from "./store/store.ts";
import { connectTarget, runTunnel } from "./tunnel.ts";

const log = getLogger("cache");

function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Deletes keys in every worker's stores; returns how many objects went. */
export type Invalidator = (keys: string[]) => Promise<number>;

/** Settings of {@link CacheHandler} (a subset of the `cache` config section). */
export interface CacheHandlerConfig {
  /** Accelerator sites: Host → origin URL. */
  origins: Record<string, string>;
  /** Origin for hosts not in `origins`. */
  defaultOrigin?: string;
  /** Who may forward-proxy and PURGE, and the ports CONNECT may reach. */
  acl: { forward: string[]; purge: string[]; connectPorts: number[] };
  /** Larger responses are streamed but not stored. */
  maxObjectBytes: number;
  /** Heuristic freshness percentage of (Date − Last-Modified). */
  heuristicPercent: number;
  /** Cap of heuristic freshness, seconds. */
  heuristicMaxS: number;
  /** Request collapsing and how long followers wait. */
  collapse: { enabled: boolean; waitMs: number };
  /** Origin connect timeout (also for CONNECT targets). */
  origin: { connectTimeoutMs: number };
}

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
  /** Request collapsing across workers (several workers on one port). */
  sharedCollapse?: SharedCollapse;
  /** Objects held by other workers, copied on demand (several workers, memory only). */
  lazyCopy?: LazyCopy;
}

/** What the access log and counters record about one request. */
interface Outcome {
  code: string;
  result: CacheResult;
  status: number;
  url: string;
  hierarchy: string;
  peer: string;
  type: string;
}

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

/** Fields never forwarded to the origin on a cacheable fetch (the cache evaluates them itself). */
const CLIENT_ONLY = new Set([
  "range",
  "if-range",
  "if-none-match",
  "if-modified-since",
  "if-match",
  "if-unmodified-since",
]);

const HOP_EXTRA = new Set(["host", "content-length", "transfer-encoding", "x-forwarded-for", "via", "expect"]);

/** Origin statuses that count as errors for `stale-if-error` (RFC 5861 §4): not 501 Not Implemented. */
const STALE_IF_ERROR_STATUSES: ReadonlySet<number> = new Set([500, 502, 503, 504]);

/**
 * Origin bodies with a Content-Length up to this size are read at once into one buffer (no
 * per-chunk async iteration); larger or chunked ones stream. Small enough that holding one per
 * concurrent miss costs little, large enough for typical small objects.
 */
export const WHOLE_BODY_BYTES = 64 * 1024;

/** Request bodies up to this size are buffered and sent with Content-Length; larger ones stream chunked. */
const BUFFERED_BODY_BYTES = 1024 * 1024;

/** A fetch the miss path or a revalidation starts. */
interface FetchPlan {
  method: string;
  url: string;
  primary: string;
  origin: Endpoint;
  host: string;
  path: string;
  /** Request fields to send (hop-by-hop and client-only removed, Host/Via/X-F-F added). */
  headers: [string, string][];
  /** The client's request fields (for storability and Vary). */
  reqHeaders: HeaderList;
  body?: Uint8Array | AsyncIterable<Uint8Array>;
  /** May the response be stored. */
  store: boolean;
  /** The stored object being revalidated. */
  revalidating?: StoredMeta;
  /** Already waited for another worker's fetch of this URL (does not wait twice). */
  waitedElsewhere?: boolean;
  /** Already asked another worker for its copy (does not ask twice). */
  pulled?: boolean;
}

/** The plan of a revalidation as a plain fetch: no validators sent, nothing to freshen. */
function unconditional(plan: FetchPlan): FetchPlan {
  const headers = plan.headers.filter(([k]) => k !== "if-none-match" && k !== "if-modified-since");
  return { ...plan, headers, revalidating: undefined };
}

/** The cache request handler; see the module doc. */
export class CacheHandler {
  readonly #o: CacheHandlerOptions;
  readonly #cfg: CacheHandlerConfig;
  readonly #forwardAcl: Acl;
  readonly #purgeAcl: Acl;
  readonly #collapser: Collapser;
  readonly #prepared = new WeakMap<StoredObject, PreparedHit>();
  readonly #background = new Set<Promise<void>>();
  readonly #xHit: string;
  readonly #xMiss: string;
  /** Raw `http://host/target` → normalised key, so hits skip URL parsing (cleared when large). */
  readonly #keys = new Map<string, string>();
  #peers: PeerSelector;

  /**
   * Creates the handler.
   *
   * @param opts store, origin pool, config and hooks
   */
  constructor(opts: CacheHandlerOptions) {
    this.#o = opts;
    this.#cfg = opts.config;
    this.#collapser = new Collapser(opts.sharedCollapse);
    this.#forwardAcl = new Acl(opts.config.acl.forward);
    this.#purgeAcl = new Acl(opts.config.acl.purge);
    this.#peers = opts.peers ?? DIRECT;
    this.#xHit = `HIT from ${opts.node}`;
    this.#xMiss = `MISS from ${opts.node}`;
  }

  /** Replaces the peer selector (ICP, `--peers auto`). */
  setPeerSelector(sel: PeerSelector): void {
    this.#peers = sel;
  }

  #originObserver: ((url: string, ok: boolean) => void) | undefined;

  /** Tells `fn` the outcome of each origin request (its absolute URL, answered or not); for ICP MISS_NOFETCH. */
  setOriginObserver(fn: (url: string, ok: boolean) => void): void {
    this.#originObserver = fn;
  }

  /** Waits for background revalidations (tests, shutdown). */
  async settle(): Promise<void> {
    while (this.#background.size) await Promise.allSettled([...this.#background]);
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
      const d = evaluateFreshness([], meta, now, this.#freshOpts());
      if (d.action === "serve") return true;
    }
    return false;
  }

  #freshOpts() {
    return { shared: true, heuristicPercent: this.#cfg.heuristicPercent, heuristicMaxS: this.#cfg.heuristicMaxS };
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
    try {
      await this.#route(req, res, mode, out, key);
    } catch (e) {
      log.debug("Request failed", { from: req.client.hostname, url: out.url, error: e });
      if (e instanceof RequestBodyError) {
        // The client's body was malformed, cut or stalled (before any response): its error, not
        // the origin's. The connection cannot be reused (the body's end is unknown).
        out.status = e.status;
        out.result = "error";
        res.close = true;
        if (!res.broken) await this.#error(req, res, e.status, e.message, out).catch(() => {});
      } else if (res.bytesWritten === 0 && !res.broken) {
        out.status = 500;
        out.result = "error";
        await this.#error(req, res, 500, "Internal error", out).catch(() => {});
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
    const url = `http://${host}${req.target}`;
    let primary = this.#keys.get(url);
    const known = primary !== undefined;
    if (primary === undefined) {
      try {
        primary = cacheKey(`http://${host.toLowerCase().replace(/:80$/, "")}${req.target}`);
      } catch {
        return undefined;
      }
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
    let prep = this.#prepared.get(obj);
    if (!prep) this.#prepared.set(obj, prep = new PreparedHit(obj, this.#o.node, this.#xHit));
    if (prep.noCache) return primary;
    return { primary, obj, prep, now };
  }

  async #fastHit(req: ServerRequest, res: ServerResponse, hit: FastHit): Promise<void> {
    const { obj, prep } = hit;
    const age = Math.floor(currentAgeMs(obj.meta, hit.now) / 1000);
    try {
      for (const b of prep.bytes(age, res)) await res.write(b);
    } catch {
      res.close = true;
    }
    this.#finish(req, res, {
      code: "TCP_MEM_HIT",
      result: "hit",
      status: obj.meta.status,
      url: hit.primary,
      hierarchy: "HIER_NONE",
      peer: "-",
      type: prep.contentType,
    });
  }

  async #route(
    req: ServerRequest,
    res: ServerResponse,
    mode: ListenerMode,
    out: Outcome,
    key?: string,
  ): Promise<void> {
    const client = req.client.hostname;
    // Only forward and transparent listeners consult the forward ACL (accelerators never proxy
    // for the client), so accelerated requests skip parsing the client address.
    const forwardAllowed = mode !== "accel" && this.#forwardAcl.allows(client);
    if (req.method === "PURGE") return await this.#purge(req, res, mode, out);
    const route = resolveRoute(
      { method: req.method, target: req.target, host: req.headers.get("host") },
      mode,
      { origins: this.#cfg.origins, defaultOrigin: this.#cfg.defaultOrigin, forwardAllowed },
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
      return await this.#error(req, res, route.status, route.message, out);
    }
    if (route.kind === "connect") return await this.#connect(req, res, route.target, out);
    out.url = route.url;
    let primary: string;
    try {
      // The fast path computed the key of this same URL (accelerator, origin-form target).
      primary = key ?? cacheKey(route.url);
    } catch {
      out.status = 400;
      return await this.#error(req, res, 400, `Bad URL "${route.url.slice(0, 200)}"`, out);
    }
    out.url = primary;
    const viaOwn = `1.1 ${this.#o.node}`;
    const via = req.headers.get("via");
    if (via && via.split(",").some((v) => v.trim() === viaOwn)) {
      out.status = 508;
      return await this.#error(req, res, 508, "Forwarding loop detected (this cache is already in Via)", out);
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
    };
    if (req.method !== "GET" && req.method !== "HEAD") {
      plan.headers = this.#forwardHeaders(req, route.host, false);
      if (req.framing.kind !== "none" && /^100-continue$/i.test(req.headers.get("expect") ?? "")) {
        // The cache reads the body itself, so it answers the expectation (RFC 9110 10.1.1).
        await res.write(latin1Encode("HTTP/1.1 100 Continue\r\n\r\n"));
      }
      if (req.framing.kind === "length" && req.framing.length <= BUFFERED_BODY_BYTES) {
        // Small bodies are read first and sent with Content-Length (origins that refuse chunked
        // requests keep working, and a retry on a stale pooled connection stays possible).
        const parts: Uint8Array[] = [];
        for await (const c of req.body()) parts.push(c);
        plan.body = parts.length === 1 ? parts[0] : parts.reduce((a, b) => concatBytes(a, b), new Uint8Array(0));
      } else if (req.framing.kind !== "none") {
        plan.body = req.body();
      }
      return await this.#pass(req, res, plan, out);
    }
    return await this.#cacheable(req, res, plan, out);
  }

  #forwardHeaders(req: ServerRequest, host: string, cacheable: boolean): [string, string][] {
    const h: [string, string][] = [["host", host]];
    for (const [k, v] of stripHopByHop(req.headers.fields)) {
      if (HOP_EXTRA.has(k)) continue;
      if (cacheable && CLIENT_ONLY.has(k)) continue;
      h.push([k, v]);
    }
    h.push(["via", [req.headers.get("via"), `1.1 ${this.#o.node}`].filter(Boolean).join(", ")]);
    const xff = req.headers.get("x-forwarded-for");
    h.push(["x-forwarded-for", xff ? `${xff}, ${req.client.hostname}` : req.client.hostname]);
    return h;
  }

  async #cacheable(req: ServerRequest, res: ServerResponse, plan: FetchPlan, out: Outcome): Promise<void> {
    const store = this.#o.store;
    const reqCc = parseCacheControl(req.headers.get("cache-control"));
    const now = Date.now();
    // Lookup: the stored variant whose Vary'd request fields match this request.
    let obj: StoredObject | undefined;
    // Memory stores answer synchronously: no await (and no microtask) unless a promise comes back.
    const vr = store.variants(plan.primary);
    for (const meta of vr instanceof Promise ? await vr : vr) {
      if (varyMatches(meta, req.headers)) {
        const gr = store.get({ primary: meta.primary, variant: meta.variant });
        obj = gr instanceof Promise ? await gr : gr;
        if (obj) break;
      }
    }
    if (obj) {
      const d = evaluateFreshness(req.headers, obj.meta, now, this.#freshOpts());
      switch (d.action) {
        case "serve":
          return await this.#serveStored(req, res, obj, "HIT", "TCP_MEM_HIT", "hit", out);
        case "serve-stale":
          return await this.#serveStored(req, res, obj, "STALE", "TCP_STALE_HIT", "stale", out);
        case "serve-stale-revalidate":
          this.#backgroundRevalidate(req, plan, obj.meta);
          return await this.#serveStored(req, res, obj, "STALE", "TCP_STALE_HIT", "stale", out);
        case "miss-only-if-cached":
          out.result = "only_if_cached";
          out.status = 504;
          return await this.#error(req, res, 504, "Not cached (only-if-cached)", out);
        case "revalidate":
          return await this.#revalidate(req, res, plan, obj, out);
      }
    }
    if (!obj && !plan.pulled && this.#o.lazyCopy) {
      // Another worker may hold it: copy it here and serve it as a hit.
      const pull = this.#o.lazyCopy.pull(plan.primary);
      if (pull) {
        plan.pulled = true;
        if (await pull) return await this.#cacheable(req, res, plan, out);
      }
    }
    if (reqCc.onlyIfCached) {
      out.result = "only_if_cached";
      out.status = 504;
      return await this.#error(req, res, 504, "Not cached (only-if-cached)", out);
    }
    if (req.headers.has("range")) {
      // A partial answer must never become the stored object: relay the range as a pass.
      plan.headers = this.#forwardHeaders(req, plan.host, false);
      plan.method = req.method;
      return await this.#pass(req, res, plan, out);
    }
    plan.headers = this.#forwardHeaders(req, plan.host, true);
    plan.store = true;
    return await this.#miss(req, res, plan, out);
  }

  async #serveStored(
    req: ServerRequest,
    res: ServerResponse,
    obj: StoredObject,
    x: "HIT" | "STALE" | "REVALIDATED",
    code: string,
    result: CacheResult,
    out: Outcome,
  ): Promise<void> {
    const meta = obj.meta;
    const age = ageHeaderValue(currentAgeMs(meta, Date.now()));
    const xCache = `${x} from ${this.#o.node}`;
    out.code = code;
    out.result = result;
    out.type = meta.headers.find(([k]) => k === "content-type")?.[1] ?? "-";
    const cond = evaluateClientConditional(req.method, req.headers, meta.headers, meta.status);
    if (cond === 304) {
      out.status = 304;
      if (code === "TCP_MEM_HIT") out.code = "TCP_IMS_HIT";
      const head = clientHead({
        status: 304,
        headers: notModifiedHeaders(meta.headers),
        node: this.#o.node,
        xCache,
        age,
        framing: { kind: "none" },
        close: res.close,
        keepAlive10: req.minor === 0 && !res.close,
      });
      return await res.write(latin1Encode(head));
    }
    if (cond === 412) {
      out.status = 412;
      return await this.#error(req, res, 412, "Precondition failed", out);
    }
    let status = meta.status;
    const extra: [string, string][] = [];
    let range: { start: number; end: number } | undefined;
    if (req.method === "GET" && meta.status === 200 && req.headers.has("range")) {
      const r = parseRange(req.headers.get("range"), req.headers.get("if-range"), meta, meta.bodyBytes);
      if (r.kind === "unsatisfiable") {
        out.status = 416;
        return await this.#error(req, res, 416, "Range not satisfiable", out, [
          ["content-range", contentRangeHeader(null, meta.bodyBytes)],
        ]);
      }
      if (r.kind === "partial") {
        status = 206;
        range = { start: r.start, end: r.end };
        extra.push(["content-range", contentRangeHeader(range, meta.bodyBytes)]);
      }
    }
    out.status = status;
    const length = range ? range.end - range.start + 1 : meta.bodyBytes;
    const head = latin1Encode(clientHead({
      status,
      headers: meta.headers,
      node: this.#o.node,
      xCache,
      age,
      extra,
      framing: { kind: "length", length },
      close: res.close,
      keepAlive10: req.minor === 0 && !res.close,
    }));
    if (req.method === "HEAD") return await res.write(head);
    if (obj.body) {
      const body = range ? obj.body.subarray(range.start, range.end + 1) : obj.body;
      if (body.length <= 64 * 1024) {
        const buf = new Uint8Array(head.length + body.length);
        buf.set(head);
        buf.set(body, head.length);
        return await res.write(buf);
      }
      await res.write(head);
      return await res.write(body);
    }
    await res.write(head);
    const reader = obj.openBody(range).getReader();
    try {
      while (true) {
        const { value, done } = await reader.read();
        if (done) break;
        await res.write(value);
      }
    } catch (e) {
      res.close = true;
      throw e;
    } finally {
      reader.releaseLock();
    }
  }

  async #purge(req: ServerRequest, res: ServerResponse, mode: ListenerMode, out: Outcome): Promise<void> {
    out.url = req.target;
    if (!this.#purgeAcl.allows(req.client.hostname)) {
      out.code = "TCP_DENIED";
      out.result = "denied";
      out.status = 403;
      log.info("Denied PURGE", { from: req.client.hostname, url: req.target.slice(0, 200) });
      return await this.#error(req, res, 403, "PURGE is not allowed from this client", out);
    }
    const route = resolveRoute({ method: "GET", target: req.target, host: req.headers.get("host") }, mode, {
      origins: this.#cfg.origins,
      defaultOrigin: this.#cfg.defaultOrigin ?? "http://127.0.0.1:80",
      forwardAllowed: true,
    });
    if (route.kind !== "http") {
      out.status = 400;
      return await this.#error(req, res, 400, "Bad PURGE target", out);
    }
    const key = cacheKey(route.url);
    out.url = key;
    const n = await this.#invalidate([key]);
    out.result = "purge";
    out.code = "TCP_MISS";
    out.status = n > 0 ? 200 : 404;
    return await this.#error(req, res, out.status, n > 0 ? `Purged ${n} object(s)` : "Not in cache", out);
  }

  async #invalidate(keys: string[]): Promise<number> {
    const index = this.#o.lazyCopy?.index;
    // No copy between workers may start, or land, while the keys are deleted everywhere.
    index?.beginInvalidation(keys);
    try {
      if (this.#o.invalidate) return await this.#o.invalidate(keys);
      this.#o.lazyCopy?.forget(keys);
      let n = 0;
      for (const k of keys) n += await this.#o.store.delete(k);
      return n;
    } finally {
      index?.endInvalidation(keys);
    }
  }

  async #connect(req: ServerRequest, res: ServerResponse, target: Endpoint, out: Outcome): Promise<void> {
    out.url = `${target.hostname}:${target.port}`;
    res.close = true; // on any error below; a tunnel takes the connection anyway
    if (!this.#cfg.acl.connectPorts.includes(target.port)) {
      out.code = "TCP_DENIED";
      out.result = "denied";
      out.status = 403;
      return await this.#error(req, res, 403, `CONNECT to port ${target.port} is not allowed`, out);
    }
    let upstream: Deno.TcpConn;
    try {
      upstream = await connectTarget(target, this.#cfg.origin.connectTimeoutMs);
    } catch (e) {
      out.status = 502;
      countOriginFailure(e instanceof Deno.errors.ConnectionRefused ? "refused" : "connect");
      return await this.#error(req, res, 502, `Cannot connect to ${out.url}: ${(e as Error).message}`, out);
    }
    out.code = "TCP_TUNNEL";
    out.result = "tunnel";
    out.status = 200;
    out.hierarchy = "HIER_DIRECT";
    out.peer = target.hostname;
    try {
      await res.write(latin1Encode("HTTP/1.1 200 Connection established\r\n\r\n"));
    } catch {
      closeQuietly(upstream);
      return;
    }
    const { conn, buffered } = res.hijack();
    const r = await runTunnel(conn, upstream, buffered);
    counters.clientBytes += r.down;
  }

  async #error(
    req: ServerRequest,
    res: ServerResponse,
    status: number,
    message: string,
    out: Outcome,
    extra: [string, string][] = [],
  ): Promise<void> {
    out.status = status;
    const body = new TextEncoder().encode(message + "\n");
    const head = clientHead({
      status,
      headers: [["content-type", "text/plain; charset=utf-8"], ["cache-control", "no-store"]],
      node: this.#o.node,
      xCache: this.#xMiss,
      extra,
      framing: { kind: "length", length: body.length },
      close: res.close,
      keepAlive10: req.minor === 0 && !res.close,
    });
    const h = latin1Encode(head);
    if (req.method === "HEAD") return await res.write(h);
    const buf = new Uint8Array(h.length + body.length);
    buf.set(h);
    buf.set(body, h.length);
    await res.write(buf);
  }

  // ---- origin side ----------------------------------------------------------------------------

  /** Where a miss goes; synchronous when the selector is (no peering). */
  #choose(plan: FetchPlan): ForwardChoice | Promise<ForwardChoice> {
    const failed = (e: unknown): ForwardChoice => {
      log.warn("Peer selection failed; going to the origin", { url: plan.url, error: e });
      return { kind: "origin" };
    };
    try {
      const c = this.#peers.select(plan.primary, { method: plan.method, url: plan.url, headers: plan.reqHeaders });
      return c instanceof Promise ? c.catch(failed) : c;
    } catch (e) {
      return failed(e);
    }
  }

  /** Sends the plan's request to a peer or the origin; records hierarchy and latency. */
  async #send(plan: FetchPlan, out: { hierarchy: string; peer: string }): Promise<OriginResponse> {
    let choice = plan.body ? { kind: "origin" as const } : this.#choose(plan);
    if (choice instanceof Promise) choice = await choice;
    const method = plan.method === "HEAD" && plan.store ? "GET" : plan.method;
    if (choice.kind === "peer") {
      const headers = plan.headers.filter(([k]) => k !== "cache-control" || !choice.onlyIfCached);
      if (choice.onlyIfCached) headers.push(["cache-control", "only-if-cached"]);
      const t0 = performance.now();
      try {
        const r = await this.#o.pool.request({ hostname: choice.hostname, port: choice.port }, {
          method,
          target: plan.url,
          headers,
        });
        observeOriginLatency((performance.now() - t0) / 1000);
        if (!(choice.onlyIfCached && r.head.status === 504)) {
          out.hierarchy = choice.type === "sibling" ? "SIBLING_HIT" : "PARENT_HIT";
          out.peer = choice.name;
          if (choice.store === false) plan.store = false;
          return r;
        }
        r.abort();
      } catch (e) {
        if (e instanceof OriginError) countOriginFailure(e.reason);
        log.debug("Peer failed; going to the origin", { peer: choice.name, error: e });
        this.#peers.peerFailed?.(choice, e as Error);
      }
    }
    out.hierarchy = "HIER_DIRECT";
    out.peer = plan.origin.hostname;
    const t0 = performance.now();
    try {
      const r = await this.#o.pool.request(plan.origin, {
        method,
        target: plan.path,
        headers: plan.headers,
        body: plan.body,
      });
      observeOriginLatency((performance.now() - t0) / 1000);
      this.#originObserver?.(plan.url, true);
      return r;
    } catch (e) {
      // Only the origin's own failures count (a client's bad request body is not one).
      if (e instanceof OriginError) {
        countOriginFailure(e.reason);
        this.#originObserver?.(plan.url, false);
      }
      throw e;
    }
  }

  /** Pass: forward without storing, stream the answer, invalidate after unsafe methods. */
  async #pass(req: ServerRequest, res: ServerResponse, plan: FetchPlan, out: Outcome): Promise<void> {
    out.code = "TCP_MISS";
    out.result = "pass";
    let r: OriginResponse;
    const requestTime = Date.now();
    try {
      r = await this.#send(plan, out);
    } catch (e) {
      if (e instanceof RequestBodyError) throw e;
      return await this.#originError(req, res, e as Error, out);
    }
    const responseTime = Date.now();
    const headers = stripHopByHop(r.head.headers.fields);
    const targets = invalidationTargets(req.method, plan.url, r.head.status, headers);
    if (targets.length) {
      // Location/Content-Location keys are resolved against the request URL (same host only).
      await this.#invalidate(targets);
    }
    out.status = r.head.status;
    out.type = r.head.headers.get("content-type") ?? "-";
    // An upstream Age is kept, corrected by the response delay (RFC 9111 §4.2.3); a first-hand
    // answer (no Age, current Date) gets none, as it was generated for this request (§5.1).
    const ageMs = correctedInitialAgeMs({ headers: r.head.headers.fields, requestTime, responseTime });
    const age = r.head.headers.get("age") !== null || ageMs >= 1000 ? ageHeaderValue(ageMs) : undefined;
    await this.#relay(req, res, r, headers, this.#xMiss, age);
  }

  /** Streams an origin response to the client without storing it. */
  async #relay(
    req: ServerRequest,
    res: ServerResponse,
    r: OriginResponse,
    headers: [string, string][],
    xCache: string,
    age?: string,
  ): Promise<void> {
    const framing = this.#framingFor(req, res, r.framing.kind === "length" ? r.framing.length : r.declaredLength, r);
    const head = latin1Encode(clientHead({
      status: r.head.status,
      reason: r.head.reason,
      headers,
      node: this.#o.node,
      xCache,
      age,
      framing,
      close: res.close,
      keepAlive10: req.minor === 0 && !res.close,
    }));
    if (r.framing.kind === "none" || req.method === "HEAD") {
      r.abort();
      try {
        await res.write(head);
      } catch { /* client gone */ }
      return;
    }
    // The head goes out with the first body chunk (one write for small responses).
    let pending: Uint8Array | undefined = head;
    let complete = false;
    try {
      for await (const chunk of r.body()) {
        counters.originBytes += chunk.length;
        const data = framing.kind === "chunked" ? encodeChunk(chunk) : chunk;
        if (pending) {
          if (pending.length + data.length <= 64 * 1024) await res.write(concatBytes(pending, data));
          else {
            await res.write(pending);
            await res.write(data);
          }
          pending = undefined;
        } else {
          await res.write(data);
        }
      }
      complete = true;
      if (pending) await res.write(framing.kind === "chunked" ? concatBytes(pending, LAST_CHUNK) : pending);
      else if (framing.kind === "chunked") await res.write(LAST_CHUNK);
    } catch {
      r.abort();
      if (pending && !res.broken) await res.write(pending).catch(() => {});
      res.close = true;
    }
    if (!complete) res.close = true;
  }

  #framingFor(req: ServerRequest, res: ServerResponse, length: number | undefined, r?: OriginResponse): ClientFraming {
    if (r && r.framing.kind === "none") {
      return length !== undefined ? { kind: "length", length } : { kind: "none" };
    }
    if (length !== undefined) return { kind: "length", length };
    if (req.method === "HEAD") return { kind: "none" };
    if (req.minor === 1) return { kind: "chunked" };
    res.close = true;
    return { kind: "close" };
  }

  async #originError(req: ServerRequest, res: ServerResponse, e: Error, out: Outcome): Promise<void> {
    const timeout = e instanceof OriginError && e.reason === "timeout";
    const status = timeout ? 504 : 502;
    out.status = status;
    out.result = "error";
    log.debug("Origin failed", { url: out.url, error: e });
    return await this.#error(req, res, status, `${timeout ? "Gateway timeout" : "Bad gateway"}: ${e.message}`, out);
  }

  /** Miss: join or lead a collapsed fetch and stream from it. */
  async #miss(req: ServerRequest, res: ServerResponse, plan: FetchPlan, out: Outcome): Promise<void> {
    out.code = "TCP_MISS";
    out.result = "miss";
    const key = plan.primary;
    const reqCc = parseCacheControl(req.headers.get("cache-control"));
    const collapse = this.#cfg.collapse.enabled;
    if (collapse) {
      const f = this.#collapser.get(key);
      if (f) {
        const head = await f.waitHead(this.#cfg.collapse.waitMs);
        if (
          head && head.kind === "response" && head.shareable && head.vary !== "*" &&
          varyKey(head.vary, req.headers) === head.variant
        ) {
          counters.collapsed++;
          out.hierarchy = "HIER_NONE";
          out.status = head.status;
          return await this.#fromInflight(req, res, f, head, this.#xMiss, out);
        }
        if (head && head.kind === "not-modified") {
          counters.collapsed++;
          return await this.#cacheable(req, res, plan, out);
        }
        // Timed out, failed, not shareable or another variant: go alone.
      }
    }
    if (reqCc.noStore) plan.store = false;
    if (collapse && plan.store && !plan.waitedElsewhere) {
      // Another worker is fetching this URL: wait for its object, then look it up again.
      const wait = this.#collapser.claimOrWait(key, this.#cfg.collapse.waitMs);
      if (wait) {
        plan.waitedElsewhere = true;
        if (await wait) counters.collapsed++;
        return await this.#cacheable(req, res, plan, out);
      }
    }
    const f = collapse && plan.store ? this.#collapser.lead(key) : new Inflight();
    const slot = req.method !== "HEAD" ? f.reserve() : undefined;
    const task = this.#runFetch(f, plan, req.method !== "HEAD", out);
    const head = await f.waitHead();
    if (!head) {
      if (slot) f.unreserve(slot);
      await task;
      return await this.#originError(req, res, f.error ?? new Error("fetch failed"), out);
    }
    out.status = head.status;
    try {
      await this.#sendInflight(req, res, f, head, this.#xMiss, out, slot);
    } finally {
      if (slot) f.unreserve(slot);
    }
    await task; // the fetch never rejects
  }

  /** Revalidation of a stale stored object (collapsed like misses). */
  async #revalidate(
    req: ServerRequest,
    res: ServerResponse,
    plan: FetchPlan,
    obj: StoredObject,
    out: Outcome,
  ): Promise<void> {
    out.code = "TCP_REFRESH_MODIFIED";
    out.result = "miss";
    const key = plan.primary;
    plan.headers = this.#forwardHeaders(req, plan.host, true);
    plan.store = !parseCacheControl(req.headers.get("cache-control")).noStore;
    let f = this.#cfg.collapse.enabled ? this.#collapser.get(key) : undefined;
    let head: InflightHead | undefined;
    if (f) {
      head = await f.waitHead(this.#cfg.collapse.waitMs);
      const usable = head && (head.kind === "not-modified" ||
        (head.shareable && head.vary !== "*" && varyKey(head.vary, req.headers) === head.variant));
      if (usable) counters.collapsed++;
      else f = undefined; // timed out, failed, not shareable or another variant: go alone
    }
    let task: Promise<void> | undefined;
    let slot: object | undefined;
    if (!f) {
      plan.revalidating = obj.meta;
      plan.headers.push(...conditionalHeadersFor(obj.meta));
      f = this.#cfg.collapse.enabled && plan.store ? this.#collapser.lead(key) : new Inflight();
      if (req.method !== "HEAD") slot = f.reserve();
      task = this.#runFetch(f, plan, req.method !== "HEAD", out);
      head = await f.waitHead();
    }
    const now = Date.now();
    const failed = !head || (head.kind === "response" && STALE_IF_ERROR_STATUSES.has(head.status));
    const useStale = failed && staleIfErrorAllowed(req.headers, obj.meta, now, this.#freshOpts());
    if (slot && (useStale || !head || head.kind === "not-modified")) {
      f.unreserve(slot);
      slot = undefined;
    }
    if (useStale) {
      await this.#serveStored(req, res, obj, "STALE", "TCP_REFRESH_FAIL_OLD", "stale", out);
      if (task) await task;
      return;
    }
    if (!head) {
      if (task) await task;
      return await this.#originError(req, res, f.error ?? new Error("revalidation failed"), out);
    }
    if (head.kind === "not-modified") {
      if (task) await task;
      const fresh = await this.#o.store.get({ primary: obj.meta.primary, variant: obj.meta.variant });
      return await this.#serveStored(
        req,
        res,
        fresh ?? obj,
        "REVALIDATED",
        "TCP_REFRESH_UNMODIFIED",
        "revalidated",
        out,
      );
    }
    out.status = head.status;
    const p = this.#fromInflight(req, res, f, head, this.#xMiss, out, slot);
    await Promise.all(task ? [p, task] : [p]);
  }

  #backgroundRevalidate(req: ServerRequest, plan: FetchPlan, meta: StoredMeta): void {
    if (this.#collapser.get(plan.primary)) return;
    const p: FetchPlan = {
      ...plan,
      method: "GET",
      headers: [...this.#forwardHeaders(req, plan.host, true), ...conditionalHeadersFor(meta)],
      store: true,
      revalidating: meta,
    };
    const f = this.#collapser.lead(plan.primary);
    const task = this.#runFetch(f, p, false, { hierarchy: "", peer: "" }).catch(() => {}).finally(() => {
      this.#background.delete(task);
    });
    this.#background.add(task);
  }

  /** Sends an inflight response to one client. */
  async #fromInflight(
    req: ServerRequest,
    res: ServerResponse,
    f: Inflight,
    head: InflightHead,
    xCache: string,
    out: Outcome,
    slot?: object,
  ): Promise<void> {
    try {
      await this.#sendInflight(req, res, f, head, xCache, out, slot);
    } finally {
      if (slot) f.unreserve(slot);
    }
  }

  async #sendInflight(
    req: ServerRequest,
    res: ServerResponse,
    f: Inflight,
    head: InflightHead,
    xCache: string,
    out: Outcome,
    slot?: object,
  ): Promise<void> {
    out.type = head.headers.find(([k]) => k === "content-type")?.[1] ?? "-";
    if (head.status >= 200 && head.status < 300) {
      const cond = evaluateClientConditional(req.method, req.headers, head.headers, head.status);
      if (cond === 304 || cond === 412) {
        out.status = cond;
        if (cond === 412) return await this.#error(req, res, 412, "Precondition failed", out);
        return await res.write(latin1Encode(clientHead({
          status: 304,
          headers: notModifiedHeaders(head.headers),
          node: this.#o.node,
          xCache,
          framing: { kind: "none" },
          close: res.close,
          keepAlive10: req.minor === 0 && !res.close,
        })));
      }
    }
    const noBody = req.method === "HEAD" || head.status === 204 || head.status === 304 ||
      (head.status >= 100 && head.status < 200);
    const framing: ClientFraming = noBody
      ? (head.bodyBytes !== undefined ? { kind: "length", length: head.bodyBytes } : { kind: "none" })
      : this.#framingFor(req, res, head.bodyBytes);
    const text = clientHead({
      status: head.status,
      reason: head.reason,
      headers: head.headers,
      node: this.#o.node,
      xCache,
      // Its age when it arrived (an upstream cache's Age plus the response delay, or the apparent
      // age from Date) plus the time since: a parent cache's copy must not look new downstream.
      age: head.initialAgeMs === undefined || head.responseTime === undefined
        ? undefined
        : ageHeaderValue(head.initialAgeMs + Math.max(0, Date.now() - head.responseTime)),
      framing,
      close: res.close,
      keepAlive10: req.minor === 0 && !res.close,
    });
    out.status = head.status;
    if (noBody) {
      try {
        await res.write(latin1Encode(text));
      } catch { /* client gone */ }
      return;
    }
    const chunked = framing.kind === "chunked";
    const whole = chunked ? undefined : f.completeBody();
    if (whole && whole.length <= INLINE_BODY_BYTES) {
      // The body is already complete (a small response read at once): head and body encoded into
      // the connection's reusable buffer, one write, no allocation.
      try {
        await res.write(headWithBody(text, whole, res));
      } catch {
        res.close = true;
      }
      return;
    }
    const bytes = latin1Encode(text);
    // The head goes out together with the first body chunk (one write for small responses).
    let pending: Uint8Array | undefined = bytes;
    try {
      for await (const chunk of f.read(slot)) {
        const data = chunked ? encodeChunk(chunk) : chunk;
        if (pending) {
          await res.write(pending.length + data.length <= 64 * 1024 ? concatBytes(pending, data) : pending);
          if (pending.length + data.length > 64 * 1024) await res.write(data);
          pending = undefined;
        } else {
          await res.write(data);
        }
      }
      if (pending) await res.write(chunked ? concatBytes(pending, LAST_CHUNK) : pending);
      else if (chunked) await res.write(LAST_CHUNK);
    } catch {
      // The client went away or the origin failed mid-body: the client sees a truncated response.
      if (pending && !res.broken) await res.write(pending).catch(() => {});
      res.close = true;
    }
  }

  /**
   * Fetches from the origin into an inflight: publishes the head, streams chunks, stores the
   * object when allowed. Never throws; failures end up in `f.error`.
   */
  async #runFetch(
    f: Inflight,
    plan: FetchPlan,
    leaderReads: boolean,
    out: { hierarchy: string; peer: string },
  ): Promise<void> {
    const key = plan.primary;
    const requestTime = Date.now();
    let r: OriginResponse;
    try {
      r = await this.#send(plan, out);
    } catch (e) {
      f.fail(e as Error);
      this.#collapser.release(key, f);
      return;
    }
    const responseTime = Date.now();
    const status = r.head.status;
    // Hop-by-hop fields (Transfer-Encoding among them) and Content-Length go; a Date is added if missing.
    let headers = stripHopByHop(r.head.headers.fields);
    let hasDate = false;
    for (let i = headers.length - 1; i >= 0; i--) {
      const k = headers[i][0];
      if (k === "content-length") headers.splice(i, 1);
      else if (k === "date") hasDate = true;
    }
    if (!hasDate) headers.push(["date", formatHttpDate(responseTime)]);

    if (status === 304 && plan.revalidating) {
      r.abort();
      const old = plan.revalidating;
      if (select304Targets([old], r.head.headers.fields).length === 0) {
        // The 304's validator does not select the stored response (RFC 9111 §4.3.4; e.g. the
        // origin's ETag changed under a stale If-Modified-Since): it must not be freshened with
        // this 304. Ask again without conditions (§4.3.3); that answer replaces it.
        log.debug("304 does not match the stored response; refetching", { url: key });
        return await this.#runFetch(f, unconditional(plan), leaderReads, out);
      }
      const merged = mergeHeadersFrom304(old.headers, r.head.headers.fields, { responseTime });
      const newVary = parseVary(getHeader(merged, "vary"));
      if (newVary === "*" || newVary.join(",") !== old.vary.join(",")) {
        // The 304 changed Vary. Keeping the old `vary`/variant key would serve this body to
        // requests the origin now tells apart (RFC 9111 §4.1). Every stored variant of the URL is
        // keyed by the old Vary, and the new fields' values in the requests that stored them were
        // never kept, so they cannot be re-keyed; this one could be (under this request's values)
        // but the Store has no rename, so that means copying the body anyway. Simpler and correct:
        // drop the URL's variants and store a fresh answer fetched without conditions, keyed by
        // the new Vary and this request — one body transfer on a rare event.
        log.debug("304 changed Vary; replacing the stored variants", { url: key });
        await this.#invalidate([old.primary]);
        return await this.#runFetch(f, unconditional(plan), leaderReads, out);
      }
      const meta: StoredMeta = { ...old, headers: merged, requestTime, responseTime, expiresAt: 0 };
      meta.expiresAt = expiresAtMs(meta, this.#freshOpts());
      await this.#o.store.updateMeta(meta);
      f.setHead({
        kind: "not-modified",
        status: 304,
        reason: "Not Modified",
        headers: merged,
        vary: old.vary,
        variant: old.variant,
        shareable: true,
      });
      f.finish();
      this.#collapser.release(key, f);
      return;
    }

    const length = r.framing.kind === "length"
      ? r.framing.length
      : r.framing.kind === "none"
      ? (r.head.status === 304 || r.head.status === 204 ? 0 : r.declaredLength) // HEAD: the origin's
      : undefined;
    const vary = parseVary(r.head.headers.get("vary"));
    const variant = vary === "*" ? "" : varyKey(vary, plan.reqHeaders);
    let storable = false;
    if (plan.store && !(plan.revalidating && status >= 500)) {
      const d = isStorable({ method: "GET", headers: plan.reqHeaders }, { status, headers }, {
        shared: true,
        heuristicPercent: this.#cfg.heuristicPercent,
        heuristicMaxS: this.#cfg.heuristicMaxS,
      });
      storable = d.storable && (length === undefined || length <= this.#cfg.maxObjectBytes);
      if (storable && d.stripFields.length) headers = headers.filter(([k]) => !d.stripFields.includes(k));
    }
    let writer: StoreWriter | undefined;
    let meta: StoredMeta | undefined;
    if (storable) {
      meta = {
        primary: key,
        variant,
        status,
        headers,
        vary: vary === "*" ? ["*"] : vary,
        requestTime,
        responseTime,
        expiresAt: 0,
        bodyBytes: length ?? -1,
      };
      meta.expiresAt = expiresAtMs(meta, this.#freshOpts());
      try {
        const w = this.#o.store.openWrite(meta);
        writer = w instanceof Promise ? await w : w;
      } catch (e) {
        log.debug("Store refused object", { url: key, error: e });
      }
    }
    // Stray bytes after this response on its idle connection: it was probably cut wrong; drop it.
    if (writer) r.onLateTrouble(() => void this.#invalidate([key]).catch(() => {}));
    f.retainAll = writer !== undefined;
    f.setHead({
      kind: "response",
      status,
      reason: r.head.reason,
      headers,
      bodyBytes: length,
      vary,
      variant,
      shareable: writer !== undefined,
      initialAgeMs: correctedInitialAgeMs({ headers: r.head.headers.fields, requestTime, responseTime }),
      responseTime,
    });
    if (!writer) this.#collapser.release(key, f);
    if (r.framing.kind === "none") {
      r.abort();
      if (writer) await this.#commit(writer, key, r.clean);
      f.finish();
      this.#collapser.release(key, f);
      return;
    }
    if (!writer && !leaderReads) {
      r.abort();
      f.finish();
      return;
    }
    if (r.framing.kind === "length" && r.framing.length <= WHOLE_BODY_BYTES) {
      return await this.#fetchWhole(f, r, key, writer);
    }
    let hadReader = false;
    try {
      for await (const chunk of r.body()) {
        counters.originBytes += chunk.length;
        if (writer) {
          try {
            await writer.write(chunk);
          } catch (e) {
            writer = await this.#storeFailed(f, key, writer, e);
          }
        }
        const wait = f.push(chunk);
        if (wait) await wait;
        if (!f.unread) hadReader = true;
        if (!writer && hadReader && f.unread) {
          // Nobody reads and nothing is stored: stop fetching.
          r.abort();
          f.fail(new Error("All clients went away"));
          return;
        }
      }
    } catch (e) {
      if (writer) await writer.abort();
      f.fail(e as Error);
      this.#collapser.release(key, f);
      return;
    }
    if (writer) await this.#commit(writer, key, r.clean);
    f.finish();
    this.#collapser.release(key, f);
  }

  /**
   * A store write failed: abort the object, let the readers stream without keeping every chunk,
   * and release the collapse claim so later requests do not wait for an object that will not be.
   *
   * @returns undefined, the writer to use from now on
   */
  async #storeFailed(f: Inflight, key: string, writer: StoreWriter, e: unknown): Promise<undefined> {
    log.debug("Object not stored", { url: key, error: e });
    await writer.abort();
    f.retainAll = false;
    this.#collapser.release(key, f);
    return undefined;
  }

  /**
   * The rest of {@link #runFetch} for a small length-delimited body: read it at once (usually
   * already buffered with the head, so no await at all), store it, hand it to the readers as one
   * chunk. A body cut short fails the inflight like a streamed one; the head was published already,
   * so clients see a truncated response and a closed connection.
   */
  async #fetchWhole(
    f: Inflight,
    r: OriginResponse,
    key: string,
    writer: StoreWriter | undefined,
  ): Promise<void> {
    let body: Uint8Array;
    try {
      const got = r.readWhole();
      body = got instanceof Promise ? await got : got;
    } catch (e) {
      if (writer) await writer.abort();
      f.fail(e as Error);
      this.#collapser.release(key, f);
      return;
    }
    counters.originBytes += body.length;
    if (writer) {
      try {
        const w = writer.write(body);
        if (w instanceof Promise) await w;
      } catch (e) {
        writer = await this.#storeFailed(f, key, writer, e);
      }
    }
    f.push(body); // one chunk, within the back-pressure limit: never waits
    if (writer) {
      const c = this.#commit(writer, key, r.clean);
      if (c instanceof Promise) await c;
    }
    f.finish();
    this.#collapser.release(key, f);
  }

  /**
   * Commits a store write; false (and aborted) when the store refused it, or when the origin
   * exchange was not clean (bytes after the body, a body on a bodiless answer): such a response is
   * never stored.
   */
  #commit(writer: StoreWriter, key: string, clean: boolean): boolean | Promise<boolean> {
    if (!clean) {
      log.debug("Not storing a response with framing trouble", { url: key });
      return this.#commitFailed(writer, key, new Error("origin framing trouble"));
    }
    let c: void | Promise<void>;
    try {
      c = writer.commit();
    } catch (e) {
      return this.#commitFailed(writer, key, e);
    }
    if (c instanceof Promise) return c.then(() => this.#committed(true), (e) => this.#commitFailed(writer, key, e));
    return this.#committed(true);
  }

  async #commitFailed(writer: StoreWriter, key: string, e: unknown): Promise<boolean> {
    log.debug("Commit failed", { url: key, error: e });
    await writer.abort();
    return this.#committed(false);
  }

  #committed(ok: boolean): boolean {
    const s = this.#o.store.stats();
    counters.storedObjects = s.objects;
    counters.storedBytes = s.bytes;
    return ok;
  }
}
