/**
 * Round robin (`ip_vs_rr.c`): servers in turn, starting after the last one chosen, skipping
 * servers with weight 0 or overloaded.
 *
 * @module
 */
import type { FlowKey, SchedDest, Scheduler } from "./scheduler.ts";

/** Round-robin scheduler. */
export class RoundRobin implements Scheduler {
  readonly name: string = "rr";
  /** Id of the last server chosen, -1 before the first. */
  #lastId = -1;

  /** Nothing to precompute; the position survives list changes by id. */
  update(_dests: readonly SchedDest[]): void {}

  /** Next usable server after the previous choice. */
  schedule(dests: readonly SchedDest[], _flow: FlowKey, _nowMs: number): SchedDest | undefined {
    const n = dests.length;
    if (n === 0) return undefined;
    let start = -1;
    for (let i = 0; i < n; i++) {
      if (dests[i].id === this.#lastId) {
        start = i;
        break;
      }
    }
    for (let k = 1; k <= n; k++) {
      const d = dests[(start + k + n) % n];
      if (d.weight > 0 && !d.overloaded) {
        this.#lastId = d.id;
        return d;
      }
    }
    return undefined;
  }

  /** A copy with the same position. */
  clone(): RoundRobin {
    const c = new RoundRobin();
    c.#lastId = this.#lastId;
    return c;
  }
}
