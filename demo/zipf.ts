/**
 * A seeded Zipf sampler: ranks 1..n drawn with probability proportional to 1 / rank^s, the classic
 * model of web object popularity (Breslau et al., "Web caching and Zipf-like distributions", 1999,
 * measured s between 0.64 and 0.83 on proxy traces).
 *
 * P(rank = k) = (1 / k^s) / H(n, s), where H(n, s) = sum over i = 1..n of 1 / i^s.
 *
 * The cumulative distribution is computed once (n doubles); each sample is one uniform draw and
 * a binary search, O(log n).
 *
 * @module
 */
import { type Random, seededRandom } from "./random.ts";

/** Options of {@link ZipfSampler}. */
export interface ZipfOptions {
  /** Exponent s (> 0); larger means a hotter head. Default 0.8. */
  exponent?: number;
  /** Seed of the uniform generator; default 1. */
  seed?: number;
  /** A uniform generator to use instead of a seeded one. */
  random?: Random;
}

/** Draws ranks 1..n with Zipf probabilities. */
export class ZipfSampler {
  /** Number of ranks. */
  readonly n: number;
  /** The exponent s. */
  readonly exponent: number;
  readonly #cdf: Float64Array;
  readonly #random: Random;

  /**
   * Precomputes the cumulative distribution.
   *
   * @param n number of distinct items (1..10,000,000)
   * @param opts exponent and seed
   * @throws {RangeError} when n or the exponent is out of range
   */
  constructor(n: number, opts: ZipfOptions = {}) {
    if (!Number.isInteger(n) || n < 1 || n > 10_000_000) {
      throw new RangeError(`Cannot build Zipf sampler: item count ${n} is not an integer in 1-10000000`);
    }
    const s = opts.exponent ?? 0.8;
    if (!(s > 0 && s <= 10)) throw new RangeError(`Cannot build Zipf sampler: exponent ${s} is not in (0, 10]`);
    this.n = n;
    this.exponent = s;
    this.#random = opts.random ?? seededRandom(opts.seed ?? 1);
    const cdf = new Float64Array(n);
    let sum = 0;
    for (let k = 1; k <= n; k++) {
      sum += 1 / Math.pow(k, s);
      cdf[k - 1] = sum;
    }
    for (let i = 0; i < n; i++) cdf[i] /= sum;
    cdf[n - 1] = 1;
    this.#cdf = cdf;
  }

  /** The probability of rank `k` (1-based); 0 outside 1..n. */
  probability(k: number): number {
    if (!Number.isInteger(k) || k < 1 || k > this.n) return 0;
    return this.#cdf[k - 1] - (k > 1 ? this.#cdf[k - 2] : 0);
  }

  /** Draws the next rank, 1..n. */
  next(): number {
    const u = this.#random();
    const cdf = this.#cdf;
    let lo = 0;
    let hi = cdf.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid] > u) hi = mid;
      else lo = mid + 1;
    }
    return lo + 1;
  }
}
