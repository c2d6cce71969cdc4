/**
 * Deciding whether a stored response may answer a request (RFC 9111 §4, §4.2.4, §5.2; RFC 5861).
 *
 * Decision order for a request that found a stored response whose `Vary` matched:
 *
 * 1. response `no-cache` (unqualified)                   → revalidate
 * 2. request `no-cache` (or `Pragma: no-cache` without `Cache-Control`, RFC 9111 §5.4) → revalidate
 * 3. request `max-age=N` and age > N                     → revalidate
 * 4. request `min-fresh=N` and lifetime − age < N        → revalidate
 * 5. fresh (lifetime > age)                              → serve
 * 6. stale, and serving stale is not prohibited by `must-revalidate`, or in a shared cache by
 *    `proxy-revalidate` or `s-maxage` (RFC 9111 §4.2.4, §5.2.2.2, §5.2.2.8, §5.2.2.10):
 *    a. request `max-stale[=N]` covers the staleness     → serve-stale
 *    b. response `stale-while-revalidate=N` covers it    → serve-stale-revalidate (RFC 5861 §3),
 *       unless the request set its own limit with `max-stale=N` (and 6a did not apply): a client
 *       that accepts "no more than N seconds stale" is not given more
 * 7. otherwise                                           → revalidate
 *
 * Whenever the outcome is "revalidate" and the request says `only-if-cached`, the action is
 * `miss-only-if-cached`: the caller answers 504 (RFC 9111 §5.2.1.7), as it does when nothing is
 * stored at all.
 *
 * The response's directives are those of its first usable targeted field when the options list
 * any (RFC 9213, e.g. `CDN-Cache-Control`), else its `Cache-Control`; request directives always
 * come from the request's `Cache-Control`.
 *
 * A request `no-store` does not prevent answering from cache (RFC 9111 §5.2.1.5 only forbids
 * storing); {@link isStorable} handles it.
 *
 * @module
 */

import { type CacheControl, parseCacheControl } from "./cache_control.ts";
import { correctedInitialAgeMs } from "./current_age.ts";
import { freshnessLifetimeMs } from "./freshness_lifetime.ts";
import { getHeader, type HeaderInput } from "./header_getter.ts";
import { responseCacheControl } from "./targeted_cache_control.ts";

/** What the cache should do with a stored response for this request. */
export type FreshnessAction =
  /** Fresh enough: answer from cache. */
  | "serve"
  /** Stale, but the client accepts it (`max-stale`): answer from cache. */
  | "serve-stale"
  /** Stale within `stale-while-revalidate`: answer from cache and refresh in the background. */
  | "serve-stale-revalidate"
  /** Send a conditional request to the origin (see `conditionalHeadersFor`). */
  | "revalidate"
  /** Would need the origin but the request says `only-if-cached`: answer 504. */
  | "miss-only-if-cached";

/** A stored response as the freshness rules see it (a `StoredMeta` fits). */
export interface CachedResponse {
  /** Response status. */
  status: number;
  /** Stored response header fields. */
  headers: HeaderInput;
  /** When the request that fetched it was sent, ms since epoch. */
  requestTime: number;
  /** When the response arrived, ms since epoch. */
  responseTime: number;
}

/** Options of {@link evaluateFreshness}. */
export interface EvaluateOptions {
  /** True for a shared cache (this appliance: always true). */
  shared: boolean;
  /** Heuristic lifetime percentage of (Date − Last-Modified); default 10. */
  heuristicPercent?: number;
  /** Cap of heuristic lifetimes in seconds; default 86400. */
  heuristicMaxS?: number;
  /** Floor of heuristic lifetimes in seconds (Squid's refresh_pattern min); default 0. */
  heuristicMinS?: number;
  /** Statuses heuristics apply to; default `HEURISTICALLY_CACHEABLE_STATUSES`. */
  heuristicStatuses?: ReadonlySet<number>;
  /** Targeted cache-control fields in precedence order (RFC 9213); default none. */
  targetedFields?: readonly string[];
  /**
   * Ignore request `no-cache`/`Pragma: no-cache`/`max-age=0`-style reloads (Squid's
   * `ignore-reload`, Varnish's default). Violates RFC 9111 §5.2.1; default false.
   */
  ignoreRequestNoCache?: boolean;
}

