/**
 * Shared machinery of Squid's heap policies with dynamic aging (GDSF and LFUDA): a min-heap of
 * keys by priority, a reference count per key, and the inflation value L, which becomes the
 * priority of each evicted key so that long-unused popular objects eventually age out.
 *
 * @module
 */
import type { EvictionPolicy } from "../store.ts";
import { type HeapEntry, IndexedHeap } from "./_indexed_heap.ts";

interface Entry<K> extends HeapEntry<K> {
  bytes: number;
  freq: number;
}

/** A heap policy whose priority is `L + weight(freq, bytes)`. */
export abstract class HeapPolicy<K> implements EvictionPolicy<K> {
  /** Policy name as in `cache.store.policy`. */
  abstract readonly name: string;
  #heap = new IndexedHeap<K>();
  #entries = new Map<K, Entry<K>>();
  #age = 0;
  #seq = 0;
  #bytes = 0;

  /** The part of the priority added to the inflation value L. */
  protected abstract weight(freq: number, bytes: number): number;

  /** Number of keys tracked. */
  get size(): number {
    return this.#entries.size;
  }

  /** Sum of the sizes of the keys tracked. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The inflation value L: the priority of the last evicted key (0 at first). */
  get age(): number {
    return this.#age;
  }

  /** Current priority of `key`, or `undefined` (for tests and `/status`). */
  priorityOf(key: K): number | undefined {
    return this.#entries.get(key)?.prio;
  }

  /** Adds `key` with reference count 1; an existing key gets its new size and a hit. */
  insert(key: K, bytes: number): void {
    const old = this.#entries.get(key);
    if (old) {
      this.#bytes += bytes - old.bytes;
      old.bytes = bytes;
      this.touch(key);
      return;
    }
    const e: Entry<K> = { key, bytes, freq: 1, prio: 0, seq: this.#seq++, pos: -1 };
    e.prio = this.#age + this.weight(e.freq, e.bytes);
    this.#entries.set(key, e);
    this.#heap.push(e);
    this.#bytes += bytes;
  }

  /** Increments the reference count of `key` and recomputes its priority from the current L. */
  touch(key: K): void {
    const e = this.#entries.get(key);
    if (!e) return;
    e.freq++;
    e.prio = this.#age + this.weight(e.freq, e.bytes);
    e.seq = this.#seq++;
    this.#heap.update(e);
  }

  /** Forgets `key`; unknown keys are ignored. */
  remove(key: K): void {
    const e = this.#entries.get(key);
    if (!e) return;
    this.#heap.remove(e);
    this.#entries.delete(key);
    this.#bytes -= e.bytes;
  }

  /** Forgets and returns the key of least priority (oldest on ties); L becomes its priority. */
  evict(): K | undefined {
    const e = this.#heap.pop() as Entry<K> | undefined;
    if (!e) return undefined;
    this.#age = e.prio;
    this.#entries.delete(e.key);
    this.#bytes -= e.bytes;
    return e.key;
  }
}
