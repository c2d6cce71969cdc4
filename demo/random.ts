/**
 * A small seeded pseudo-random generator (SplitMix32 seeding a Mulberry32 stream), so the demo's
 * objects and request sequences are the same on every run with the same seed.
 *
 * @module
 */

/** A function returning uniformly distributed numbers in [0, 1). */
export type Random = () => number;

/**
 * Returns a seeded generator of numbers in [0, 1) (Mulberry32: 32-bit state, period 2^32; plenty for
 * a demo workload, not for cryptography).
 *
 * @param seed any integer; equal seeds give equal sequences
 * @returns the generator
 * @example
 * ```ts
 * const rnd = seededRandom(42);
 * const x = rnd(); // 0 <= x < 1
 * ```
 */
export function seededRandom(seed: number): Random {
  // SplitMix32 step spreads small or similar seeds over the whole state.
  let s = (seed | 0) + 0x9e3779b9;
  s = Math.imul(s ^ (s >>> 16), 0x85ebca6b);
  s = Math.imul(s ^ (s >>> 13), 0xc2b2ae35);
  let state = (s ^ (s >>> 16)) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