/** Result of {@link evaluateFreshness}. */
export interface FreshnessDecision {
  /** What to do (see {@link FreshnessAction}). */
  action: FreshnessAction;
  /** Current age of the stored response (RFC 9111 §4.2.3), ms. */
  ageMs: number;
  /** Its freshness lifetime, ms. */
  freshnessMs: number;
  /** How long it has been stale: `max(0, age − lifetime)`, ms (0 while fresh). */
  staleMs: number;
  /** True when the lifetime is heuristic (RFC 9111 §4.2.2). */
  heuristic: boolean;
  /** Short machine-friendly reason, e.g. `fresh`, `request-no-cache`, `must-revalidate`. */
  reason: string;
}

/**
 * True when the response forbids serving it stale: `must-revalidate`, or in a shared cache
 * `proxy-revalidate` or `s-maxage` (which implies proxy-revalidate, RFC 9111 §5.2.2.10).
 */
export function staleProhibited(cc: CacheControl, shared: boolean): boolean {
  return cc.mustRevalidate || (shared && (cc.proxyRevalidate || cc.sMaxAge !== undefined));
}

/**
 * Tells whether a request carries a no-cache directive (RFC 9111 §5.2.1.4), counting
 * `Pragma: no-cache` only when the request has no `Cache-Control` (§5.4).
 *
 * @param reqHeaders request header fields
 * @param reqCc the request's parsed `Cache-Control`, if already parsed
 */
export function requestNoCache(reqHeaders: HeaderInput, reqCc?: CacheControl): boolean {
  const ccValue = getHeader(reqHeaders, "cache-control");
  if (ccValue !== null) return (reqCc ?? parseCacheControl(ccValue)).noCache;
  const pragma = getHeader(reqHeaders, "pragma");
  return pragma !== null && /(?:^|,)\s*no-cache\s*(?:,|$)/i.test(pragma);
}

/**
 * Decides how a stored response may be used for a request (see the module doc for the order).
 *
 * @param reqHeaders the client's request header fields
 * @param meta the stored response (status, headers, request and response times)
 * @param now current time, ms since epoch
 * @param opts shared cache and heuristic parameters
 * @returns the action with age, lifetime, staleness and a reason
 * @example
 * ```ts
 * const meta = { status: 200, headers: [["cache-control", "max-age=60"]], requestTime: 0, responseTime: 0 };
 * evaluateFreshness([], meta, 30_000, { shared: true }).action; // "serve"
 * ```
 */
export function evaluateFreshness(
  reqHeaders: HeaderInput,
  meta: CachedResponse,
  now: number,
  opts: EvaluateOptions,
): FreshnessDecision {
  const policy = responseCacheControl(meta.headers, opts.targetedFields);
  const resCc = policy.cc;
  const reqCcValue = getHeader(reqHeaders, "cache-control");
  const reqCc = parseCacheControl(reqCcValue);
  const life = freshnessLifetimeMs(meta.headers, {
    shared: opts.shared,
    heuristicPercent: opts.heuristicPercent,
    heuristicMaxS: opts.heuristicMaxS,
    heuristicMinS: opts.heuristicMinS,
    heuristicStatuses: opts.heuristicStatuses,
    responseTime: meta.responseTime,
    status: meta.status,
    cacheControl: policy,
  });
  const ageMs = correctedInitialAgeMs(meta) + Math.max(0, now - meta.responseTime);
  const freshnessMs = life.lifetimeMs;
  const staleMs = Math.max(0, ageMs - freshnessMs);
  const fresh = freshnessMs > ageMs;
  const honourReload = !opts.ignoreRequestNoCache;

  let action: FreshnessAction = "revalidate";
  let reason: string;
  if (resCc.noCache && resCc.noCacheFields === undefined) {
    reason = "response-no-cache";
  } else if (honourReload && (reqCcValue === null ? requestNoCache(reqHeaders) : reqCc.noCache)) {
    reason = "request-no-cache";
  } else if (honourReload && reqCc.maxAge !== undefined && ageMs > reqCc.maxAge * 1000) {
    reason = "request-max-age";
  } else if (reqCc.minFresh !== undefined && freshnessMs - ageMs < reqCc.minFresh * 1000) {
    reason = "request-min-fresh";
  } else if (fresh) {
    action = "serve";
    reason = "fresh";
  } else if (staleProhibited(resCc, opts.shared)) {
    reason = resCc.mustRevalidate ? "must-revalidate" : resCc.proxyRevalidate ? "proxy-revalidate" : "s-maxage";
  } else if (reqCc.maxStale !== undefined && staleMs <= reqCc.maxStale * 1000) {
    action = "serve-stale";
    reason = "request-max-stale";
  } else if (
    reqCc.maxStale === undefined && resCc.staleWhileRevalidate !== undefined &&
    staleMs <= resCc.staleWhileRevalidate * 1000
  ) {
    action = "serve-stale-revalidate";
    reason = "stale-while-revalidate";
  } else {
    reason = "stale";
  }
  if (action === "revalidate" && reqCc.onlyIfCached) action = "miss-only-if-cached";
  return { action, ageMs, freshnessMs, staleMs, heuristic: life.heuristic, reason };
}

