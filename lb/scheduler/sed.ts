/**
 * Shortest expected delay (`ip_vs_sed.c`): the smallest `(active + 1) / weight`, the delay a new
 * connection expects if servers process their active connections in parallel. Inactive connections
 * are ignored.
 *
 * @module
 */
import { type FlowKey, type SchedDest, type Scheduler, weightedLeast } from "./scheduler.ts";

/** IPVS `ip_vs_sed_dest_overhead`: active + 1. */
export function sedOverhead(d: SchedDest): number {
  return d.activeConns + 1;
}

/** Shortest-expected-delay scheduler. */
export class ShortestExpectedDelay implements Scheduler {
  readonly name: string = "sed";
  /** Stateless. */
  update(_dests: readonly SchedDest[]): void {}
  /** Smallest (active + 1) per weight. */
  schedule(dests: readonly SchedDest[], _flow: FlowKey, _nowMs: number): SchedDest | undefined {
    return weightedLeast(dests, sedOverhead);
  }
  /** Stateless: a new instance. */
  clone(): ShortestExpectedDelay {
    return new ShortestExpectedDelay();
  }
}
