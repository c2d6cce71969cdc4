/**
 * When a stored response becomes stale, as an absolute time (for `StoredMeta.expiresAt`).
 *
 * ```
 * expiresAt = response_time − corrected_initial_age + freshness_lifetime
 * ```
 *
 * i.e. the moment `current_age` (RFC 9111 §4.2.3) reaches the freshness lifetime (§4.2.1).
 *
 * @module
 */

import { correctedInitialAgeMs } from "./current_age.ts";
import type { CachedResponse } from "./evaluate_freshness.ts";
import { freshnessLifetimeMs } from "./freshness_lifetime.ts";

/** Options of {@link expiresAtMs}. */
export interface ExpiresAtOptions {
  /** True for a shared cache. */
  shared: boolean;
  /** Heuristic lifetime percentage; default 10. */
  heuristicPercent?: number;
  /** Cap of heuristic lifetimes in seconds; default 86400. */
  heuristicMaxS?: number;
  /** Floor of heuristic lifetimes in seconds; default 0. */
  heuristicMinS?: number;
  /** Statuses heuristics apply to. */
  heuristicStatuses?: ReadonlySet<number>;
  /** Targeted cache-control fields in precedence order (RFC 9213); default none. */
  targetedFields?: readonly string[];
  /**
   * The response's corrected initial age in ms when the caller computed it already
   * (`correctedInitialAgeMs(meta)`): saves parsing its Date and Age fields again.
   */
  initialAgeMs?: number;
}

/**
 * Computes the absolute expiry time of a stored response.
 *
 * @param meta status, headers, request and response times
 * @param opts shared cache and heuristic parameters
 * @returns ms since epoch at which the response turns stale (≤ `responseTime` when stale on arrival)
 * @example
 * ```ts
 * expiresAtMs({ status: 200, headers: [["cache-control", "max-age=60"]], requestTime: 0, responseTime: 1000 },
 *   { shared: true }); // 60000 (the 1 s response delay counts as age)
 * ```
 */
export function expiresAtMs(meta: CachedResponse, opts: ExpiresAtOptions): number {
  const life = freshnessLifetimeMs(meta.headers, {
    shared: opts.shared,
    heuristicPercent: opts.heuristicPercent,
    heuristicMaxS: opts.heuristicMaxS,
    heuristicMinS: opts.heuristicMinS,
    heuristicStatuses: opts.heuristicStatuses,
    targetedFields: opts.targetedFields,
    responseTime: meta.responseTime,
    status: meta.status,
  });
  return meta.responseTime - (opts.initialAgeMs ?? correctedInitialAgeMs(meta)) + life.lifetimeMs;
}
