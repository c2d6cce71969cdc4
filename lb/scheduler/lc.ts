/**
 * Least connection (`ip_vs_lc.c`): the server with the smallest overhead
 * `active * 256 + inactive`, ignoring weights except that weight 0 takes nothing new. Ties go to
 * the earlier server.
 *
 * @module
 */
import { connOverhead, type FlowKey, type SchedDest, type Scheduler } from "./scheduler.ts";

/** Least-connection scheduler. */
export class LeastConnection implements Scheduler {
  readonly name: string = "lc";
  /** Stateless. */
  update(_dests: readonly SchedDest[]): void {}
  /** Least overhead among servers with weight > 0. */
  schedule(dests: readonly SchedDest[], _flow: FlowKey, _nowMs: number): SchedDest | undefined {
    let least: SchedDest | undefined;
    let loh = 0;
    for (const d of dests) {
      if (d.overloaded || d.weight <= 0) continue;
      const doh = connOverhead(d);
      if (!least || doh < loh) {
        least = d;
        loh = doh;
      }
    }
    return least;
  }
  /** Stateless: a new instance. */
  clone(): LeastConnection {
    return new LeastConnection();
  }
}
