/**
 * Eviction policies shared by the memory and disk tiers: SIEVE (default), LRU, GDSF and LFUDA,
 * each implementing {@link EvictionPolicy} as pure in-memory bookkeeping (no I/O, O(1) or
 * O(log n) per operation). Pick one by name with {@link createPolicy}.
 *
 * @module
 */
import type { EvictionPolicy } from "../store.ts";
import { GdsfPolicy } from "./gdsf.ts";
import { LfudaPolicy } from "./lfuda.ts";
import { LruPolicy } from "./lru.ts";
import { SievePolicy } from "./sieve.ts";

export { GdsfPolicy } from "./gdsf.ts";
export { LfudaPolicy } from "./lfuda.ts";
export { LruPolicy } from "./lru.ts";
export { SievePolicy } from "./sieve.ts";

/** Names accepted by {@link createPolicy}, as in `cache.store.policy`. */
export const POLICY_NAMES = ["sieve", "lru", "gdsf", "lfuda"] as const;
/** A policy name. */
export type PolicyName = typeof POLICY_NAMES[number];

/** An eviction policy that also reports the bytes it tracks. */
export type SizedEvictionPolicy<K> = EvictionPolicy<K> & { readonly bytes: number };

/**
 * Creates an empty policy by name.
 *
 * @param name `sieve`, `lru`, `gdsf` or `lfuda`
 * @returns a new policy
 * @throws {RangeError} when the name is unknown
 * @example
 * ```ts
 * const policy = createPolicy<string>(cfg.cache.store.policy);
 * ```
 */
export function createPolicy<K>(name: string): SizedEvictionPolicy<K> {
  switch (name) {
    case "sieve":
      return new SievePolicy<K>();
    case "lru":
      return new LruPolicy<K>();
    case "gdsf":
      return new GdsfPolicy<K>();
    case "lfuda":
      return new LfudaPolicy<K>();
    default:
      throw new RangeError(`Cannot create eviction policy: "${name}" is not one of ${POLICY_NAMES.join(", ")}`);
  }
}
