/**
 * `SharedCollapse`: request collapsing across cache workers (nginx `proxy_cache_lock`, Squid
 * `collapsed_forwarding` with SMP workers) without a message per miss. The workers share one
 * {@link SharedArrayBuffer} of claim slots; a worker about to fetch a miss claims the slot of its
 * key with one `Atomics.compareExchange`, and a worker that finds the key claimed by another waits
 * (at most `cache.collapse.waitMs`) for the outcome, then looks the object up again: in its own
 * store, through the shared index and a copy from the worker that stored it (`lazy_copy.ts`), or on
 * the shared disk tier.
 *
 * Slot layout (Int32Array, {@link SLOT_WORDS} words per slot, `SLOTS` slots, slot = hash & mask):
 *
 * ```text
 *  word 0   key hash      32-bit FNV-1a of the primary cache key, forced odd; 0 = free
 *  word 1   owner         claiming worker's number + 1 (the main process is worker 0)
 *  word 2   claimed at    Date.now() / 16, mod 2^31 (claim time; release time once stored)
 *  word 3   outcome       0 fetching, 1 stored (look it up), 2 not stored (go yourself)
 * ```
 *
 * Claim: CAS word 0 from 0 to the hash; on success write words 1-3. Release: write the outcome to
 * word 3, `Atomics.notify` its waiters (`Atomics.waitAsync` on word 3), then CAS word 0 back to 0.
 * The object is published in the shared index before the release, so a waiter finds it at once.
 * A slot held by another key (a hash collision) is not shared: that miss is fetched without a
 * cross-worker claim (as before this table existed). A claim older than `staleMs` (a fetch that
 * never released, e.g. a worker that died) is taken over.
 *
 * Cost on the common path (a miss nobody else wants): one hash of the key, one CAS and three
 * stores to claim, one store, one notify and one CAS to release.
 *
 * @module
 */

/** Int32 words per slot (see the module doc). */
export const SLOT_WORDS = 4;

/** Default number of slots (a power of two): 64 KiB of shared memory. */
export const DEFAULT_SLOTS = 4096;

/** How often a waiting worker re-checks its slot even without a wake-up (ms). */
const RECHECK_MS = 50;

const FETCHING = 0;
const STORED = 1;
const NOT_STORED = 2;

/** 32-bit FNV-1a of a string's UTF-16 code units, forced odd so it is never 0. */
export function keyHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h | 1;
}

function tick(): number {
  return Math.floor(Date.now() / 16) & 0x7fffffff;
}

/** Options of {@link SharedCollapse}. */
export interface SharedCollapseOptions {
  /** This worker's number (0 = main process). */
  worker: number;
  /** Claims older than this are taken over (ms); default 120 s. */
  staleMs?: number;
}

/** A claim this worker holds. */
interface Held {
  index: number;
  hash: number;
}

/** The cross-worker claim table of one cache; see the module doc. */
export class SharedCollapse {
  readonly #words: Int32Array;
  readonly #mask: number;
  readonly #me: number;
  readonly #staleTicks: number;
  readonly #held = new Map<string, Held>();

  /**
   * Makes the shared memory of a table (the main process makes it and hands it to every worker).
   *
   * @param slots number of slots, a power of two
   * @throws {RangeError} when `slots` is not a power of two in 16-1048576
   */
  static allocate(slots: number = DEFAULT_SLOTS): SharedArrayBuffer {
    if (!Number.isInteger(slots) || slots < 16 || slots > 1 << 20 || (slots & (slots - 1)) !== 0) {
      throw new RangeError(`Cannot allocate collapse table: ${slots} slots is not a power of two in 16-1048576`);
    }
    return new SharedArrayBuffer(slots * SLOT_WORDS * 4);
  }

  /**
   * Opens a table.
   *
   * @param buffer memory from {@link SharedCollapse.allocate}
   * @param opts this worker's number
   */
  constructor(buffer: SharedArrayBuffer, opts: SharedCollapseOptions) {
    this.#words = new Int32Array(buffer);
    this.#mask = this.#words.length / SLOT_WORDS - 1;
    this.#me = opts.worker + 1;
    this.#staleTicks = Math.ceil((opts.staleMs ?? 120_000) / 16);
  }

  /**
   * Called before this worker fetches a miss it may store. Claims the key for this worker (and
   * returns undefined: go ahead, then {@link SharedCollapse.release}), or, when another worker is
   * fetching it, returns a promise that waits at most `waitMs` and resolves true when the object
   * should now be in this worker's store, false when the caller must fetch it itself (timeout, or
   * the other fetch was not stored).
   *
   * @param key the primary cache key
   * @param waitMs the wait bound (`cache.collapse.waitMs`)
   */
  claimOrWait(key: string, waitMs: number): Promise<boolean> | undefined {
    if (this.#held.has(key)) return undefined;
    const w = this.#words;
    const hash = keyHash(key);
    const base = (hash & this.#mask) * SLOT_WORDS;
    const prev = Atomics.compareExchange(w, base, 0, hash);
    if (prev === 0) {
      this.#take(key, base, hash);
      return undefined;
    }
    if (prev !== hash) return undefined; // another key's slot: no cross-worker collapsing for this one
    const owner = Atomics.load(w, base + 1);
    const age = (tick() - Atomics.load(w, base + 2)) & 0x7fffffff;
    if (owner === this.#me || age > this.#staleTicks) {
      // Our own leftover, or a claim nobody released in time: take it over.
      this.#take(key, base, hash);
      return undefined;
    }
    return this.#wait(base, hash, waitMs);
  }

  #take(key: string, base: number, hash: number): void {
    const w = this.#words;
    Atomics.store(w, base + 3, FETCHING);
    Atomics.store(w, base + 1, this.#me);
    Atomics.store(w, base + 2, tick());
    this.#held.set(key, { index: base, hash });
  }

  /**
   * Ends this worker's claim of `key`, if it holds one, and wakes the workers waiting for it.
   *
   * @param key the primary cache key
   * @param stored whether the object was stored (waiters then look it up instead of fetching)
   */
  release(key: string, stored: boolean): void {
    const h = this.#held.get(key);
    if (!h) return;
    this.#held.delete(key);
    const w = this.#words;
    if (Atomics.load(w, h.index) !== h.hash || Atomics.load(w, h.index + 1) !== this.#me) return; // taken over
    Atomics.store(w, h.index + 3, stored ? STORED : NOT_STORED);
    Atomics.notify(w, h.index + 3);
    Atomics.compareExchange(w, h.index, h.hash, 0);
  }

  /** Claims this worker holds (tests). */
  get held(): number {
    return this.#held.size;
  }

  async #wait(base: number, hash: number, waitMs: number): Promise<boolean> {
    const deadline = performance.now() + waitMs;
    const w = this.#words;
    for (;;) {
      // Released: the outcome (a later claim of another key resets it to 0, "fetching": go yourself).
      if (Atomics.load(w, base) !== hash) return Atomics.load(w, base + 3) === STORED;
      const outcome = Atomics.load(w, base + 3);
      if (outcome !== FETCHING) return outcome === STORED;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      // Woken by the release (notify) or a timer: Atomics.waitAsync alone does not keep the event
      // loop alive, and the timer also re-checks in case a wake is missed.
      const step = Math.min(left, RECHECK_MS);
      const r = Atomics.waitAsync(w, base + 3, FETCHING, step);
      if (r.async) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([r.value, new Promise<void>((res) => timer = setTimeout(res, step))]);
        clearTimeout(timer);
      }
    }
  }
}
