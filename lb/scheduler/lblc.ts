/**
 * Locality-based least connection (`ip_vs_lblc.c`): each destination address is bound to one
 * server, chosen by wlc the first time. The binding is kept while that server has weight > 0 and
 * is not overloaded in the lblc sense (active > weight while another server is below half its
 * weight, see `_lblc_overload.ts`); otherwise wlc picks a new server and the binding moves.
 * Bindings idle longer than the expiration (IPVS sysctl `lblc_expiration`, 24 h) are dropped, and
 * when the table holds more than 16384 entries, those idle over 6 minutes too.
 *
 * @module
 */
import { findById, LBLC_EXPIRATION_MS, lblcOverloaded, LocalityTable } from "./_lblc_overload.ts";
import { connOverhead, type FlowKey, type SchedDest, type Scheduler, weightedLeast } from "./scheduler.ts";

export { LBLC_EXPIRATION_MS };

interface Entry {
  id: number;
  lastUseMs: number;
}

/** Locality-based least-connection scheduler. */
export class LocalityLeastConnection implements Scheduler {
  readonly name: string = "lblc";
  #map: LocalityTable<Entry>;

  /** @param expirationMs how long an unused binding lives */
  constructor(expirationMs = LBLC_EXPIRATION_MS) {
    this.#map = new LocalityTable(expirationMs);
  }

  /** Bindings survive list changes; a binding to a missing server is replaced on use. */
  update(_dests: readonly SchedDest[]): void {}

  /** The destination's server, or a new wlc choice. */
  schedule(dests: readonly SchedDest[], flow: FlowKey, nowMs: number): SchedDest | undefined {
    const en = this.#map.get(flow.daddr, nowMs);
    if (en) {
      const d = findById(dests, en.id);
      if (d && d.weight > 0 && !d.overloaded && !lblcOverloaded(d, dests)) {
        en.lastUseMs = nowMs;
        return d;
      }
    }
    const d = weightedLeast(dests, connOverhead);
    if (!d) return undefined;
    if (en) {
      en.id = d.id;
      en.lastUseMs = nowMs;
    } else this.#map.set(flow.daddr, { id: d.id, lastUseMs: nowMs });
    return d;
  }

  /** Number of destination bindings. */
  get size(): number {
    return this.#map.size;
  }

  /** A deep copy. */
  clone(): LocalityLeastConnection {
    const c = new LocalityLeastConnection(this.#map.expirationMs);
    c.#map = this.#map.clone((e) => ({ ...e }));
    return c;
  }
}
