/**
 * IPVS schedulers: one file each (rr, wrr, lc, wlc, sed, nq, lblc, lblcr, dh, sh, mh), the shared
 * {@link Scheduler} contract, and {@link createScheduler}, the factory by ipvsadm name.
 *
 * Every scheduler is pure, synchronous TypeScript without I/O, importable from a Worker.
 *
 * @module
 */
import { DestinationHashing } from "./dh.ts";
import { LocalityLeastConnection } from "./lblc.ts";
import { LocalityLeastConnectionReplicated } from "./lblcr.ts";
import { LeastConnection } from "./lc.ts";
import { MaglevHashing } from "./mh.ts";
import { NeverQueue } from "./nq.ts";
import { RoundRobin } from "./rr.ts";
import type { Scheduler } from "./scheduler.ts";
import { ShortestExpectedDelay } from "./sed.ts";
import { SourceHashing } from "./sh.ts";
import { WeightedLeastConnection } from "./wlc.ts";
import { WeightedRoundRobin } from "./wrr.ts";

export { connOverhead, type FlowKey, type SchedDest, type Scheduler, weightedLeast } from "./scheduler.ts";
export { DestinationHashing } from "./dh.ts";
export { LocalityLeastConnection } from "./lblc.ts";
export { LocalityLeastConnectionReplicated } from "./lblcr.ts";
export { LeastConnection } from "./lc.ts";
export { MaglevHashing, MH_TABLE_SIZE, populateMaglev } from "./mh.ts";
export { NeverQueue } from "./nq.ts";
export { RoundRobin } from "./rr.ts";
export { ShortestExpectedDelay } from "./sed.ts";
export { SourceHashing } from "./sh.ts";
export { WeightedLeastConnection } from "./wlc.ts";
export { WeightedRoundRobin } from "./wrr.ts";

/** Scheduler names, as ipvsadm spells them. */
export const SCHEDULER_NAMES = ["rr", "wrr", "lc", "wlc", "sed", "nq", "lblc", "lblcr", "dh", "sh", "mh"] as const;
/** A scheduler name. */
export type SchedulerName = typeof SCHEDULER_NAMES[number];

const FACTORIES: Record<SchedulerName, () => Scheduler> = {
  rr: () => new RoundRobin(),
  wrr: () => new WeightedRoundRobin(),
  lc: () => new LeastConnection(),
  wlc: () => new WeightedLeastConnection(),
  sed: () => new ShortestExpectedDelay(),
  nq: () => new NeverQueue(),
  lblc: () => new LocalityLeastConnection(),
  lblcr: () => new LocalityLeastConnectionReplicated(),
  dh: () => new DestinationHashing(),
  sh: () => new SourceHashing(),
  mh: () => new MaglevHashing(),
};

/**
 * Creates a scheduler by name.
 *
 * @throws {RangeError} for an unknown name
 * @example
 * ```ts
 * const s = createScheduler("wlc");
 * ```
 */
export function createScheduler(name: string): Scheduler {
  const f = FACTORIES[name as SchedulerName];
  if (!f) throw new RangeError(`Unknown scheduler "${name}": expected one of ${SCHEDULER_NAMES.join(", ")}`);
  return f();
}
