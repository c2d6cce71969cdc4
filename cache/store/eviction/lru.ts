/**
 * Least-recently-used eviction. A JavaScript `Map` iterates in insertion order, so deleting and
 * re-setting a key on every hit keeps the least recently used key first: O(1) per operation
 * without a hand-written list.
 *
 * @module
 */
import type { EvictionPolicy } from "../store.ts";

/**
 * The LRU policy. Re-inserting a key that is present updates its size and counts as a hit.
 *
 * @example
 * ```ts
 * const p = new LruPolicy<string>();
 * p.insert("a", 1); p.insert("b", 1); p.touch("a");
 * p.evict(); // "b"
 * ```
 */
export class LruPolicy<K> implements EvictionPolicy<K> {
  /** Policy name as in `cache.store.policy`. */
  readonly name = "lru";
  #order = new Map<K, number>();
  #bytes = 0;

  /** Number of keys tracked. */
  get size(): number {
    return this.#order.size;
  }

  /** Sum of the sizes of the keys tracked. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Adds `key` as the most recently used. */
  insert(key: K, bytes: number): void {
    const old = this.#order.get(key);
    if (old !== undefined) {
      this.#bytes -= old;
      this.#order.delete(key);
    }
    this.#order.set(key, bytes);
    this.#bytes += bytes;
  }

  /** Makes `key` the most recently used; unknown keys are ignored. */
  touch(key: K): void {
    const bytes = this.#order.get(key);
    if (bytes === undefined) return;
    this.#order.delete(key);
    this.#order.set(key, bytes);
  }

  /** Forgets `key`; unknown keys are ignored. */
  remove(key: K): void {
    const bytes = this.#order.get(key);
    if (bytes === undefined) return;
    this.#order.delete(key);
    this.#bytes -= bytes;
  }

  /** Forgets and returns the least recently used key. */
  evict(): K | undefined {
    for (const [key, bytes] of this.#order) {
      this.#order.delete(key);
      this.#bytes -= bytes;
      return key;
    }
    return undefined;
  }
}
