/**
 * Source hashing (`ip_vs_sh.c`): a static table of 256 buckets where each server in turn takes
 * `weight` consecutive buckets (a weight 0 server still takes one, but is never chosen), looked up
 * by the source address: `bucket = hash_32(saddr, 8)` with the kernel's `hash_32`
 * (`(x * 0x61C88647) >> 24`). A bucket whose server has weight 0 or is overloaded yields no server
 * (IPVS without the sh-fallback flag).
 *
 * @module
 */
import { hash32 } from "./_hash.ts";
import type { FlowKey, SchedDest, Scheduler } from "./scheduler.ts";

/** Number of sh buckets (`IP_VS_SH_TAB_BITS` = 8). */
export const SH_TAB_BITS = 8;
/** 256 buckets. */
export const SH_TAB_SIZE = 1 << SH_TAB_BITS;

/** Source-hashing scheduler. */
export class SourceHashing implements Scheduler {
  readonly name: string = "sh";
  #table = new Int32Array(SH_TAB_SIZE).fill(-1);
  #ids = new Int32Array(SH_TAB_SIZE).fill(-1);

  /** Refills the buckets, `weight` consecutive buckets per server (`ip_vs_sh_reassign`). */
  update(dests: readonly SchedDest[]): void {
    let p = 0;
    let count = 0;
    for (let i = 0; i < SH_TAB_SIZE; i++) {
      if (dests.length === 0) {
        this.#table[i] = -1;
        this.#ids[i] = -1;
        continue;
      }
      this.#table[i] = p;
      this.#ids[i] = dests[p].id;
      if (++count >= dests[p].weight) {
        p = (p + 1) % dests.length;
        count = 0;
      }
    }
  }

  /** The server of the source address's bucket, if it can take connections. */
  schedule(dests: readonly SchedDest[], flow: FlowKey, _nowMs: number): SchedDest | undefined {
    const b = hash32(flow.saddr, SH_TAB_BITS) % SH_TAB_SIZE;
    const d = dests[this.#table[b]];
    if (!d || d.id !== this.#ids[b] || d.weight <= 0 || d.overloaded) return undefined;
    return d;
  }

  /** A copy with the same table. */
  clone(): SourceHashing {
    const c = new SourceHashing();
    c.#table.set(this.#table);
    c.#ids.set(this.#ids);
    return c;
  }
}
