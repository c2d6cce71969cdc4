/**
 * The user-space decapsulator's allowed outer sources in shared memory, so the main thread can
 * change them while the decapsulator's Worker runs its synchronous loop (which cannot receive
 * messages). One writer (the main thread), one reader (the Worker), a sequence lock:
 *
 * ```text
 * Int32Array over a SharedArrayBuffer
 * [0] sequence: odd while the writer changes the list, even when stable
 * [1] mode: 0 = only the listed addresses, 1 = any source
 * [2] count
 * [3 .. 3+count) the addresses as unsigned 32-bit numbers stored in int32 slots
 * ```
 *
 * The reader takes a snapshot when the sequence changed since its last one and is even before and
 * after reading; otherwise it keeps its previous snapshot and tries again on its next call.
 *
 * @module
 */
import { MAX_DECAP_DIRECTORS } from "./ipip_decap_program.ts";

const SEQ = 0, MODE = 1, COUNT = 2, ADDRS = 3;

/** What {@link DecapAllowList.snapshot} returns: any source, or only these (empty: none). */
export type AllowedSources = "any" | ReadonlySet<number>;

/** The shared allowed-source list (see module doc). */
export class DecapAllowList {
  /** The shared memory; pass it to the Worker and open it there with `new DecapAllowList(sab)`. */
  readonly sab: SharedArrayBuffer;
  readonly #w: Int32Array;
  #seen = -1;
  #snapshot: AllowedSources = new Set();

  /**
   * @param sab an existing list's memory (the Worker's side), or none to allocate one that allows nothing
   */
  constructor(sab?: SharedArrayBuffer) {
    this.sab = sab ?? new SharedArrayBuffer((ADDRS + MAX_DECAP_DIRECTORS) * 4);
    this.#w = new Int32Array(this.sab);
  }

  /**
   * Replaces the list (writer side).
   *
   * @param sources `"any"`, or the allowed addresses as unsigned 32-bit numbers (empty: none)
   * @throws {RangeError} with more than {@link MAX_DECAP_DIRECTORS} addresses
   */
  set(sources: "any" | readonly number[]): void {
    const addrs = sources === "any" ? [] : [...new Set(sources)];
    if (addrs.length > MAX_DECAP_DIRECTORS) {
      throw new RangeError(`Cannot allow ${addrs.length} directors: the decapsulator holds ${MAX_DECAP_DIRECTORS}`);
    }
    const w = this.#w;
    Atomics.add(w, SEQ, 1); // odd: changing
    Atomics.store(w, MODE, sources === "any" ? 1 : 0);
    Atomics.store(w, COUNT, addrs.length);
    addrs.forEach((a, i) => Atomics.store(w, ADDRS + i, a | 0));
    Atomics.add(w, SEQ, 1); // even: stable
  }

  /**
   * The current list (reader side): cheap when nothing changed (one atomic load).
   *
   * @returns `"any"` or the set of allowed addresses
   */
  snapshot(): AllowedSources {
    const w = this.#w;
    const seq = Atomics.load(w, SEQ);
    if (seq === this.#seen || seq & 1) return this.#snapshot;
    const any = Atomics.load(w, MODE) === 1;
    const n = Math.min(Atomics.load(w, COUNT), MAX_DECAP_DIRECTORS);
    const set = new Set<number>();
    for (let i = 0; i < n; i++) set.add(Atomics.load(w, ADDRS + i) >>> 0);
    if (Atomics.load(w, SEQ) !== seq) return this.#snapshot; // torn: try again next time
    this.#seen = seq;
    this.#snapshot = any ? "any" : set;
    return this.#snapshot;
  }
}

/**
 * Whether `src` may tunnel packets to this host.
 *
 * @param allowed a snapshot of {@link DecapAllowList}
 * @param src the outer source as an unsigned 32-bit number
 */
export function sourceAllowed(allowed: AllowedSources, src: number): boolean {
  return allowed === "any" || allowed.has(src);
}
