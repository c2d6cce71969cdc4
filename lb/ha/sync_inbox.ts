/**
 * The shared-memory channel from the main thread to the data-plane Worker for connection sync. The
 * Worker spins in a synchronous poll loop and never runs `onmessage`, so synced batches cross through
 * a SharedArrayBuffer: a single-producer single-consumer byte ring of length-prefixed messages,
 * plus a few words of requests and counters.
 *
 * ```text
 * Int32 words (offset 0, 8 words):
 *   [0] write position (producer), [1] read position (consumer), both in 0 .. capacity-1
 *   [2] full-table requests made (main), [3] full-table requests served (Worker)
 *   [4] messages dropped because the ring was full (main)
 * Float64 counters (offset 32, COUNTERS words): written by the Worker only, see SYNC_COUNTERS
 * Ring (offset 32 + 8 × COUNTERS, capacity bytes): messages as u32 length (host order) + bytes,
 *   wrapping at the end; one byte always stays free so full and empty differ.
 * ```
 *
 * @module
 */

/** Counter indexes (Worker-written). */
export const SYNC_COUNTERS = {
  batches: 0,
  conns: 1,
  removed: 2,
  templates: 3,
  unknownServer: 4,
  full: 5,
  decodeErrors: 6,
  /** Batches the Worker posted as MASTER (changes and full tables). */
  posted: 7,
  /** Records posted. */
  postedRecords: 8,
} as const;
const COUNTERS = 16;
const HEADER_BYTES = 32;
/** Default ring capacity: 4 MiB, about 200,000 synced entries in flight. */
export const DEFAULT_INBOX_BYTES = 4 << 20;

/** Both threads' view of the sync inbox (see module doc). */
export class SyncInbox {
  /** The shared memory (post it to the Worker). */
  readonly sab: SharedArrayBuffer;
  readonly #w: Int32Array;
  readonly #ring: Uint8Array;
  readonly #cap: number;
  /** Worker-written counters, see {@link SYNC_COUNTERS}. */
  readonly counters: Float64Array;

  /** @param sab an existing inbox (in the Worker), or a capacity in bytes to allocate one (main thread) */
  constructor(sab: SharedArrayBuffer | number = DEFAULT_INBOX_BYTES) {
    this.sab = typeof sab === "number" ? new SharedArrayBuffer(HEADER_BYTES + COUNTERS * 8 + sab) : sab;
    this.#w = new Int32Array(this.sab, 0, 8);
    this.counters = new Float64Array(this.sab, HEADER_BYTES, COUNTERS);
    this.#ring = new Uint8Array(this.sab, HEADER_BYTES + COUNTERS * 8);
    this.#cap = this.#ring.length;
  }

  /** Messages dropped because the ring was full. */
  get dropped(): number {
    return Atomics.load(this.#w, 4);
  }

  /**
   * Queues a message (main thread).
   *
   * @returns false (and counts a drop) when it does not fit now
   */
  push(msg: Uint8Array): boolean {
    const w = Atomics.load(this.#w, 0), r = Atomics.load(this.#w, 1);
    const free = (r - w - 1 + this.#cap) % this.#cap;
    if (msg.length + 4 > free) {
      Atomics.add(this.#w, 4, 1);
      return false;
    }
    const len = new Uint8Array(Uint32Array.of(msg.length).buffer);
    let p = this.#copyIn(w, len);
    p = this.#copyIn(p, msg);
    Atomics.store(this.#w, 0, p);
    return true;
  }

  /** The next message, or undefined when the ring is empty (Worker). */
  pop(): Uint8Array | undefined {
    const w = Atomics.load(this.#w, 0), r = Atomics.load(this.#w, 1);
    if (w === r) return undefined;
    const lenBytes = new Uint8Array(4);
    let p = this.#copyOut(r, lenBytes);
    const out = new Uint8Array(new Uint32Array(lenBytes.buffer)[0]);
    p = this.#copyOut(p, out);
    Atomics.store(this.#w, 1, p);
    return out;
  }

  /** Asks the Worker for its whole table (main thread). */
  requestFull(): void {
    Atomics.add(this.#w, 2, 1);
  }

  /** Takes a pending full-table request, if any (Worker). */
  takeFullRequest(): boolean {
    const asked = Atomics.load(this.#w, 2);
    if (asked === Atomics.load(this.#w, 3)) return false;
    Atomics.store(this.#w, 3, asked);
    return true;
  }

  #copyIn(at: number, src: Uint8Array): number {
    const first = Math.min(src.length, this.#cap - at);
    this.#ring.set(src.subarray(0, first), at);
    if (first < src.length) this.#ring.set(src.subarray(first), 0);
    return (at + src.length) % this.#cap;
  }

  #copyOut(at: number, dst: Uint8Array): number {
    const first = Math.min(dst.length, this.#cap - at);
    dst.set(this.#ring.subarray(at, at + first));
    if (first < dst.length) dst.set(this.#ring.subarray(0, dst.length - first), first);
    return (at + dst.length) % this.#cap;
  }
}
