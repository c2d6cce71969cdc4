/**
 * Read buffers for whole-object reads: bump allocation in 1 MiB slabs, and slabs recycled once
 * every read handed out from them was released. Private to the disk store.
 *
 * Allocating a buffer per hit cost more than the read itself (a new ArrayBuffer is zeroed, its
 * pages faulted in, and it counts as external memory that drives the GC), so consecutive reads
 * share a slab and bodies are views into it. A reader that is done with a body (a hit whose
 * response write completed) releases it; a slab that is full and has no unreleased reads left is
 * kept for reuse instead of being left to the GC. A read that is never released keeps its slab
 * out of the pool forever (the GC frees it with the last view), so a consumer that keeps a body
 * (a memory tier, a slow client) is never affected by later reads.
 *
 * @module
 */

/** One slab: its bytes, the bump pointer, and the reads handed out and not released. */
interface Slab {
  bytes: Uint8Array;
  used: number;
  live: number;
  full: boolean;
}

/** Slabs of `slabBytes`; see the module doc. */
export class SlabPool {
  readonly #slabBytes: number;
  readonly #maxFree: number;
  readonly #free: Slab[] = [];
  #cur: Slab;
  /** Slabs allocated (not recycled) so far, for tests and tools. */
  allocated = 1;

  /**
   * @param slabBytes bytes per slab
   * @param maxFree recycled slabs kept at most
   */
  constructor(slabBytes: number, maxFree = 4) {
    this.#slabBytes = slabBytes;
    this.#maxFree = maxFree;
    this.#cur = { bytes: new Uint8Array(slabBytes), used: 0, live: 0, full: false };
  }

  /**
   * Free room of at least `bytes` (at most the slab size) at the current slab's bump pointer,
   * moving to a recycled or new slab when the current one has less left. Nothing is handed out
   * until {@link claim}.
   *
   * @param bytes room needed
   * @returns a view of `bytes` bytes
   */
  room(bytes: number): Uint8Array {
    let s = this.#cur;
    if (this.#slabBytes - s.used < bytes) {
      s.full = true;
      if (s.live === 0) this.#recycle(s);
      s = this.#cur = this.#free.pop() ?? this.#fresh();
    }
    return s.bytes.subarray(s.used, s.used + bytes);
  }

  /**
   * Hands out the first `bytes` of the last {@link room} (the read's bytes stay valid until the
   * returned function is called).
   *
   * @param buf the view {@link room} returned
   * @param bytes bytes kept from its start
   * @returns releases the read: call once nothing uses its bytes any more (later calls do nothing)
   */
  claim(buf: Uint8Array, bytes: number): () => void {
    const s = this.#cur;
    if (buf.buffer !== s.bytes.buffer || buf.byteOffset !== s.used) {
      throw new RangeError("Cannot claim slab bytes: not the last room handed out");
    }
    s.used += (bytes + 7) & ~7;
    s.live++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      if (--s.live === 0 && s.full) this.#recycle(s);
    };
  }

  #fresh(): Slab {
    this.allocated++;
    return { bytes: new Uint8Array(this.#slabBytes), used: 0, live: 0, full: false };
  }

  #recycle(s: Slab): void {
    if (this.#free.length >= this.#maxFree) return;
    s.used = 0;
    s.full = false;
    this.#free.push(s);
  }
}
