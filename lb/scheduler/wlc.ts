/**
 * Weighted least connection (`ip_vs_wlc.c`), the IPVS default: the server with the smallest
 * `overhead / weight`, where overhead = `active * 256 + inactive`, compared without division as
 * `overhead(least) * weight(d) > overhead(d) * weight(least)`. Ties go to the earlier server.
 *
 * @module
 */
import { connOverhead, type FlowKey, type SchedDest, type Scheduler, weightedLeast } from "./scheduler.ts";

/** Weighted least-connection scheduler. */
export class WeightedLeastConnection implements Scheduler {
  readonly name: string = "wlc";
  /** Stateless. */
  update(_dests: readonly SchedDest[]): void {}
  /** Smallest overhead per weight. */
  schedule(dests: readonly SchedDest[], _flow: FlowKey, _nowMs: number): SchedDest | undefined {
    return weightedLeast(dests, connOverhead);
  }
  /** Stateless: a new instance. */
  clone(): WeightedLeastConnection {
    return new WeightedLeastConnection();
  }
}
