/**
 * A tiny bounded memo for pure string → value functions on the hit path (parsed `Cache-Control`
 * and `Date` values repeat for every hit on the same object). When full it is cleared, which is
 * cheaper than LRU bookkeeping and fine for the few distinct values a hot set produces.
 *
 * @module
 */

/** Memoises up to `max` results keyed by their input string. */
export class Memo<V> {
  #map = new Map<string, V>();
  #max: number;

  /** @param max number of entries kept before the memo is cleared */
  constructor(max: number) {
    this.#max = max;
  }

  /** Returns the memoised value, or `undefined`. */
  get(key: string): V | undefined {
    return this.#map.get(key);
  }

  /** Stores a value; inputs longer than 1 KiB are not memoised (they would only waste memory). */
  set(key: string, value: V): V {
    if (key.length > 1024) return value;
    if (this.#map.size >= this.#max) this.#map.clear();
    this.#map.set(key, value);
    return value;
  }
}
