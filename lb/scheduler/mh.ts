/**
 * Maglev hashing (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load Balancer",
 * NSDI 2016, section 3.4; IPVS `ip_vs_mh.c`). Each server `i` gets a permutation of the table
 * slots from two hashes of its name:
 *
 * ```text
 * offset(i) = h1(name_i) mod M        skip(i) = h2(name_i) mod (M - 1) + 1
 * permutation(i)[j] = (offset(i) + j * skip(i)) mod M
 * ```
 *
 * The table is filled in rounds; in each round every server takes `weight / gcd(weights)` turns,
 * each turn claiming its next preferred slot still empty, until all M slots are taken. M is prime
 * (65537 here), so every permutation visits every slot. Turns are taken in the order of the servers'
 * names, so the table depends only on the set of (name, weight) pairs, never on list order or ids. A flow's source address picks the slot:
 * `table[fmix32(saddr) mod M]`. When a server leaves, the slots of the others mostly keep their
 * owner (minimal disruption). Weight 0 servers get no slots.
 *
 * @module
 */
import { fmix32, gcd, stringHash } from "./_hash.ts";
import type { FlowKey, SchedDest, Scheduler } from "./scheduler.ts";

/**
 * The hash that picks a flow's table slot: `fmix32(saddr)`, slot = hash mod M. The in-kernel DR fast path
 * computes the same (`netctl/dr_fast_path_program.ts`, whose `MAGLEV_HASH_VECTORS` test both sides), so a
 * SYN the kernel schedules and a packet user space schedules reach the same server.
 *
 * @param saddr the client address as a u32 (most significant byte first)
 */
export function maglevFlowHash(saddr: number): number {
  return fmix32(saddr);
}

/** Default lookup table size: a prime well above 100 × the number of servers. */
export const MH_TABLE_SIZE = 65537;

/** Maglev-hashing scheduler. */
export class MaglevHashing implements Scheduler {
  readonly name: string = "mh";
  /** M, the lookup table size (prime). */
  readonly tableSize: number;
  /** Slot → index into the dests list of the last {@link update}, -1 when empty. */
  #table: Int32Array;
  #ids: Int32Array;

  /**
   * Creates an empty table; {@link update} fills it.
   *
   * @param tableSize a prime (not checked beyond being > 1; non-primes break the permutation)
   */
  constructor(tableSize = MH_TABLE_SIZE) {
    if (!Number.isInteger(tableSize) || tableSize < 2) {
      throw new RangeError(`Cannot build Maglev table: size ${tableSize} is not an integer above 1`);
    }
    this.tableSize = tableSize;
    this.#table = new Int32Array(tableSize).fill(-1);
    this.#ids = new Int32Array(tableSize).fill(-1);
  }

  /** Rebuilds the lookup table (Maglev's populate). */
  update(dests: readonly SchedDest[]): void {
    populateMaglev(dests, this.#table);
    for (let i = 0; i < this.tableSize; i++) {
      const t = this.#table[i];
      this.#ids[i] = t >= 0 ? dests[t].id : -1;
    }
  }

  /** The slot owner for the flow's source address, if it can take connections. */
  schedule(dests: readonly SchedDest[], flow: FlowKey, _nowMs: number): SchedDest | undefined {
    return this.lookup(dests, maglevFlowHash(flow.saddr));
  }

  /** The slot owner for an arbitrary 32-bit hash (used for stateless overflow scheduling). */
  lookup(dests: readonly SchedDest[], hash: number): SchedDest | undefined {
    const slot = hash % this.tableSize;
    const d = dests[this.#table[slot]];
    if (!d || d.id !== this.#ids[slot] || d.weight <= 0 || d.overloaded) return undefined;
    return d;
  }

  /** Server ids per slot (tests measure disruption with it). */
  slots(): Int32Array {
    return this.#ids.slice();
  }

  /** A copy with the same table. */
  clone(): MaglevHashing {
    const c = new MaglevHashing(this.tableSize);
    c.#table.set(this.#table);
    c.#ids.set(this.#ids);
    return c;
  }
}

/**
 * Fills `table` (length M, prime) with indexes into `dests` by Maglev's algorithm.
 *
 * @returns the number of servers that got slots
 */
export function populateMaglev(dests: readonly SchedDest[], table: Int32Array): number {
  const m = table.length;
  table.fill(-1);
  let g = 0;
  for (const d of dests) if (d.weight > 0) g = gcd(g, d.weight);
  const live: number[] = [];
  for (let i = 0; i < dests.length; i++) if (dests[i].weight > 0) live.push(i);
  if (live.length === 0) return 0;
  // Turns go in key order, not list order: directors that list the same servers in another order
  // (membership heard in another order) build the same table (director.ha.mode active-active).
  live.sort((a, b) => (dests[a].key < dests[b].key ? -1 : dests[a].key > dests[b].key ? 1 : 0));
  const offset = new Float64Array(live.length);
  const skip = new Float64Array(live.length);
  const next = new Float64Array(live.length);
  const turns = new Int32Array(live.length);
  for (let k = 0; k < live.length; k++) {
    const d = dests[live[k]];
    offset[k] = stringHash(d.key, 0x5bd1e995) % m;
    skip[k] = (stringHash(d.key, 0x27d4eb2f) % (m - 1)) + 1;
    turns[k] = d.weight / g;
  }
  let filled = 0;
  while (true) {
    for (let k = 0; k < live.length; k++) {
      for (let t = 0; t < turns[k]; t++) {
        let c = (offset[k] + next[k] * skip[k]) % m;
        while (table[c] >= 0) {
          next[k]++;
          c = (offset[k] + next[k] * skip[k]) % m;
        }
        table[c] = live[k];
        next[k]++;
        if (++filled === m) return live.length;
      }
    }
  }
}
