/**
 * Synthetic request traces for the eviction benchmark: a Zipf-distributed popularity over a fixed
 * set of objects of mixed sizes, generated from a seeded PRNG so every run replays the same trace.
 *
 * @module
 */

/** A seeded PRNG (mulberry32): returns floats in [0, 1). */
export function mulberry32(seed: number): () => number {
  let s = seed | 0;
  return () => {
    s = (s + 0x6d2b79f5) | 0;
    let t = Math.imul(s ^ (s >>> 15), 1 | s);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** A generated trace. */
export interface Trace {
  /** Object id of each request. */
  requests: Uint32Array;
  /** Size in bytes of each object id. */
  sizes: Uint32Array;
  /** Sum of all object sizes (the working set). */
  workingSetBytes: number;
}

/**
 * Generates a Zipf trace: object of popularity rank r (1-based) is requested with probability
 * proportional to 1 / r^alpha. Ranks are shuffled onto object ids so size and popularity are
 * independent. Sizes are mixed, like web objects: 60% small (256 B - 16 KiB), 30% medium
 * (16 - 256 KiB), 10% large (256 KiB - 4 MiB), log-uniform within each class.
 *
 * @param opts.requests number of requests
 * @param opts.objects number of distinct objects
 * @param opts.alpha Zipf exponent (0.8 and 1.0 are typical of web proxies and CDNs)
 * @param opts.seed PRNG seed
 */
export function zipfTrace(opts: { requests: number; objects: number; alpha: number; seed: number }): Trace {
  const rand = mulberry32(opts.seed);
  const n = opts.objects;
  const sizes = new Uint32Array(n);
  let workingSetBytes = 0;
  for (let i = 0; i < n; i++) {
    const c = rand();
    const [lo, hi] = c < 0.6 ? [256, 16384] : c < 0.9 ? [16384, 262144] : [262144, 4194304];
    sizes[i] = Math.round(lo * Math.pow(hi / lo, rand()));
    workingSetBytes += sizes[i];
  }
  // Rank -> object id permutation (Fisher-Yates).
  const idOfRank = new Uint32Array(n);
  for (let i = 0; i < n; i++) idOfRank[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    const t = idOfRank[i];
    idOfRank[i] = idOfRank[j];
    idOfRank[j] = t;
  }
  const cdf = new Float64Array(n);
  let sum = 0;
  for (let r = 0; r < n; r++) {
    sum += 1 / Math.pow(r + 1, opts.alpha);
    cdf[r] = sum;
  }
  const requests = new Uint32Array(opts.requests);
  for (let i = 0; i < opts.requests; i++) {
    const u = rand() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < u) lo = mid + 1;
      else hi = mid;
    }
    requests[i] = idOfRank[lo];
  }
  return { requests, sizes, workingSetBytes };
}
