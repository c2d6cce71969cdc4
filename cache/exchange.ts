/**
 * What the stages of the cache's request path share: the handler's settings and collaborators
 * ({@link CacheContext}), and one request in progress ({@link Exchange}: the client's request,
 * where its response goes, and what the access log will record about it).
 *
 * @module
 */
import type { ServerRequest, ServerResponse } from "../http/server.ts";
import type { AccessLog } from "./access_log.ts";
import type { FetchStage } from "./fetch_stage.ts";
import type { LazyCopy } from "./lazy_copy.ts";
import type { CacheResult } from "./metrics.ts";
import type { Store } from "./store/store.ts";

/** Deletes keys in every worker's stores; returns how many objects went. */
export type Invalidator = (keys: string[]) => Promise<number>;

/** Settings of the cache handler (a subset of the `cache` config section). */
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
  /** Squid access log. */
  accessLog?: AccessLog;
}

/**
 * The freshness options of RFC 9111 evaluation in a shared cache.
 *
 * @param cfg the heuristic settings
 * @returns options for `evaluateFreshness`, `expiresAtMs` and `staleIfErrorAllowed`
 */
export function freshOpts(
  cfg: Pick<CacheHandlerConfig, "heuristicPercent" | "heuristicMaxS">,
): { shared: true; heuristicPercent: number; heuristicMaxS: number } {
  return { shared: true, heuristicPercent: cfg.heuristicPercent, heuristicMaxS: cfg.heuristicMaxS };
}
