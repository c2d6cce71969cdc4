/**
 * Destination hashing (`ip_vs_dh.c`): a static table of 256 buckets filled with the servers in
 * turn (bucket `i` holds server `i mod n`; weights are ignored), looked up by the destination
 * address: `bucket = (daddr * 2654435761) & 255`. A bucket whose server has weight 0 or is
 * overloaded yields no server (IPVS has no fallback for dh). Used for transparent cache clusters:
 * each origin site stays on one cache.
 *
 * @module
 */
import { knuthHash } from "./_hash.ts";
import type { FlowKey, SchedDest, Scheduler } from "./scheduler.ts";

/** Number of dh buckets (`IP_VS_DH_TAB_BITS` = 8). */
export const DH_TAB_SIZE = 256;

/** Destination-hashing scheduler. */
export class DestinationHashing implements Scheduler {
  readonly name: string = "dh";
  /** Bucket → index into the dests list given to {@link update}, or -1. */
  #table = new Int32Array(DH_TAB_SIZE).fill(-1);
  #ids = new Int32Array(DH_TAB_SIZE).fill(-1);

  /** Refills the buckets round-robin over the servers (`ip_vs_dh_reassign`). */
  update(dests: readonly SchedDest[]): void {
    for (let i = 0; i < DH_TAB_SIZE; i++) {
      this.#table[i] = dests.length ? i % dests.length : -1;
      this.#ids[i] = dests.length ? dests[i % dests.length].id : -1;
    }
  }

  /** The server of the destination address's bucket, if it can take connections. */
  schedule(dests: readonly SchedDest[], flow: FlowKey, _nowMs: number): SchedDest | undefined {
    const b = knuthHash(flow.daddr, DH_TAB_SIZE - 1);
    const d = dests[this.#table[b]];
    if (!d || d.id !== this.#ids[b] || d.weight <= 0 || d.overloaded) return undefined;
    return d;
  }

  /** A copy with the same table. */
  clone(): DestinationHashing {
    const c = new DestinationHashing();
    c.#table.set(this.#table);
    c.#ids.set(this.#ids);
    return c;
  }
}
