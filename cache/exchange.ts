/**
 * What the stages of the cache's request path share: the handler's settings and collaborators
 * ({@link CacheContext}), and one request in progress ({@link Exchange}: the client's request,
 * where its response goes, and what the access log will record about it).
 *
 * @module
 */
import type { ServerRequest, ServerResponse } from "../http/server.ts";
import type { AccessLog } from "./access_log.ts";
import type { DestinationGuard } from "./destination_guard.ts";
import type { ForwardedHeaders } from "./forwarded_headers.ts";
import type { FetchStage } from "./fetch_stage.ts";
import type { LazyCopy } from "./lazy_copy.ts";
import type { CacheResult } from "./metrics.ts";
import type { PartialStore } from "./partial_store.ts";
import { DEFAULT_TARGETED_FIELDS, type HeuristicParams, type RefreshPattern, RefreshRules } from "./semantics/mod.ts";
import type { Store } from "./store/store.ts";

/** Deletes keys in every worker's stores; returns how many objects went. */
export type Invalidator = (keys: string[]) => Promise<number>;

/** Settings of the cache handler (a subset of the `cache` config section). */
export interface CacheHandlerConfig {
  /** Accelerator sites: Host → origin URL. */
  origins: Record<string, string>;
  /** Origin for hosts not in `origins`. */
  defaultOrigin?: string;
  /** Whether `https://` and `http://` URLs are different cache entries (default true). */
  schemeInKey?: boolean;
  /** Who may forward-proxy and PURGE, the ports CONNECT may reach, internal networks opened to proxying. */
  acl: { forward: string[]; purge: string[]; connectPorts: number[]; allowDestinations?: string[] };
  /** Larger responses are streamed but not stored. */
  maxObjectBytes: number;
  /** Heuristic freshness percentage of (Date − Last-Modified). */
  heuristicPercent: number;
  /** Cap of heuristic freshness, seconds. */
  heuristicMaxS: number;
  /** Staleness (s) up to which a stored response stands in for an origin failure without `stale-if-error`; default 0. */
  staleIfErrorS?: number;
  /** Heuristic freshness by URL, first match wins (Squid's refresh_pattern); default none. */
  refreshPatterns?: readonly RefreshPattern[];
  /** Targeted cache-control fields obeyed, first listed wins (RFC 9213); default `["CDN-Cache-Control"]`. */
  targetedCacheControl?: readonly string[];
  /** Memory for stored partial responses (206 parts); 0 or absent: not stored. */
  partial?: { maxBytes: number };
  /** Request collapsing and how long followers wait. */
  collapse: { enabled: boolean; waitMs: number };
  /** Origin connect timeout (also for CONNECT targets). */
  origin: { connectTimeoutMs: number };
  /** Client forwarding fields kept (see `forwarded_headers.ts`); default none. */
  trustForwardedHeaders?: readonly string[];
}

/** What the access log and counters record about one request. */
export interface Outcome {
  /** Squid result code (`TCP_MISS`, `TCP_MEM_HIT`, ...). */
  code: string;
  /** The `webcache_cache_requests_total` result label. */
  result: CacheResult;
  /** Status sent to the client. */
  status: number;
  /** The URL as logged (the cache key once known). */
  url: string;
  /** Squid hierarchy code (`HIER_DIRECT`, `SIBLING_HIT`, ...). */
  hierarchy: string;
  /** The peer or origin host that answered, or `-`. */
  peer: string;
  /** Content-Type of the response, or `-`. */
  type: string;
}

/** One request in progress on the slow path. */
export interface Exchange {
  /** The client's request. */
  req: ServerRequest;
  /** Where its response goes. */
  res: ServerResponse;
  /** What the access log will record. */
  out: Outcome;
}

/** The handler's settings and collaborators, shared by every stage. */
export interface CacheContext {
  /** Node name for Via and X-Cache. */
  node: string;
  /** `MISS from <node>`, the X-Cache of relayed and error responses. */
  xMiss: string;
  /** Where objects are stored. */
  store: Store;
  /** The `cache` settings. */
  config: CacheHandlerConfig;
  /** The fetch stage (origin or peer, collapsing, storing). */
  fetch: FetchStage;
  /** Deletes keys everywhere (every worker's store, the shared index). */
  invalidate: Invalidator;
  /** Objects held by other workers, copied on demand. */
  lazyCopy?: LazyCopy;
  /** Stored partial responses (RFC 9111 §3.3); none when `config.partial.maxBytes` is 0. */
  partials?: PartialStore;
  /** Squid access log. */
  accessLog?: AccessLog;
  /** Which client forwarding fields go upstream and key the answer. */
  forwarded: ForwardedHeaders;
  /** Where forward/transparent requests and CONNECT may go. */
  destinations: DestinationGuard;
}

/** The settings {@link freshOpts} reads. */
export type FreshnessConfig = Pick<
  CacheHandlerConfig,
  "heuristicPercent" | "heuristicMaxS" | "refreshPatterns" | "targetedCacheControl"
>;

/** Compiled refresh rules per config object (configs are frozen and live as long as the handler). */
const RULES = new WeakMap<FreshnessConfig, RefreshRules>();

/**
 * The freshness options of RFC 9111 evaluation in a shared cache for one URL: the heuristic of
 * its refresh rule (`cache.refreshPatterns`, else `heuristicPercent`/`heuristicMaxS`) and the
 * targeted cache-control fields (RFC 9213).
 *
 * @param cfg the heuristic and targeted-field settings
 * @param primary the cache key (normalised URL) of the object
 * @returns options for `evaluateFreshness`, `expiresAtMs`, `staleIfErrorAllowed` and `isStorable`
 */
export function freshOpts(
  cfg: FreshnessConfig,
  primary: string,
): { shared: true; targetedFields: readonly string[] } & HeuristicParams {
  let rules = RULES.get(cfg);
  if (rules === undefined) {
    rules = new RefreshRules(cfg.refreshPatterns ?? [], {
      heuristicPercent: cfg.heuristicPercent,
      heuristicMinS: 0,
      heuristicMaxS: cfg.heuristicMaxS,
    });
    RULES.set(cfg, rules);
  }
  return {
    shared: true,
    targetedFields: cfg.targetedCacheControl ?? DEFAULT_TARGETED_FIELDS,
    ...rules.forUrl(primary),
  };
}

/**
 * The options of `staleIfErrorAllowed`: the freshness options plus the configured default window.
 *
 * @param cfg the heuristic settings and `staleIfErrorS`
 * @param primary the cache key (normalised URL) of the object
 * @returns options for `staleIfErrorAllowed`
 */
export function staleIfErrorOpts(
  cfg: FreshnessConfig & Pick<CacheHandlerConfig, "staleIfErrorS">,
  primary: string,
): ReturnType<typeof freshOpts> & { defaultStaleIfErrorS: number } {
  return { ...freshOpts(cfg, primary), defaultStaleIfErrorS: cfg.staleIfErrorS ?? 0 };
}
