/**
 * `Inflight`: one origin response being received, read by any number of clients while it is
 * stored (bodies stream: clients get each chunk as it arrives, not after the object is complete).
 *
 * The fetch loop (not any client) drives it: `setHead()`, then `push()` per chunk, then `finish()`
 * or `fail()`. Readers iterate {@link Inflight.read}; a reader that stops (its client went away)
 * just unregisters, the fetch and the store write go on. While `retainAll` is set (the object is
 * being stored, so late joiners need every chunk) all chunks are kept; otherwise chunks every
 * reader has passed are dropped and {@link Inflight.push} waits (back-pressure) while more than
 * {@link MAX_UNREAD_BYTES} are unread by the slowest reader.
 *
 * @module
 */
import type { SharedCollapse } from "./shared_collapse.ts";

/** Unread bytes a slow reader may hold up before a non-retaining fetch waits for it. */
export const MAX_UNREAD_BYTES = 1024 * 1024;

/** The response head shared with collapsed requests. */
export interface InflightHead {
  /** `response`: stream the body; `not-modified`: the stored object was refreshed, look it up again. */
  kind: "response" | "not-modified";
  /** Response status. */
  status: number;
  /** Reason phrase. */
  reason: string;
  /** Response fields to send (hop-by-hop removed). */
  headers: [string, string][];
  /** Body length when known. */
  bodyBytes?: number;
  /** Vary field names of the response and the variant key it was stored under. */
  vary: string[] | "*";
  /** Variant key the response was stored under. */
  variant: string;
  /** Whether the response may be shared with other requests (storable). */
  shareable: boolean;
  /**
   * Fields (lower-case) only the client that caused the fetch gets: named by a qualified
   * `private="…"` or `no-cache="…"` (RFC 9111 §5.2.2.4, §5.2.2.7), so not stored either.
   */
  initiatorOnly?: string[];
  /**
   * The response's corrected initial age in ms (RFC 9111 §4.2.3: `max(apparent_age, age_value +
   * response_delay)`), so each client's `Age` is this plus the time since {@link responseTime}.
   */
  initialAgeMs?: number;
  /** When the response arrived, ms since epoch. */
  responseTime?: number;
}

interface Reader {
  index: number;
}

/** A response in flight; see the module doc. */
export class Inflight {
  /** The head once it arrived. */
  head?: InflightHead;
  /** Set by `fail()`. */
  error?: Error;
  /** Whether the body is complete (or failed). */
  done = false;
  /** Keep every chunk (late joiners); cleared when the object turns out not storable. */
  retainAll = true;
  #chunks: Uint8Array[] = [];
  #base = 0;
  #readers = new Set<Reader>();
  #wake: (() => void)[] = [];
  #drain: (() => void)[] = [];
  #headWaiters: (() => void)[] = [];

  /** Total body bytes pushed so far. */
  bytes = 0;

