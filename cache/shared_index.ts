/**
 * `SharedIndex`: which cache worker holds which object, in shared memory. It sits next to the
 * collapse table (`shared_collapse.ts`) and makes the copy of an object between workers lazy: a
 * worker stores what it fetched in its own memory tier only and publishes "worker i holds key K,
 * fresh until T" here; a worker that misses locally looks the key up and asks a holder for the
 * object (`lazy_copy.ts`) instead of every object being copied into every worker at once. The main
 * thread's ICP server answers from it (a fresh holder exists → `ICP_OP_HIT`).
 *
 * The index is a hint. Keys are 64-bit hashes, so two URLs may share an entry (about one pair in
 * 2^64); the holder that is asked compares the full key in its own store and answers "not here"
 * for anything else, and the asking worker then fetches from the origin. A wrong object is never
 * served because of the index.
 *
 * Layout: one `SharedArrayBuffer` seen as an `Int32Array` (host byte order). A header of {@link HEADER_WORDS} words, then `slots` entries of {@link ENTRY_WORDS}
 * words:
 *
 * ```text
 * word   0      magic 0x57434958 ("WCIX")
 * word   1      slots (a power of two, 16 .. 2^22)
 * word   2      base: Date.now() / 1000 when the table was made (expiry times count from here)
 * word   3      reserved (0)
 * words  4..67  invalidation epoch per stripe (64 stripes by key hash), +1 when an invalidation ends
 * words 68..131 invalidations in progress per stripe
 *
 * entry e (at HEADER_WORDS + 4 e):
 *  31                                                            0
 * +---------------------------------------------------------------+
 * | hash lo: FNV-1a (32 bit) of the primary key                   |  word 0
 * +---------------------------------------------------------------+
 * | hash hi: a second 32-bit hash of the key (other seed, mixed)   |  word 1
 * +-+-------------------------------------------------------------+
 * |B| holders: bit w set = worker w holds some variant (w < 31)    |  word 2
 * +-+-------------------------------------------------------------+
 * | fresh until: seconds after base (0 = not fresh)               |  word 3
 * +---------------------------------------------------------------+
 * ```
 *
 * An entry whose holders word is 0 is free (its hash words are left over and mean nothing). B (bit
 * 31) marks an entry being claimed: a worker takes a free entry by CAS of word 2 from 0 to B, writes
 * words 0, 1 and 3, then stores its bit (clearing B). Adding a holder to an entry of the same key is
 * a CAS of word 2 from its current value to value | bit, after which the key words are checked again
 * (an entry freed and claimed for another key in between gets the bit removed). Removing a holder is
 * an `Atomics.and`; the last one out frees the entry. Several entries of one key (two workers
 * claiming at once) are harmless: lookups combine every matching entry, removals clear every one.
 *
 * Scans read the words without `Atomics` (aligned 32-bit reads do not tear; a racing update makes
 * a lookup miss or see a holder that is gone, which the copy protocol handles); every change is an
 * `Atomics` store, CAS, `and` or `add`, and a key is compared again after its CAS.
 *
 * Probing: a key may live in the {@link PROBE} entries from `lo & (slots - 1)` on, wrapping at the
 * end. Lookups read all of them (they do not stop at a free entry, so freeing needs no tombstones).
 * An entry whose freshness passed may be reclaimed for another key when the window is full; when no
 * entry is free or expired, the key is not published ({@link SharedIndex.publish} returns false)
 * and other workers fetch it themselves.
 *
 * Workers 31 and above (`cache.workers` allows 64) do not fit in the holder bits: they pull from
 * the others but do not publish.
 *
 * @module
 */
import { keyHash } from "./shared_collapse.ts";

/** Words of the header (see the module doc). */
export const HEADER_WORDS = 132;
/** Words per entry. */
export const ENTRY_WORDS = 4;
/** Entries a key may occupy from its home entry on. */
export const PROBE = 8;
/** Invalidation stripes. */
export const STRIPES = 64;
/** Highest worker number that can publish (bit 30). */
export const MAX_PUBLISHING_WORKER = 30;

const MAGIC = 0x57434958;
const BUSY = 1 << 31;
const EPOCHS = 4;
const PENDING = 4 + STRIPES;

/**
 * Second 32-bit hash of a key: FNV-1a with another offset basis, then murmur3's finaliser, so it is
 * independent enough of {@link keyHash} to make the pair a 64-bit hash.
 */
