/**
 * A minimal LRU {@link EvictionPolicy} on a `Map`'s insertion order. Used by the memory store until
 * the shared policies of `cache/store/eviction/` are merged.
 *
 * @module
 */
import type { EvictionPolicy } from "./store.ts";

/** Least-recently-used eviction: O(1) insert, touch, remove and evict. */
export class LruPolicy<K> implements EvictionPolicy<K> {
  readonly name = "lru";
  readonly #keys = new Map<K, number>();

  /** Number of keys tracked. */
  get size(): number {
    return this.#keys.size;
  }

  /** Adds or re-adds a key as most recently used. */
  insert(key: K, bytes: number): void {
    this.#keys.delete(key);
    this.#keys.set(key, bytes);
  }

  /** Marks a key most recently used. */
  touch(key: K): void {
    const b = this.#keys.get(key);
    if (b === undefined) return;
    this.#keys.delete(key);
    this.#keys.set(key, b);
  }

  /** Forgets a key. */
  remove(key: K): void {
    this.#keys.delete(key);
  }

  /** Removes and returns the least recently used key. */
  evict(): K | undefined {
    for (const k of this.#keys.keys()) {
      this.#keys.delete(k);
      return k;
    }
    return undefined;
  }
}
