/**
 * Locality-based least connection with replication (`ip_vs_lblcr.c`): each destination address is
 * bound to a *set* of servers. A new connection goes to the set's least loaded member (wlc over the
 * set). If that member is overloaded in the lblc sense (active > weight while some server is below
 * half its weight), wlc over all servers picks another one, which joins the set (at its head). When
 * the set has more than one member and was not changed for the expiration time, its most loaded
 * member leaves it, so sets shrink again when the load drops.
 *
 * @module
 */
import { findById, LBLC_EXPIRATION_MS, lblcOverloaded, LocalityTable } from "./_lblc_overload.ts";
import { connOverhead, type FlowKey, type SchedDest, type Scheduler, weightedLeast } from "./scheduler.ts";

interface SetEntry {
  /** Server ids, most recently added first. */
  ids: number[];
  lastUseMs: number;
  lastModMs: number;
}

/** Locality-based least-connection scheduler with replication. */
export class LocalityLeastConnectionReplicated implements Scheduler {
  readonly name: string = "lblcr";
  #map: LocalityTable<SetEntry>;

  /** @param expirationMs idle time before a binding is dropped, and the set-shrink period */
  constructor(expirationMs = LBLC_EXPIRATION_MS) {
    this.#map = new LocalityTable(expirationMs);
  }

  /** Sets survive list changes; members that left are skipped. */
  update(_dests: readonly SchedDest[]): void {}

  /** The set's least loaded server, or a new wlc choice added to the set. */
  schedule(dests: readonly SchedDest[], flow: FlowKey, nowMs: number): SchedDest | undefined {
    const en = this.#map.get(flow.daddr, nowMs);
    if (en) {
      en.lastUseMs = nowMs;
      const min = this.#setMin(en, dests);
      if (en.ids.length > 1 && nowMs - en.lastModMs > this.#map.expirationMs) {
        const max = this.#setMax(en, dests);
        if (max) {
          en.ids.splice(en.ids.indexOf(max.id), 1);
          en.lastModMs = nowMs;
        }
      }
      if (min && !lblcOverloaded(min, dests)) return min;
      const d = weightedLeast(dests, connOverhead);
      if (!d) return undefined;
      if (!en.ids.includes(d.id)) {
        en.ids.unshift(d.id);
        en.lastModMs = nowMs;
      }
      return d;
    }
    const d = weightedLeast(dests, connOverhead);
    if (!d) return undefined;
    this.#map.set(flow.daddr, { ids: [d.id], lastUseMs: nowMs, lastModMs: nowMs });
    return d;
  }

  /** The servers bound to a destination address (tests and `route`). */
  members(daddr: number): number[] {
    return [...(this.#map.peek(daddr)?.ids ?? [])];
  }

  /** `ip_vs_dest_set_min`: wlc over the set's present, not overloaded members with weight > 0. */
  #setMin(en: SetEntry, dests: readonly SchedDest[]): SchedDest | undefined {
    let least: SchedDest | undefined;
    let loh = 0;
    for (const id of en.ids) {
      const d = findById(dests, id);
      if (!d || d.overloaded) continue;
      if (!least) {
        if (d.weight > 0) {
          least = d;
          loh = connOverhead(d);
        }
        continue;
      }
      const doh = connOverhead(d);
      if (loh * d.weight > doh * least.weight) {
        least = d;
        loh = doh;
      }
    }
    return least;
  }

  /** `ip_vs_dest_set_max`: the member with the largest overhead per weight (weight > 0). */
  #setMax(en: SetEntry, dests: readonly SchedDest[]): SchedDest | undefined {
    let most: SchedDest | undefined;
    let moh = 0;
    for (const id of en.ids) {
      const d = findById(dests, id);
      if (!d || d.weight <= 0) continue;
      const doh = connOverhead(d);
      if (!most || moh * d.weight < doh * most.weight) {
        most = d;
        moh = doh;
      }
    }
    return most;
  }

  /** A deep copy. */
  clone(): LocalityLeastConnectionReplicated {
    const c = new LocalityLeastConnectionReplicated(this.#map.expirationMs);
    c.#map = this.#map.clone((e) => ({ ...e, ids: [...e.ids] }));
    return c;
  }
}
