/**
 * SIEVE eviction (Zhang et al., "SIEVE is Simpler than LRU", NSDI 2024).
 *
 * One FIFO queue (new keys enter at the head), one "visited" bit per key and a moving hand.
 * A hit only sets the visited bit: no list reordering, so hits are cheap and lock-free in spirit.
 * To evict, the hand walks from where it stopped (the tail at first) towards the head: visited
 * keys get their bit cleared and survive; the first unvisited key is the victim, and the hand
 * stays just past it. At the head the hand wraps to the tail. Every operation is O(1)
 * amortised.
 *
 * ```text
 *   head (newest)                                   tail (oldest)
 *     [e] <-> [d] <-> [c*] <-> [b] <-> [a*]
 *                               ^hand moves this way  <-
 *   (* = visited)
 * ```
 *
 * @module
 */
import type { EvictionPolicy } from "../store.ts";

interface Node<K> {
  key: K;
  bytes: number;
  visited: boolean;
  /** Towards the head (newer). */
  prev: Node<K> | undefined;
  /** Towards the tail (older). */
  next: Node<K> | undefined;
}

/**
 * The SIEVE policy. Re-inserting a key that is present updates its size and counts as a hit.
 *
 * @example
 * ```ts
 * const p = new SievePolicy<string>();
 * p.insert("a", 10); p.insert("b", 10); p.touch("a");
 * p.evict(); // "b": "a" was visited and survives one pass
 * ```
 */
export class SievePolicy<K> implements EvictionPolicy<K> {
  /** Policy name as in `cache.store.policy`. */
  readonly name = "sieve";
  #nodes = new Map<K, Node<K>>();
  #head: Node<K> | undefined;
  #tail: Node<K> | undefined;
  #hand: Node<K> | undefined;
  #bytes = 0;

  /** Number of keys tracked. */
  get size(): number {
    return this.#nodes.size;
  }

  /** Sum of the sizes of the keys tracked. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Adds `key` at the head of the queue, unvisited; an existing key gets its new size and a hit. */
  insert(key: K, bytes: number): void {
    const old = this.#nodes.get(key);
    if (old) {
      this.#bytes += bytes - old.bytes;
      old.bytes = bytes;
      old.visited = true;
      return;
    }
    const node: Node<K> = { key, bytes, visited: false, prev: undefined, next: this.#head };
    if (this.#head) this.#head.prev = node;
    this.#head = node;
    if (!this.#tail) this.#tail = node;
    this.#nodes.set(key, node);
    this.#bytes += bytes;
  }

  /** Marks `key` visited; unknown keys are ignored. */
  touch(key: K): void {
    const node = this.#nodes.get(key);
    if (node) node.visited = true;
  }

  /** Forgets `key`; unknown keys are ignored. */
  remove(key: K): void {
    const node = this.#nodes.get(key);
    if (node) this.#unlink(node);
  }

  /** Runs the hand to the first unvisited key, forgets it and returns it. */
  evict(): K | undefined {
    let node = this.#hand ?? this.#tail;
    if (!node) return undefined;
    while (node.visited) {
      node.visited = false;
      node = node.prev ?? this.#tail!;
    }
    this.#hand = node.prev;
    this.#unlink(node);
    return node.key;
  }

  #unlink(node: Node<K>): void {
    if (this.#hand === node) this.#hand = node.prev;
    if (node.prev) node.prev.next = node.next;
    else this.#head = node.next;
    if (node.next) node.next.prev = node.prev;
    else this.#tail = node.prev;
    node.prev = node.next = undefined;
    this.#nodes.delete(node.key);
    this.#bytes -= node.bytes;
  }
}
