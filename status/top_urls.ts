/**
 * The most requested URLs of a cache in bounded memory: the Space-Saving algorithm (Metwally,
 * Agrawal, El Abbadi, "Efficient computation of frequent and top-k elements in data streams",
 * 2005). It keeps `capacity` counters; a URL not tracked replaces the one with the smallest count
 * and inherits that count plus one, so every URL requested more than N / capacity times (N = all
 * requests) is tracked, and a reported count overestimates by at most the inherited `error`.
 *
 * @module
 */

/** One tracked URL. */
export interface TopUrlCount {
  /** The URL (cut at MAX_TRACKED_URL_BYTES). */
  url: string;
  /** Estimated requests (never below the true count). */
  requests: number;
  /** Upper bound of the overestimate. */
  error: number;
}

/** Longest URL kept; longer ones are cut (they would only be shown truncated). */
export const MAX_TRACKED_URL_BYTES = 512;

/**
 * A Space-Saving top-k tracker. The counters sit in a binary min-heap by count, so replacing the
 * smallest (every request for a URL not tracked, e.g. a stream of misses for new URLs) costs
 * O(log capacity), not a scan of every counter.
 */
export class TopUrls {
  /** Counters kept. */
  readonly capacity: number;
  /** Heap slot of each tracked URL. */
  readonly #slot = new Map<string, number>();
  readonly #urls: string[] = [];
  readonly #counts: number[] = [];
  readonly #errors: number[] = [];

  /**
   * Creates an empty tracker.
   *
   * @param capacity counters kept (default 256); more is more accurate for the same top 10
   * @throws {RangeError} when capacity is not an integer in 1-100000
   */
  constructor(capacity = 256) {
    if (!Number.isInteger(capacity) || capacity < 1 || capacity > 100_000) {
      throw new RangeError(`Cannot track top URLs: capacity ${capacity} is not an integer in 1-100000`);
    }
    this.capacity = capacity;
  }

  /** Counts one request for `url`. O(log capacity). */
  record(url: string): void {
    const key = url.length > MAX_TRACKED_URL_BYTES ? url.slice(0, MAX_TRACKED_URL_BYTES) : url;
    const i = this.#slot.get(key);
    if (i !== undefined) {
      this.#counts[i]++;
      this.#down(i);
      return;
    }
    if (this.#urls.length < this.capacity) {
      this.#urls.push(key);
      this.#counts.push(1);
      this.#errors.push(0);
      this.#slot.set(key, this.#urls.length - 1);
      this.#up(this.#urls.length - 1);
      return;
    }
    // Replace the smallest counter (the heap's root); the newcomer inherits its count plus one.
    this.#slot.delete(this.#urls[0]);
    const min = this.#counts[0];
    this.#urls[0] = key;
    this.#errors[0] = min;
    this.#counts[0] = min + 1;
    this.#slot.set(key, 0);
    this.#down(0);
  }

  /**
   * The `k` most requested URLs, most first (ties by URL).
   *
   * @param k how many (default 10)
   */
  top(k = 10): TopUrlCount[] {
    return this.#urls.map((url, i) => ({ url, requests: this.#counts[i], error: this.#errors[i] }))
      .sort((a, b) => b.requests - a.requests || a.url.localeCompare(b.url)).slice(0, k);
  }

  // Sifting moves a hole instead of swapping: each counter passed over moves once and has its slot
  // set once, and the moving one is written at its final place (a stream of new URLs, every miss,
  // sinks each newcomer through the heap's depth).

  #up(i: number): void {
    const u = this.#urls, c = this.#counts, e = this.#errors;
    const url = u[i], count = c[i], error = e[i];
    const from = i;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (c[parent] <= count) break;
      this.#move(parent, i);
      i = parent;
    }
    if (i !== from) this.#place(i, url, count, error);
  }

  #down(i: number): void {
    const u = this.#urls, c = this.#counts, e = this.#errors;
    const url = u[i], count = c[i], error = e[i];
    const n = c.length;
    const from = i;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const m = r < n && c[r] < c[l] ? r : l;
      if (count <= c[m]) break;
      this.#move(m, i);
      i = m;
    }
    // Not moved (a tracked URL counted again, the usual hit): its slot is already right.
    if (i !== from) this.#place(i, url, count, error);
  }

  /** Moves the counter at `from` to slot `to`. */
  #move(from: number, to: number): void {
    const url = this.#urls[from];
    this.#urls[to] = url;
    this.#counts[to] = this.#counts[from];
    this.#errors[to] = this.#errors[from];
    this.#slot.set(url, to);
  }

  #place(i: number, url: string, count: number, error: number): void {
    this.#urls[i] = url;
    this.#counts[i] = count;
    this.#errors[i] = error;
    this.#slot.set(url, i);
  }
}

/**
 * Merges the top lists of several trackers (one per cache worker): counts of the same URL are
 * added, as are their error bounds. A URL missing from one list may have been counted there below
 * that list's cut-off, so merged counts can be low by at most that cut-off per list.
 *
 * @param lists one top list per tracker
 * @param k how many to return (default 10)
 * @returns the merged top `k`, most first (ties by URL)
 */
export function mergeTopUrls(lists: readonly (readonly TopUrlCount[])[], k = 10): TopUrlCount[] {
  const sum = new Map<string, TopUrlCount>();
  for (const list of lists) {
    for (const e of list) {
      const s = sum.get(e.url);
      if (s) {
        s.requests += e.requests;
        s.error += e.error;
      } else sum.set(e.url, { ...e });
    }
  }
  return [...sum.values()].sort((a, b) => b.requests - a.requests || a.url.localeCompare(b.url)).slice(0, k);
}

/** Something that logs each finished request with its URL (the cache's access log). */
export interface RequestLog<E extends { url: string }> {
  /** Logs one finished request. */
  log(entry: E): void;
}

/**
 * Feeds a tracker from every request a cache logs (whether or not the access log is written
 * anywhere), by wrapping the log's `log` method.
 *
 * @param accessLog the cache's access log
 * @param tracker the tracker to feed
 */
export function trackTopUrls<E extends { url: string }>(accessLog: RequestLog<E>, tracker: TopUrls): void {
  const log = accessLog.log.bind(accessLog);
  accessLog.log = (entry: E) => {
    tracker.record(entry.url);
    log(entry);
  };
}
