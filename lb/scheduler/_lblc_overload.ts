/**
 * The overload test shared by lblc and lblcr (`is_overloaded` in ip_vs_lblc.c): a server is
 * overloaded for locality purposes when its active connections exceed its weight *and* some server
 * in the service is at less than half its weight (`active * 2 < weight`), i.e. there is somewhere
 * better to send the destination.
 *
 * @module
 */
import type { SchedDest } from "./scheduler.ts";

/** Whether `d` should give up its destinations to a less loaded server. */
export function lblcOverloaded(d: SchedDest, dests: readonly SchedDest[]): boolean {
  if (d.activeConns > d.weight) {
    for (const o of dests) if (o.activeConns * 2 < o.weight) return true;
  }
  return false;
}

/** Finds a server by id in the list (servers per service are few; a scan beats a map here). */
export function findById(dests: readonly SchedDest[], id: number): SchedDest | undefined {
  for (const d of dests) if (d.id === id) return d;
  return undefined;
}