  /**
   * The whole body as one buffer (a copy), when every chunk was retained.
   *
   * @returns the body, or undefined when chunks were dropped
   */
  wholeBody(): Uint8Array | undefined {
    if (this.#base > 0) return undefined;
    const out = new Uint8Array(this.bytes);
    let off = 0;
    for (const c of this.#chunks) {
      out.set(c, off);
      off += c.length;
    }
    return off === this.bytes ? out : undefined;
  }

  /** Publishes the head. */
  setHead(head: InflightHead): void {
    this.head = head;
    this.#notifyHead();
  }

  /** Ends the inflight with an error before or during the body. */
  fail(e: Error): void {
    this.error = e;
    this.done = true;
    this.#notifyHead();
    this.#wakeAll();
    this.#drainAll();
  }

  /** Marks the body complete. */
  finish(): void {
    this.done = true;
    this.#wakeAll();
  }

  /** Whether nobody is reading (and nobody can join). */
  get unread(): boolean {
    return this.#readers.size === 0;
  }

  /**
   * Appends a body chunk. Returns a promise only when the fetch must wait for slow readers
   * (back-pressure, see the module doc); otherwise nothing, so a retaining fetch never waits.
   *
   * @param chunk body bytes
   * @returns undefined, or a promise that resolves when readers have caught up enough
   */
  push(chunk: Uint8Array): Promise<void> | undefined {
    this.#chunks.push(chunk);
    this.bytes += chunk.length;
    this.#wakeAll();
    if (this.retainAll) return undefined;
    this.#trim();
    if (this.#unreadBytes() > MAX_UNREAD_BYTES && this.#readers.size > 0 && !this.done) return this.#backOff();
    return undefined;
  }

  async #backOff(): Promise<void> {
    while (this.#unreadBytes() > MAX_UNREAD_BYTES && this.#readers.size > 0 && !this.done) {
      await new Promise<void>((r) => this.#drain.push(r));
      this.#trim();
    }
  }

  /**
   * The body, when it is complete and was pushed as one chunk that is still retained (a small
   * response read at once): a reader can send it without iterating {@link Inflight.read}.
   *
   * @returns the body (shared, do not modify), or undefined
   */
  completeBody(): Uint8Array | undefined {
    if (!this.done || this.error || this.#base !== 0 || this.#chunks.length !== 1) return undefined;
    return this.#chunks[0];
  }

  /**
   * Waits for the head (or failure) at most `timeoutMs` (forever when omitted).
   *
   * @returns the head, or undefined on timeout or failure
   */
  waitHead(timeoutMs?: number): Promise<InflightHead | undefined> {
    if (this.head || this.error) return Promise.resolve(this.head);
    if (timeoutMs === undefined) {
      // No race, no async frame, one promise for the usual wait (the leader of a miss).
      return new Promise<InflightHead | undefined>((r) =>
        this.#headWaiters.push(() => r(this.error ? undefined : this.head))
      );
    }
    return this.#waitHeadFor(timeoutMs);
  }

  async #waitHeadFor(timeoutMs: number): Promise<InflightHead | undefined> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const waits = [
      new Promise<void>((r) => this.#headWaiters.push(r)),
      new Promise<void>((r) => timer = setTimeout(r, timeoutMs)),
    ];
    await Promise.race(waits);
    clearTimeout(timer);
    return this.error ? undefined : this.head;
  }

  /**
   * Registers a reader before the body starts, so no chunk is dropped before it reads; pass the
   * handle to {@link Inflight.read} or give it back with {@link Inflight.unreserve}.
   */
  reserve(): object {
    const r: Reader = { index: this.#base };
    this.#readers.add(r);
    return r;
  }

  /** Gives back a reservation that will not be read. */
  unreserve(handle: object): void {
    this.#readers.delete(handle as Reader);
    this.#drainAll();
  }

  /**
   * Reads the body from its first byte. Without a reservation this is only valid while all chunks
   * are retained.
   *
   * @param handle a reservation from {@link Inflight.reserve}
   * @throws the fetch's error when the origin fails mid-body
   */
  async *read(handle?: object): AsyncGenerator<Uint8Array> {
    const r: Reader = (handle as Reader | undefined) ?? { index: 0 };
    if (r.index < this.#base) {
      this.#readers.delete(r);
      throw new RangeError("Cannot read inflight body: its beginning was already dropped");
    }
    this.#readers.add(r);
    try {
      while (true) {
        while (r.index < this.#base + this.#chunks.length) {
          const c = this.#chunks[r.index - this.#base];
          r.index++;
          this.#drainAll();
          yield c;
        }
        if (this.error) throw this.error;
        if (this.done) return;
        await new Promise<void>((res) => this.#wake.push(res));
      }
    } finally {
      this.#readers.delete(r);
      this.#drainAll();
    }
  }

  #unreadBytes(): number {
    let min = this.#base + this.#chunks.length;
    for (const r of this.#readers) min = Math.min(min, r.index);
    let n = 0;
    for (let i = min - this.#base; i < this.#chunks.length; i++) n += this.#chunks[i].length;
    return n;
  }

  #trim(): void {
    let min = this.#base + this.#chunks.length;
    for (const r of this.#readers) min = Math.min(min, r.index);
    const drop = min - this.#base;
    if (drop > 0) {
      this.#chunks.splice(0, drop);
      this.#base = min;
    }
  }

  // The waiter lists are swapped for new ones only when someone waits: a small miss's body is
  // pushed and finished with nobody waiting on it, and needs no new array for that.

  #notifyHead(): void {
    const w = this.#headWaiters;
    if (w.length === 0) return;
    this.#headWaiters = [];
    for (const f of w) f();
  }

  #wakeAll(): void {
    const w = this.#wake;
    if (w.length === 0) return;
    this.#wake = [];
    for (const f of w) f();
  }

  #drainAll(): void {
    const w = this.#drain;
    if (w.length === 0) return;
    this.#drain = [];
    for (const f of w) f();
  }
}

/**
 * In-progress fetches by key, for request collapsing (Squid collapsed_forwarding, nginx
 * proxy_cache_lock). Within a worker, followers join the leader's {@link Inflight} and stream with
 * it; across workers (with a {@link SharedCollapse} table) a follower waits for the other worker's
 * object and then serves it from its own store.
 */
export class Collapser {
  readonly #map = new Map<string, Inflight>();
  readonly #shared: SharedCollapse | undefined;

  /**
   * @param shared the cache's cross-worker claim table, when it has several workers
   */
  constructor(shared?: SharedCollapse) {
    this.#shared = shared;
  }

  /**
   * Before leading a fetch that may be stored: claims `key` across workers, or, when another worker
   * is fetching it, returns a wait (see {@link SharedCollapse.claimOrWait}).
   *
   * @param key the primary cache key
   * @param waitMs the wait bound
   * @returns undefined to go ahead and lead; else resolves true when the object should be stored here now
   */
  claimOrWait(key: string, waitMs: number): Promise<boolean> | undefined {
    return this.#shared?.claimOrWait(key, waitMs);
  }

  /**
   * Whether this worker holds the cross-worker claim of `key` (see {@link SharedCollapse.holds}).
   *
   * @param key the primary cache key
   */
  holdsClaim(key: string): boolean {
    return this.#shared?.holds(key) ?? false;
  }

  /**
   * Ends a cross-worker claim that led to no fetch here (the object turned up after the claim).
   *
   * @param key the primary cache key
   * @param stored whether the object is stored somewhere now (waiters then look it up)
   */
  releaseClaim(key: string, stored: boolean): void {
    if (!this.#map.has(key)) this.#shared?.release(key, stored);
  }

  /** The fetch in progress for `key`, if any that can still be joined. */
  get(key: string): Inflight | undefined {
    const f = this.#map.get(key);
    if (!f || f.error || !f.retainAll) return undefined;
    return f;
  }

  /** Registers a new fetch as the leader for `key`. */
  lead(key: string): Inflight {
    const f = new Inflight();
    this.#map.set(key, f);
    return f;
  }

  /** Removes the fetch once it can no longer be joined (done, failed or not shareable). */
  release(key: string, f: Inflight): void {
    if (this.#map.get(key) !== f) return;
    this.#map.delete(key);
    // Stored (or being stored) means waiters in other workers will find it; else they fetch it themselves.
    this.#shared?.release(key, !f.error && f.retainAll && f.head?.kind === "response" && f.head.shareable);
  }

  /** Number of fetches in progress. */
  get size(): number {
    return this.#map.size;
  }
}