export function keyHashHi(key: string): number {
  let h = 0x2a5f1c3b;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** What {@link SharedIndex.lookup} found. */
export interface IndexEntry {
  /** Workers holding the key (bit w = worker w). */
  holders: number;
  /** Until when the latest published copy is fresh, ms since epoch (0: not fresh). */
  freshUntil: number;
}

/** The shared object index; see the module doc. */
export class SharedIndex {
  readonly #w: Int32Array;
  readonly #mask: number;
  readonly #baseS: number;
  readonly #me: number;
  readonly #bit: number;

  /**
   * Makes the shared memory of an index (the main thread makes it and hands it to every worker).
   *
   * @param slots entries, a power of two in 16 .. 2^22
   * @param nowMs the current time (tests)
   * @throws {RangeError} when `slots` is not a power of two in range
   */
  static allocate(slots: number, nowMs = Date.now()): SharedArrayBuffer {
    if (!Number.isInteger(slots) || slots < 16 || slots > 1 << 22 || (slots & (slots - 1)) !== 0) {
      throw new RangeError(`Cannot allocate shared index: ${slots} slots is not a power of two in 16-4194304`);
    }
    const buf = new SharedArrayBuffer((HEADER_WORDS + slots * ENTRY_WORDS) * 4);
    const w = new Int32Array(buf);
    w[0] = MAGIC;
    w[1] = slots;
    w[2] = Math.floor(nowMs / 1000);
    return buf;
  }

  /**
   * Entries for a memory tier of `maxBytes` in all: about two per object of 1 KiB (the memory
   * store charges 256 bytes of overhead per object on top), rounded up to a power of two, within
   * 2^14 .. 2^22 (256 KiB .. 64 MiB of shared memory).
   *
   * @param maxBytes `cache.memory.maxBytes`
   */
  static slotsFor(maxBytes: number): number {
    const want = Math.min(1 << 22, Math.max(1 << 14, Math.ceil(maxBytes / 1280) * 2));
    return 2 ** Math.ceil(Math.log2(want));
  }

  /**
   * Opens an index.
   *
   * @param buffer memory from {@link SharedIndex.allocate}
   * @param worker this worker's number (0 = main thread)
   * @throws {RangeError} when the buffer is not an index
   */
  constructor(buffer: SharedArrayBuffer, worker: number) {
    const w = new Int32Array(buffer);
    if (w.length < HEADER_WORDS || w[0] !== MAGIC || w.length !== HEADER_WORDS + w[1] * ENTRY_WORDS) {
      throw new RangeError(`Cannot open shared index: ${buffer.byteLength} bytes is not an index`);
    }
    this.#w = w;
    this.#mask = w[1] - 1;
    this.#baseS = w[2];
    this.#me = worker;
    this.#bit = worker <= MAX_PUBLISHING_WORKER ? 1 << worker : 0;
  }

  /** This worker's number. */
  get worker(): number {
    return this.#me;
  }

  /** Entries in the table. */
  get slots(): number {
    return this.#mask + 1;
  }

  #expiry(ms: number): number {
    const s = Math.floor(ms / 1000) - this.#baseS;
    return s <= 0 ? 0 : Math.min(s, 0x7fffffff);
  }

  /**
   * Publishes that this worker holds `key` (or refreshes its freshness).
   *
   * @param key the primary cache key
   * @param freshUntilMs when this worker's copy stops being fresh (ms since epoch; 0: not fresh)
   * @param nowMs the current time
   * @returns false when the key could not be published (probe window full, or a worker above 30)
   */
  publish(key: string, freshUntilMs: number, nowMs = Date.now()): boolean {
    const bit = this.#bit;
    if (bit === 0) return false;
    const w = this.#w;
    const lo = keyHash(key), hi = keyHashHi(key);
    const expiry = this.#expiry(freshUntilMs);
    const home = lo & this.#mask;
    // An entry of this key already: add this worker to it.
    for (let p = 0; p < PROBE; p++) {
      const e = HEADER_WORDS + ((home + p) & this.#mask) * ENTRY_WORDS;
      for (let tries = 0; tries < 4; tries++) {
        const v = w[e + 2];
        if (v === 0 || (v & BUSY) !== 0) break;
        if (w[e] !== lo || w[e + 1] !== hi) break;
        if ((v & bit) === 0 && Atomics.compareExchange(w, e + 2, v, v | bit) !== v) continue;
        if (Atomics.load(w, e) !== lo || Atomics.load(w, e + 1) !== hi) {
          Atomics.and(w, e + 2, ~bit); // freed and claimed for another key in between
          break;
        }
        Atomics.store(w, e + 3, expiry);
        return true;
      }
    }
    // A free entry, or else one whose freshness passed.
    const now = this.#expiry(nowMs);
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < PROBE; p++) {
        const e = HEADER_WORDS + ((home + p) & this.#mask) * ENTRY_WORDS;
        const v = w[e + 2];
        if ((v & BUSY) !== 0) continue;
        if (pass === 0 ? v !== 0 : w[e + 3] > now) continue;
        if (Atomics.compareExchange(w, e + 2, v, BUSY) !== v) continue;
        Atomics.store(w, e, lo);
        Atomics.store(w, e + 1, hi);
        Atomics.store(w, e + 3, expiry);
        Atomics.store(w, e + 2, bit);
        return true;
      }
    }
    return false;
  }

  /**
   * Withdraws this worker from `key` (it evicted or deleted its last variant).
   *
   * @param key the primary cache key
   */
  withdraw(key: string): void {
    const bit = this.#bit;
    if (bit === 0) return;
    const w = this.#w;
    const lo = keyHash(key), hi = keyHashHi(key);
    const home = lo & this.#mask;
    for (let p = 0; p < PROBE; p++) {
      const e = HEADER_WORDS + ((home + p) & this.#mask) * ENTRY_WORDS;
      if ((w[e + 2] & bit) === 0 || w[e] !== lo || w[e + 1] !== hi) continue;
      Atomics.and(w, e + 2, ~bit);
    }
  }

  /**
   * Who holds `key`, and until when the latest copy is fresh.
   *
   * @param key the primary cache key
   */
  lookup(key: string): IndexEntry {
    const w = this.#w;
    const lo = keyHash(key), hi = keyHashHi(key);
    const home = lo & this.#mask;
    let holders = 0, expiry = 0;
    for (let p = 0; p < PROBE; p++) {
      const e = HEADER_WORDS + ((home + p) & this.#mask) * ENTRY_WORDS;
      const v = w[e + 2];
      if (v === 0 || (v & BUSY) !== 0 || w[e] !== lo || w[e + 1] !== hi) continue;
      holders |= v;
      expiry = Math.max(expiry, w[e + 3]);
    }
    return { holders, freshUntil: expiry === 0 ? 0 : (this.#baseS + expiry) * 1000 };
  }

  /**
   * A worker other than this one holding a fresh copy of `key`, or -1: the next one numbered above
   * this worker, else the lowest.
   *
   * @param key the primary cache key
   * @param nowMs the current time
   */
  freshHolder(key: string, nowMs = Date.now()): number {
    const { holders, freshUntil } = this.lookup(key);
    return freshUntil <= nowMs ? -1 : this.#pick(holders);
  }

  /**
   * A worker other than this one holding any copy of `key`, fresh or stale, or -1 (picked as by
   * {@link freshHolder}). A stale copy is still worth copying: its validators make the next origin
   * request a conditional one (RFC 9111 §4.3.1), and it may be served stale where that is allowed.
   *
   * @param key the primary cache key
   */
  holder(key: string): number {
    return this.#pick(this.lookup(key).holders);
  }

  #pick(holders: number): number {
    const others = holders & ~this.#bit;
    if (others === 0) return -1;
    // The next holder after this worker (cyclically), so that not every worker asks the same one.
    const above = others & ~((this.#bit << 1) - 1);
    const pick = above !== 0 ? above : others;
    return 31 - Math.clz32(pick & -pick);
  }

  /**
   * Whether any worker (this one included) holds a fresh copy of `key` (ICP).
   *
   * @param key the primary cache key
   * @param nowMs the current time
   */
  freshAnywhere(key: string, nowMs = Date.now()): boolean {
    const { holders, freshUntil } = this.lookup(key);
    return holders !== 0 && freshUntil > nowMs;
  }

  #stripe(key: string): number {
    return keyHash(key) >>> 26; // top 6 bits: 64 stripes
  }

  /**
   * Marks the start of an invalidation of `keys` (PURGE, unsafe methods): until
   * {@link SharedIndex.endInvalidation}, no worker starts a copy of a key in the same stripe, and
   * copies in flight are dropped on arrival (their epoch changes).
   */
  beginInvalidation(keys: readonly string[]): void {
    for (const k of keys) Atomics.add(this.#w, PENDING + this.#stripe(k), 1);
  }

  /** Ends an invalidation started with {@link SharedIndex.beginInvalidation}. */
  endInvalidation(keys: readonly string[]): void {
    for (const k of keys) {
      const s = this.#stripe(k);
      Atomics.add(this.#w, EPOCHS + s, 1);
      Atomics.sub(this.#w, PENDING + s, 1);
    }
  }

  /**
   * The invalidation epoch of `key`'s stripe, or -1 while an invalidation of that stripe runs (do
   * not copy now). A copy is kept only if the epoch is the same when it arrives.
   */
  copyEpoch(key: string): number {
    const s = this.#stripe(key);
    if (Atomics.load(this.#w, PENDING + s) > 0) return -1;
    return Atomics.load(this.#w, EPOCHS + s);
  }

  /**
   * Entries in use (tests, `/status`): entries with at least one holder.
   */
  used(): number {
    let n = 0;
    for (let e = HEADER_WORDS + 2; e < this.#w.length; e += ENTRY_WORDS) if (Atomics.load(this.#w, e) !== 0) n++;
    return n;
  }
}
