/**
 * GDSF, Greedy-Dual-Size with Frequency (Cherkasova 1998; Squid's `heap GDSF`).
 *
 * priority = L + frequency × cost / size, with cost = 1 (so it favours small popular objects and
 * maximises the object hit ratio). L is the priority of the last evicted object, so priorities
 * of objects not hit for a long time fall behind newly inserted ones ("dynamic aging"). O(log n).
 *
 * @module
 */
import { HeapPolicy } from "./_heap_policy.ts";

/**
 * The GDSF policy.
 *
 * @example
 * ```ts
 * const p = new GdsfPolicy<string>();
 * p.insert("big", 1000); p.insert("small", 10);
 * p.evict(); // "big": 1/1000 < 1/10
 * ```
 */
export class GdsfPolicy<K> extends HeapPolicy<K> {
  /** Policy name as in `cache.store.policy`. */
  readonly name = "gdsf";
  /** frequency × cost / size, cost 1; a zero size counts as one byte. */
  protected weight(freq: number, bytes: number): number {
    return freq / Math.max(1, bytes);
  }
}
