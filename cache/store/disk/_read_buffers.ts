/**
 * Read buffers for whole-object reads whose size is known before the read (a kept file's
 * `fstat()` gave it): one buffer per read, taken from a free list per size class, the most
 * recently released first. Private to the disk store.
 *
 * Why not the bump slabs of `_slab_pool.ts` for these: a 100 KiB read copies 100 KiB from the page
 * cache into the buffer, and that copy costs twice as much when the buffer is cold in the CPU's
 * caches (measured here: 7 µs into one of a few buffers, 14-18 µs into 1 MiB slabs rotating over 16
 * MiB). A slab is reused only once every read in it was released, so consecutive hits write all
 * over the slabs; a buffer released by a hit whose response write just read it is still in the
 * cache, and taking that one first (last in, first out) keeps the reads' working set to the hits
 * in flight.
 *
 * A buffer that is never released (a body kept by a memory tier, the slow path) is left to the GC,
 * as with slabs; one that is released goes back to its free list unless the free lists already
 * hold `maxFreeBytes`.
 *
 * Size classes are powers of two from {@link MIN_CLASS_BYTES}: a 100 KiB object's read (with its
 * header block and headroom) takes a 128 KiB buffer. Reads above `maxClassBytes` get a buffer of
 * their own, never pooled.
 *
 * @module
 */

/** Smallest size class, bytes (smaller reads share slabs instead: see `_slab_pool.ts`). */
export const MIN_CLASS_BYTES = 32 * 1024;

/** A buffer handed out by {@link ReadBuffers.take}. */
export interface ReadBuffer {
  /** The buffer: its first `bytes` bytes are the caller's (the rest of the class may follow). */
  bytes: Uint8Array;
  /** Gives the buffer back; call once nothing uses its bytes any more (later calls do nothing). */
  release: () => void;
}

/** Free lists of read buffers per power-of-two size class; see the module doc. */
export class ReadBuffers {
  readonly #maxClassBytes: number;
  readonly #maxFreeBytes: number;
  readonly #free = new Map<number, Uint8Array[]>();
  #freeBytes = 0;
  /** Buffers allocated (not reused) so far, for tests and tools. */
  allocated = 0;

  /**
   * @param maxClassBytes largest pooled size class, bytes
   * @param maxFreeBytes bytes kept in the free lists at most
   */
  constructor(maxClassBytes: number, maxFreeBytes: number) {
    this.#maxClassBytes = maxClassBytes;
    this.#maxFreeBytes = maxFreeBytes;
  }

  /** Bytes held in the free lists now. */
  get freeBytes(): number {
    return this.#freeBytes;
  }

  /**
   * A buffer of at least `bytes` bytes: the most recently released one of its size class, or a
   * new one.
   *
   * @param bytes bytes needed
   * @returns the buffer and its release function
   */
  take(bytes: number): ReadBuffer {
    const cls = classOf(bytes);
    const list = cls <= this.#maxClassBytes ? this.#free.get(cls) : undefined;
    let buf = list?.pop();
    if (buf) this.#freeBytes -= cls;
    else {
      this.allocated++;
      buf = new Uint8Array(cls <= this.#maxClassBytes ? cls : bytes);
    }
    const b = buf;
    let done = false;
    return {
      bytes: b,
      release: () => {
        if (done) return;
        done = true;
        this.#giveBack(b);
      },
    };
  }

  #giveBack(b: Uint8Array): void {
    const cls = b.length;
    if (cls > this.#maxClassBytes || classOf(cls) !== cls) return;
    if (this.#freeBytes + cls > this.#maxFreeBytes) return;
    let list = this.#free.get(cls);
    if (!list) this.#free.set(cls, list = []);
    list.push(b);
    this.#freeBytes += cls;
  }
}

/** The size class of a read of `bytes`: the next power of two, at least {@link MIN_CLASS_BYTES}. */
function classOf(bytes: number): number {
  if (bytes <= MIN_CLASS_BYTES) return MIN_CLASS_BYTES;
  return 2 ** Math.ceil(Math.log2(bytes));
}
