/**
 * When this cache is "short of resources" and answers ICP queries with MISS_NOFETCH instead of
 * MISS (RFC 2186: "the peer ... is unwilling to fetch the object"; Squid sends it while its
 * store is rebuilding or when the origin looks unreachable). Here, any of:
 *
 * 1. the site of the URL is failing: `originFailures` consecutive failed origin requests (connect,
 *    timeout, reset) for URLs of its `host:port`, the last within `originWindowMs`; one success
 *    clears it;
 * 2. the process is overloaded: the event loop's smoothed lag exceeds `maxLagMs` (a timer that
 *    should fire every 100 ms is late by that much on average, EWMA 1/4);
 * 3. the store is still loading (`setLoading(true)` until the disk index is read).
 *
 * The cache's fetch path reports origin results with {@link LoadGuard.originResult}.
 *
 * @module
 */

/**
 * The site (`HOST:PORT`) of an absolute URL, the unit {@link LoadGuard} counts failures by.
 *
 * @param url absolute URL
 * @returns `HOST:PORT`, or undefined when `url` does not parse
 */
export function siteOf(url: string): string | undefined {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || (u.protocol === "https:" ? "443" : "80")}`;
  } catch {
    return undefined;
  }
}

/** Options of {@link LoadGuard}. */
export interface LoadGuardOptions {
  /** Consecutive origin failures that make an origin "failing"; default 3. */
  originFailures?: number;
  /** How long failures count, ms; default 30000. */
  originWindowMs?: number;
  /** Smoothed event-loop lag above which the node is overloaded, ms; default 200. */
  maxLagMs?: number;
  /** Clock, for tests. */
  now?: () => number;
}

/** Tracks origin failures, event-loop lag and store loading; see the module doc. */
export class LoadGuard {
  readonly #o: Required<LoadGuardOptions>;
  readonly #origins = new Map<string, { failures: number; lastAt: number }>();
  #lagMs = 0;
  #loading = false;
  #timer: ReturnType<typeof setInterval> | undefined;

  /** @param opts thresholds */
  constructor(opts: LoadGuardOptions = {}) {
    this.#o = { originFailures: 3, originWindowMs: 30000, maxLagMs: 200, now: () => Date.now(), ...opts };
  }

  /** Starts sampling the event-loop lag every 100 ms (stop with {@link close}). */
  start(): this {
    let expected = performance.now() + 100;
    this.#timer = setInterval(() => {
      const now = performance.now();
      this.#lagMs += (Math.max(0, now - expected) - this.#lagMs) / 4;
      expected = now + 100;
    }, 100);
    Deno.unrefTimer(this.#timer);
    return this;
  }

  /** Smoothed event-loop lag, ms. */
  get lagMs(): number {
    return this.#lagMs;
  }

  /**
   * Records the result of a request to an origin.
   *
   * @param url the absolute URL requested
   * @param ok whether the origin answered
   */
  originResult(url: string, ok: boolean): void {
    const origin = siteOf(url);
    if (origin === undefined) return;
    if (ok) {
      this.#origins.delete(origin);
      return;
    }
    const e = this.#origins.get(origin) ?? { failures: 0, lastAt: 0 };
    e.failures++;
    e.lastAt = this.#o.now();
    this.#origins.set(origin, e);
  }

  /** Marks the store as loading (or done). */
  setLoading(loading: boolean): void {
    this.#loading = loading;
  }

  /**
   * Whether to answer MISS_NOFETCH for a URL.
   *
   * @param url absolute URL from an ICP query
   * @returns the reason (`origin_failing`, `overloaded`, `loading`), or undefined to answer MISS
   */
  reason(url: string): "origin_failing" | "overloaded" | "loading" | undefined {
    if (this.#loading) return "loading";
    if (this.#lagMs > this.#o.maxLagMs) return "overloaded";
    const site = siteOf(url);
    const e = site === undefined ? undefined : this.#origins.get(site);
    if (e && e.failures >= this.#o.originFailures && this.#o.now() - e.lastAt < this.#o.originWindowMs) {
      return "origin_failing";
    }
    return undefined;
  }

  /** Stops the lag sampler. */
  close(): void {
    clearInterval(this.#timer);
  }
}
