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
  /** Replaced by a newer update or sent often enough; removed lazily from its bucket. */
  dead: boolean;
}

/** Retransmit limit for a cluster of `n` members: `mult × ceil(log10(n + 1))`. */
export function retransmitLimit(mult: number, n: number): number {
  return mult * Math.ceil(Math.log10(n + 1));
}

/** Smallest encoded message (ack/nack: type + seq). */
const MIN_MESSAGE_BYTES = 5;

/**
 * A queue of updates with a transmit limit. Items sit in buckets by transmit count, newest at the
 * end of each bucket, so taking a packet's worth costs about the number of items taken rather than
 * a sort of the whole queue (which matters with hundreds of members joining at once).
 */
export class BroadcastQueue {
  readonly #mult: number;
  readonly #numNodes: () => number;
  readonly #items = new Map<string, Item>();
  /** `#buckets[t]` holds the items sent `t` times, oldest first. */
  #buckets: Item[][] = [];

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
    const old = this.#items.get(key);
    if (old) old.dead = true;
    const it: Item = { key, msg, size, transmits: 0, dead: false };
    this.#items.set(key, it);
    (this.#buckets[0] ??= []).push(it);
  }

  /** Whether an update about `key` is still waiting. */
  has(key: string): boolean {
    return this.#items.has(key);
  }

  /**
   * Takes updates that fit in `limit` bytes, least-sent first and newest first among equals,
   * counting one transmission for each and dropping those that reached the limit.
   *
   * @param overhead bytes each message costs on top of its size (length prefix)
   * @param limit bytes available
   */
  take(overhead: number, limit: number): Message[] {
    if (this.#items.size === 0) return [];
    const max = retransmitLimit(this.#mult, this.#numNodes());
    const out: Message[] = [];
    const promoted: Item[] = [];
    let used = 0;
    scan: for (let t = 0; t < this.#buckets.length; t++) {
      const b = this.#buckets[t];
      if (!b) continue;
      for (let i = b.length - 1; i >= 0; i--) {
        if (out.length >= 250 || limit - used < overhead + MIN_MESSAGE_BYTES) break scan;
        const it = b[i];
        if (it.dead) {
          b.splice(i, 1);
          continue;
        }
        if (used + overhead + it.size > limit) continue;
        b.splice(i, 1);
        used += overhead + it.size;
        out.push(it.msg);
        it.transmits++;
        if (it.transmits >= max) {
          it.dead = true;
          this.#items.delete(it.key);
        } else promoted.push(it);
      }
    }
    for (const it of promoted.reverse()) (this.#buckets[it.transmits] ??= []).push(it);
    while (this.#buckets.length && !this.#buckets[this.#buckets.length - 1]?.length) this.#buckets.pop();
    return out;
  }

  /** Drops everything. */
  reset(): void {
    this.#items.clear();
    this.#buckets = [];
  }
}
