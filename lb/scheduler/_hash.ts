/**
 * Hash functions used by the hashing schedulers, bit-exact with the Linux kernel where IPVS uses
 * them, plus string hashes for Maglev permutations.
 *
 * @module
 */

/** Knuth's multiplicative constant, used by ip_vs_dh and ip_vs_lblc: `2654435761`. */
export const KNUTH_MULT = 2654435761;
/** The kernel's `GOLDEN_RATIO_32` used by `hash_32()`. */
export const GOLDEN_RATIO_32 = 0x61c88647;

/** The kernel's `hash_32(val, bits)`: `(val * GOLDEN_RATIO_32) >> (32 - bits)`, 32-bit arithmetic. */
export function hash32(val: number, bits: number): number {
  return (Math.imul(val | 0, GOLDEN_RATIO_32) >>> (32 - bits)) >>> 0;
}

/** `(addr * 2654435761) & mask` as ip_vs_dh_hashkey computes it (the low bits equal 64-bit math). */
export function knuthHash(addr: number, mask: number): number {
  return (Math.imul(addr | 0, KNUTH_MULT | 0) & mask) >>> 0;
}

/** murmur3's 32-bit finalizer: a good avalanche for numeric keys. */
export function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** FNV-1a over the UTF-16 code units of `s`, seeded, finished with {@link fmix32}. */
export function stringHash(s: string, seed: number): number {
  let h = (0x811c9dc5 ^ seed) >>> 0;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return fmix32(h);
}

/** Greatest common divisor of non-negative integers. */
export function gcd(a: number, b: number): number {
  while (b !== 0) [a, b] = [b, a % b];
  return a;
}
