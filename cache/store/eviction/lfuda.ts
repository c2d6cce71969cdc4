/**
 * LFUDA, Least-Frequently-Used with Dynamic Aging (Arlitt et al. 1999; Squid's `heap LFUDA`).
 *
 * priority = L + frequency, where L is the priority of the last evicted object. Size is ignored,
 * so it keeps popular large objects and favours the byte hit ratio. O(log n).
 *
 * @module
 */
import { HeapPolicy } from "./_heap_policy.ts";

/**
 * The LFUDA policy.
 *
 * @example
 * ```ts
 * const p = new LfudaPolicy<string>();
 * p.insert("a", 1); p.insert("b", 1); p.touch("a");
 * p.evict(); // "b" (priority 1 < 2); L becomes 1
 * ```
 */
export class LfudaPolicy<K> extends HeapPolicy<K> {
  /** Policy name as in `cache.store.policy`. */
  readonly name = "lfuda";
  /** The frequency itself. */
  protected weight(freq: number): number {
    return freq;
  }
}