/** Options of {@link staleIfErrorAllowed}. */
export interface StaleIfErrorOptions {
  /** True for a shared cache. */
  shared: boolean;
  /** Heuristic parameters, as for {@link evaluateFreshness}. */
  heuristicPercent?: number;
  /** Cap of heuristic lifetimes in seconds. */
  heuristicMaxS?: number;
  /** Floor of heuristic lifetimes in seconds. */
  heuristicMinS?: number;
  /** Targeted cache-control fields in precedence order (RFC 9213); default none. */
  targetedFields?: readonly string[];
  /**
   * Staleness in seconds up to which a stale response may stand in for an origin error even
   * without `stale-if-error` (Squid's `max_stale`, RFC 9111 §4.2.4 "disconnected"); default 0.
   */
  defaultStaleIfErrorS?: number;
}

/**
 * Tells whether a stored response may be served because the origin failed (connection error,
 * timeout, or a 500, 502, 503 or 504 answer; RFC 5861 §4).
 *
 * The window is the request's `stale-if-error=N` when present (the client's limit), else the
 * response's, else `opts.defaultStaleIfErrorS`. Response `no-cache`, `must-revalidate`, and in a
 * shared cache `proxy-revalidate`/`s-maxage` forbid it: RFC 9111 §4.2.4 says a cache MUST NOT
 * generate a stale response when an in-protocol directive prohibits it, and when directives
 * conflict the most restrictive one wins (§4.2.1).
 *
 * @param reqHeaders the client's request header fields
 * @param meta the stored response
 * @param now current time, ms since epoch
 * @param opts shared cache, heuristic parameters and the default window
 * @returns true when the stale (or still fresh) stored response may be served instead of an error
 */
export function staleIfErrorAllowed(
  reqHeaders: HeaderInput,
  meta: CachedResponse,
  now: number,
  opts: StaleIfErrorOptions = { shared: true },
): boolean {
  const policy = responseCacheControl(meta.headers, opts.targetedFields);
  const resCc = policy.cc;
  if ((resCc.noCache && resCc.noCacheFields === undefined) || staleProhibited(resCc, opts.shared)) return false;
  const reqCc = parseCacheControl(getHeader(reqHeaders, "cache-control"));
  const windowS = reqCc.staleIfError ?? resCc.staleIfError ?? opts.defaultStaleIfErrorS ?? 0;
  const life = freshnessLifetimeMs(meta.headers, {
    shared: opts.shared,
    heuristicPercent: opts.heuristicPercent,
    heuristicMaxS: opts.heuristicMaxS,
    heuristicMinS: opts.heuristicMinS,
    responseTime: meta.responseTime,
    status: meta.status,
    cacheControl: policy,
  });
  const ageMs = correctedInitialAgeMs(meta) + Math.max(0, now - meta.responseTime);
  return ageMs - life.lifetimeMs <= windowS * 1000;
}

/**
 * The `stale-while-revalidate` window of a stored response in ms (RFC 5861 §3): how long after
 * it becomes stale it may still be served while a background revalidation runs. 0 when absent
 * or when serving stale is prohibited (`no-cache`, `must-revalidate`, shared `proxy-revalidate`
 * or `s-maxage`). Useful to keep an object past its expiry in the store.
 *
 * @param headers stored response header fields
 * @param opts `shared`: true for a shared cache; `targetedFields`: as for {@link evaluateFreshness}
 * @returns window length in ms
 */
export function staleWhileRevalidateWindowMs(
  headers: HeaderInput,
  opts: { shared: boolean; targetedFields?: readonly string[] } = { shared: true },
): number {
  const cc = responseCacheControl(headers, opts.targetedFields).cc;
  if ((cc.noCache && cc.noCacheFields === undefined) || staleProhibited(cc, opts.shared)) return 0;
  return (cc.staleWhileRevalidate ?? 0) * 1000;
}
