/**
 * Never queue (`ip_vs_nq.c`): an idle server (no active connections, weight > 0) gets the
 * connection at once, the first such in list order; otherwise as sed, the smallest
 * `(active + 1) / weight`.
 *
 * @module
 */
import type { FlowKey, SchedDest, Scheduler } from "./scheduler.ts";

/** Never-queue scheduler. */
export class NeverQueue implements Scheduler {
  readonly name: string = "nq";
  /** Stateless. */
  update(_dests: readonly SchedDest[]): void {}
  /** First idle server, else the shortest expected delay. */
  schedule(dests: readonly SchedDest[], _flow: FlowKey, _nowMs: number): SchedDest | undefined {
    let least: SchedDest | undefined;
    let loh = 0;
    for (const d of dests) {
      if (d.overloaded || d.weight <= 0) continue;
      const doh = d.activeConns + 1;
      if (d.activeConns === 0) return d;
      if (!least || loh * d.weight > doh * least.weight) {
        least = d;
        loh = doh;
      }
    }
    return least;
  }
  /** Stateless: a new instance. */
  clone(): NeverQueue {
    return new NeverQueue();
  }
}
