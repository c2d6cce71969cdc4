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
 *  word 0   key hash      32-bit FNV-1a of the primary cache key, forced odd; 0 = free;
 *                         hash - 1 (even) = being claimed: words 1-3 are not written yet
 *  word 1   owner         claiming worker's number + 1 (the main process is worker 0); 0 once released
 *  word 2   claimed at    Date.now() / 16, mod 2^31 (claim time)
 *  word 3   outcome       0 fetching, 1 stored (look it up), 2 not stored (go yourself)
 * ```
 *
 * Claim: CAS word 0 from 0 to hash - 1; on success write words 1-3, then store the hash. Until then
 * the words are the last claim's (its owner, its outcome), so a worker that finds the key being
 * claimed waits like for a claim, and never reads them: reading the leftover outcome "stored" or
 * the leftover owner "me" there made a second worker fetch the same miss (a URL fetched before, e.g.
 * again right after a PURGE). Release: write the outcome to word 3, `Atomics.notify` its waiters
 * (`Atomics.waitAsync` on word 3), clear the owner, then CAS word 0 back to 0. The object is
 * published in the shared index before the release, so a waiter finds it at once.
 *
 * A claim is not a lookup: a worker that looked the key up, found nothing and then claimed may have
 * claimed just after another worker stored the object and released. The caller looks once more
 * after claiming (`request_fsm.ts`) and {@link SharedCollapse.release}s as stored when it finds it.
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

/** A key's hash in the table: {@link keyHash}, except 1 (whose "being claimed" mark would be 0, free). */
function claimHash(key: string): number {
  const h = keyHash(key);
  return h === 1 ? 3 : h;
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
    const hash = claimHash(key);
    const base = (hash & this.#mask) * SLOT_WORDS;
    const claiming = hash - 1;
    const prev = Atomics.compareExchange(w, base, 0, claiming);
    if (prev === 0) {
      this.#take(key, base, hash);
      return undefined;
    }
    if (prev === claiming) return this.#wait(base, hash, waitMs); // another worker is claiming it
    if (prev !== hash) return undefined; // another key's slot: no cross-worker collapsing for this one
    const owner = Atomics.load(w, base + 1);
    const age = (tick() - Atomics.load(w, base + 2)) & 0x7fffffff;
    if (owner !== 0 && (owner === this.#me || age > this.#staleTicks)) {
      // Our own leftover (this worker restarted mid-fetch), or a claim nobody released in time:
      // take it over, unless another worker does at the same moment.
      if (Atomics.compareExchange(w, base, hash, claiming) !== hash) return this.#wait(base, hash, waitMs);
      this.#take(key, base, hash);
      return undefined;
    }
    return this.#wait(base, hash, waitMs);
  }

  /** Completes a claim: word 0 holds hash - 1 (this worker's), the other words become this claim's. */
  #take(key: string, base: number, hash: number): void {
    const w = this.#words;
    Atomics.store(w, base + 3, FETCHING);
    Atomics.store(w, base + 1, this.#me);
    Atomics.store(w, base + 2, tick());
    Atomics.store(w, base, hash);
    this.#held.set(key, { index: base, hash });
  }

  /**
   * Whether this worker holds the claim of `key` (it claimed it and has not released it).
   *
   * @param key the primary cache key
   */
  holds(key: string): boolean {
    return this.#held.has(key);
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
    Atomics.store(w, h.index + 1, 0);
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
      const v = Atomics.load(w, base);
      // Released: the outcome (a later claim of another key resets it to 0, "fetching": go yourself).
      if (v !== hash && v !== hash - 1) return Atomics.load(w, base + 3) === STORED;
      // Claimed; while still being claimed, word 3 is the last claim's outcome: not read.
      const outcome = v === hash ? Atomics.load(w, base + 3) : FETCHING;
      if (outcome !== FETCHING) return outcome === STORED;
      const left = deadline - performance.now();
      if (left <= 0) return false;
      // Woken by the release (notify) or a timer: Atomics.waitAsync alone does not keep the event
      // loop alive, and the timer also re-checks in case a wake is missed. A claim being made is
      // complete within a few stores: look again in 1 ms.
      const step = Math.min(left, v === hash ? RECHECK_MS : 1);
      const r = v === hash ? Atomics.waitAsync(w, base + 3, FETCHING, step) : undefined;
      if (!r || r.async) {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const timeout = new Promise<void>((res) => timer = setTimeout(res, step));
        await (r ? Promise.race([r.value, timeout]) : timeout);
        clearTimeout(timer);
      }
    }
  }
}
