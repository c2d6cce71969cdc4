/**
 * Updates waiting to be piggybacked on outgoing packets (memberlist's `TransmitLimitedQueue`).
 *
 * Each update is keyed by the node it is about, so a newer update about a node replaces the older
 * one. Each is sent at most `retransmitMult × ceil(log10(n + 1))` times; the least-sent go first,
 * the newest first among equals. This gives epidemic spread to the whole cluster with high
 * probability while bounding the bytes each update costs.
 *
 * @module
 */
import type { Message } from "./codec.ts";

interface Item {
  key: string;
  msg: Message;
  size: number;
  transmits: number;
  id: number;
}

/** Retransmit limit for a cluster of `n` members: `mult × ceil(log10(n + 1))`. */
export function retransmitLimit(mult: number, n: number): number {
  return mult * Math.ceil(Math.log10(n + 1));
}

/** A queue of updates with a transmit limit. */
export class BroadcastQueue {
  readonly #mult: number;
  readonly #numNodes: () => number;
  readonly #items = new Map<string, Item>();
  #nextId = 0;

  /**
   * @param retransmitMult the multiplier (memberlist's RetransmitMult, lambda)
   * @param numNodes current cluster size, read each time the limit is needed
   */
  constructor(retransmitMult: number, numNodes: () => number) {
    this.#mult = retransmitMult;
    this.#numNodes = numNodes;
  }

  /** Updates waiting. */
  get length(): number {
    return this.#items.size;
  }

  /**
   * Queues an update about `key` (a node id), replacing any older one about the same node.
   *
   * @param size encoded size in bytes, used to fill packets
   */
  queue(key: string, msg: Message, size: number): void {
    this.#items.set(key, { key, msg, size, transmits: 0, id: this.#nextId++ });
  }

  /** Whether an update about `key` is still waiting. */
  has(key: string): boolean {
    return this.#items.has(key);
  }

  /**
   * Takes updates that fit in `limit` bytes, counting one transmission for each and dropping those
   * that reached the limit.
   *
   * @param overhead bytes each message costs on top of its size (length prefix)
   * @param limit bytes available
   */
  take(overhead: number, limit: number): Message[] {
    if (this.#items.size === 0) return [];
    const max = retransmitLimit(this.#mult, this.#numNodes());
    const sorted = [...this.#items.values()].sort((a, b) => a.transmits - b.transmits || b.id - a.id);
    const out: Message[] = [];
    let used = 0;
    for (const it of sorted) {
      if (out.length >= 250) break;
      if (used + overhead + it.size > limit) continue;
      used += overhead + it.size;
      out.push(it.msg);
      it.transmits++;
      if (it.transmits >= max) this.#items.delete(it.key);
    }
    return out;
  }

  /** Drops everything. */
  reset(): void {
    this.#items.clear();
  }
}
