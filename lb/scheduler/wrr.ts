/**
 * Weighted round robin (`ip_vs_wrr.c`): the interleaved sequence from gcd stepping. With current
 * index `i` and current weight `cw`:
 *
 * ```text
 * start: i = head, cw = mw = max(weights) - (gcd - 1)
 * loop:  i = next(i)
 *        if i passed the end: i = head; cw = cw - gcd; if cw <= 0: cw = mw
 *        else if weight(i) >= cw and not overloaded(i): choose i
 * ```
 *
 * Weights 4, 3, 2 give A A B A B C A B C. Weight 0 servers are never chosen.
 *
 * @module
 */
import { gcd } from "./_hash.ts";
import type { FlowKey, SchedDest, Scheduler } from "./scheduler.ts";

/** Weighted round-robin scheduler. */
export class WeightedRoundRobin implements Scheduler {
  readonly name: string = "wrr";
  #i = -1;
  #cw = 0;
  #mw = 0;
  #di = 1;

  /**
   * Recomputes gcd and max weight as `ip_vs_wrr_dest_changed` does: the position goes back to the
   * list head, `mw = max - (gcd - 1)`, and `cw` is kept when still valid.
   */
  update(dests: readonly SchedDest[]): void {
    let max = 0;
    let g = 0;
    for (const d of dests) {
      if (d.weight > max) max = d.weight;
      if (d.weight > 0) g = gcd(g, d.weight);
    }
    this.#di = g > 0 ? g : 1;
    this.#mw = max > 0 ? max - (this.#di - 1) : 0;
    this.#i = -1;
    if (this.#cw > this.#mw || this.#cw <= 0) this.#cw = this.#mw;
    else if (this.#di > 1) this.#cw = Math.floor(this.#cw / this.#di) * this.#di + 1;
  }

  /** Next server in the weighted sequence. */
  schedule(dests: readonly SchedDest[], _flow: FlowKey, _nowMs: number): SchedDest | undefined {
    const n = dests.length;
    if (n === 0 || this.#mw === 0) return undefined;
    // Each pass over the list lowers cw by di; after mw/di + 1 passes every weight was tried.
    const limit = (n + 1) * (Math.ceil(this.#mw / this.#di) + 2);
    let i = this.#i;
    for (let step = 0; step < limit; step++) {
      i++;
      if (i >= n) {
        i = -1;
        this.#cw -= this.#di;
        if (this.#cw <= 0) this.#cw = this.#mw;
        continue;
      }
      const d = dests[i];
      if (d.weight >= this.#cw && d.weight > 0 && !d.overloaded) {
        this.#i = i;
        return d;
      }
    }
    this.#i = -1;
    return undefined;
  }

  /** A copy at the same point of the sequence. */
  clone(): WeightedRoundRobin {
    const c = new WeightedRoundRobin();
    c.#i = this.#i;
    c.#cw = this.#cw;
    c.#mw = this.#mw;
    c.#di = this.#di;
    return c;
  }
}
