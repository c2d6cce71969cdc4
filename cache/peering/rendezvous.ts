/**
 * Rendezvous (highest random weight, HRW) hashing: every key is owned by the member with the
 * highest score `score(member, key)` (Thaler & Ravishankar 1996; the scheme behind Microsoft's CARP,
 * which Squid implements as `carp`). Pure functions, no I/O.
 *
 * Why HRW and not a ring or a Maglev table: with a handful of caches, computing n scores per request
 * is cheap (n is small), there is no table to rebuild on membership changes, and the movement on a
 * change is minimal by construction: when a member leaves, exactly its keys move (each to the member
 * with the next-highest score, spread evenly); when one joins, it takes about 1/(n+1) of the keys
 * and takes them from every member evenly. (The director's `mh` scheduler builds Maglev tables; that
 * is a different trade-off, fixed-size lookup for many backends.)
 *
 * Score, with weights (Resch's logarithmic method, as in weighted CARP):
 *
 * ```text
 * h     = fmix32(murmur3_32(key) XOR murmur3_32(member))     uniform in [0, 2^32)
 * u     = (h + 0.5) / 2^32                                   uniform in (0, 1)
 * score = weight / -ln(u)
 * ```
 *
 * With equal weights the owner is simply the member with the largest `h`; with weights, a member of
 * weight w owns a share w / Σw of the keys.
 *
 * @module
 */

const ENC = new TextEncoder();

/**
 * MurmurHash3 x86 32-bit of a string's UTF-8 bytes.
 *
 * @param text input
 * @param seed seed (default 0)
 * @returns an unsigned 32-bit hash
 */
export function murmur3(text: string, seed = 0): number {
  const data = ENC.encode(text);
  let h = seed >>> 0;
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  const n = data.length & ~3;
  for (let i = 0; i < n; i += 4) {
    let k = data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  let k = 0;
  switch (data.length & 3) {
    case 3:
      k ^= data[n + 2] << 16;
    // falls through
    case 2:
      k ^= data[n + 1] << 8;
    // falls through
    case 1:
      k ^= data[n];
      k = Math.imul(k, c1);
      k = (k << 15) | (k >>> 17);
      k = Math.imul(k, c2);
      h ^= k;
  }
  h ^= data.length;
  return fmix32(h);
}

/** MurmurHash3's 32-bit finaliser (an avalanche mix). */
export function fmix32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A member of the hash: an id every cache computes the same way (e.g. `HOST:HTTP_PORT`) and a weight. */
export interface HashMember {
  id: string;
  /** Relative share; default 1. Zero or less never owns anything. */
  weight?: number;
}

/**
 * Scores one member for one key.
 *
 * @param keyHash `murmur3(key)`
 * @param memberHash `murmur3(member.id)`
 * @param weight the member's weight
 * @returns the HRW score; higher wins
 */
export function hrwScore(keyHash: number, memberHash: number, weight = 1): number {
  if (weight <= 0) return -Infinity;
  const h = fmix32(keyHash ^ memberHash);
  return weight / -Math.log((h + 0.5) / 4294967296);
}

/**
 * A set of members with precomputed hashes; {@link owner} picks the member for a key.
 *
 * @example
 * ```ts
 * const r = new RendezvousHash([{ id: "10.0.0.1:3128" }, { id: "10.0.0.2:3128" }]);
 * r.owner("http://example.org/a"); // "10.0.0.1:3128" or "10.0.0.2:3128", the same on every node
 * ```
 */
export class RendezvousHash {
  #members: { id: string; hash: number; weight: number }[] = [];
  #weighted = false;

  /** @param members the initial members */
  constructor(members: readonly HashMember[] = []) {
    this.setMembers(members);
  }

  /**
   * Replaces the members. Order does not matter; duplicate ids keep the first.
   *
   * @param members the new members
   */
  setMembers(members: readonly HashMember[]): void {
    const seen = new Set<string>();
    this.#members = [];
    for (const m of members) {
      if (seen.has(m.id)) continue;
      seen.add(m.id);
      this.#members.push({ id: m.id, hash: murmur3(m.id, 0x9747b28c), weight: m.weight ?? 1 });
    }
    this.#weighted = this.#members.some((m) => m.weight !== 1);
  }

  /** Member ids. */
  get ids(): string[] {
    return this.#members.map((m) => m.id);
  }

  #score(kh: number, m: { hash: number; weight: number }): number {
    // With equal weights the score is monotone in h, so skip the logarithm.
    return this.#weighted ? hrwScore(kh, m.hash, m.weight) : (m.weight > 0 ? fmix32(kh ^ m.hash) : -Infinity);
  }

  /**
   * Returns the owner of a key.
   *
   * @param key the key (the normalised URL)
   * @param alive optional filter: only members for which it returns true may own
   * @returns the owner's id, or `undefined` when no member qualifies
   */
  owner(key: string, alive?: (id: string) => boolean): string | undefined {
    const kh = murmur3(key);
    let best: string | undefined;
    let bestScore = -Infinity;
    for (const m of this.#members) {
      if (alive && !alive(m.id)) continue;
      const s = this.#score(kh, m);
      if (s > bestScore || (s === bestScore && best !== undefined && m.id < best)) {
        best = m.id;
        bestScore = s;
      }
    }
    return best;
  }

  /**
   * Returns every member ranked by score for a key (the owner first, then who takes over).
   *
   * @param key the key
   */
  ranked(key: string): string[] {
    const kh = murmur3(key);
    return this.#members
      .map((m) => ({ id: m.id, s: this.#score(kh, m) }))
      .sort((a, b) => b.s - a.s || (a.id < b.id ? -1 : 1))
      .map((m) => m.id);
  }
}
