/**
 * Freshness lifetime of a response (RFC 9111 §4.2.1, §4.2.2).
 *
 * ```
 * shared cache and s-maxage present  → s-maxage
 * else max-age present               → max-age
 * else Expires present               → Expires − Date      (invalid Expires → 0: already expired)
 * else heuristic allowed, Last-Modified → clamp(percent × (Date − Last-Modified), heuristicMinS, heuristicMaxS)
 * else heuristic allowed             → min(heuristicMinS, heuristicMaxS)   (0 by default: not fresh)
 * else                               → 0
 * ```
 *
 * The heuristic parameters are Squid's `refresh_pattern` min, percent and max (see
 * `refresh_rules.ts` for choosing them by URL); the max bound wins over the min one. With a
 * targeted cache-control field in use (RFC 9213, `targetedFields`), its directives replace
 * `Cache-Control` and `Expires` is ignored.
 *
 * `Date` defaults to the response time when absent or invalid (RFC 9110 §6.6.1: a recipient
 * with a clock records the receipt time as the date).
 *
 * @module
 */

import type { CacheControl } from "./cache_control.ts";
import { getHeader, type HeaderInput } from "./header_getter.ts";
import { parseHttpDate } from "./http_date.ts";
import { responseCacheControl } from "./targeted_cache_control.ts";

/**
 * Status codes that are heuristically cacheable by default (RFC 9110 §15.1). A stored 206 part
 * counts as an incomplete 200 (RFC 9111 §3.3).
 */
export const HEURISTICALLY_CACHEABLE_STATUSES: ReadonlySet<number> = new Set([
  200,
  203,
  204,
  206,
  300,
  301,
  308,
  404,
  405,
  410,
  414,
  501,
]);

/** Defaults of {@link FreshnessOptions}, matching Squid's `refresh_pattern . 0 10% 1440`-like behaviour. */
export const DEFAULT_HEURISTIC_PERCENT = 10;
/** Default cap of a heuristic lifetime: one day, in seconds (RFC 9111 §4.2.2 suggests a bound). */
export const DEFAULT_HEURISTIC_MAX_S = 86_400;

/** Options of {@link freshnessLifetimeMs}. */
export interface FreshnessOptions {
  /** True for a shared cache (honours `s-maxage`). */
  shared: boolean;
  /** Heuristic lifetime as a percentage of (Date − Last-Modified); default 10. 0 (with `heuristicMinS` 0) disables heuristics. */
  heuristicPercent?: number;
  /** Upper bound of a heuristic lifetime in seconds; default 86400. */
  heuristicMaxS?: number;
  /** Lower bound of a heuristic lifetime in seconds, also used without `Last-Modified`; default 0. */
  heuristicMinS?: number;
  /** Targeted cache-control fields of this cache in precedence order (RFC 9213); default none. */
  targetedFields?: readonly string[];
  /** When the response arrived (ms since epoch); stands in for a missing `Date`. */
  responseTime: number;
  /** Response status; heuristics apply only to heuristically cacheable statuses or `public`. Default 200. */
  status?: number;
  /** Statuses for which heuristics apply; default {@link HEURISTICALLY_CACHEABLE_STATUSES}. */
  heuristicStatuses?: ReadonlySet<number>;
  /**
   * Already selected response directives (from `responseCacheControl`), to avoid parsing twice
   * on hot paths; `useExpires` false when they came from a targeted field.
   */
  cacheControl?: { cc: CacheControl; useExpires: boolean };
}

/** Result of {@link freshnessLifetimeMs}. */
export interface FreshnessLifetime {
  /** Freshness lifetime in milliseconds (≥ 0). */
  lifetimeMs: number;
  /** True when the lifetime comes from the heuristic of RFC 9111 §4.2.2. */
  heuristic: boolean;
  /** Where the lifetime came from. */
  source: "s-maxage" | "max-age" | "expires" | "heuristic" | "none";
}

/**
 * Computes a response's freshness lifetime (RFC 9111 §4.2.1, heuristics §4.2.2).
 *
 * @param headers the response header fields
 * @param opts shared/private cache, heuristic parameters, response time and status
 * @returns the lifetime in ms, whether it is heuristic, and its source
 * @example
 * ```ts
 * freshnessLifetimeMs([["cache-control", "max-age=60"]], { shared: true, responseTime: 0 }).lifetimeMs; // 60000
 * ```
 */
export function freshnessLifetimeMs(headers: HeaderInput, opts: FreshnessOptions): FreshnessLifetime {
  const { cc, useExpires } = opts.cacheControl ?? responseCacheControl(headers, opts.targetedFields);
  if (opts.shared && cc.sMaxAge !== undefined) {
    return { lifetimeMs: cc.sMaxAge * 1000, heuristic: false, source: "s-maxage" };
  }
  if (cc.maxAge !== undefined) return { lifetimeMs: cc.maxAge * 1000, heuristic: false, source: "max-age" };
  const expires = useExpires ? getHeader(headers, "expires") : null;
  if (expires !== null) {
    const expiresMs = parseHttpDate(expires);
    if (expiresMs === undefined) return { lifetimeMs: 0, heuristic: false, source: "expires" };
    const date = parseHttpDate(getHeader(headers, "date")) ?? opts.responseTime;
    return { lifetimeMs: Math.max(0, expiresMs - date), heuristic: false, source: "expires" };
  }
  const percent = opts.heuristicPercent ?? DEFAULT_HEURISTIC_PERCENT;
  const minMs = (opts.heuristicMinS ?? 0) * 1000;
  const statuses = opts.heuristicStatuses ?? HEURISTICALLY_CACHEABLE_STATUSES;
  if ((percent > 0 || minMs > 0) && (statuses.has(opts.status ?? 200) || cc.public)) {
    const maxMs = (opts.heuristicMaxS ?? DEFAULT_HEURISTIC_MAX_S) * 1000;
    const lastModified = parseHttpDate(getHeader(headers, "last-modified"));
    let ms = minMs;
    if (lastModified !== undefined) {
      const date = parseHttpDate(getHeader(headers, "date")) ?? opts.responseTime;
      ms = Math.max(minMs, Math.floor(Math.max(0, date - lastModified) * percent / 100));
    }
    if (lastModified !== undefined || ms > 0) {
      return { lifetimeMs: Math.min(ms, maxMs), heuristic: true, source: "heuristic" };
    }
  }
  return { lifetimeMs: 0, heuristic: false, source: "none" };
}
