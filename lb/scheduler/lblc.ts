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
import { findById, lblcOverloaded } from "./_lblc_overload.ts";
import { connOverhead, type FlowKey, type SchedDest, type Scheduler, weightedLeast } from "./scheduler.ts";

/** IPVS `DEFAULT_EXPIRATION`: 24 hours. */
export const LBLC_EXPIRATION_MS = 24 * 3600_000;
/** IPVS `ENTRY_TIMEOUT` used when the table is over its size: 6 minutes. */
export const LBLC_ENTRY_TIMEOUT_MS = 6 * 60_000;
/** IPVS `16 * IP_VS_LBLC_TAB_SIZE`. */
export const LBLC_MAX_ENTRIES = 16 * 1024;
const SWEEP_EVERY_MS = 60_000;

interface Entry {
  id: number;
  lastUseMs: number;
}

/** Locality-based least-connection scheduler. */
export class LocalityLeastConnection implements Scheduler {
  readonly name: string = "lblc";
  #map = new Map<number, Entry>();
  #lastSweepMs = 0;
  readonly #expirationMs: number;

  /** @param expirationMs how long an unused binding lives */
  constructor(expirationMs = LBLC_EXPIRATION_MS) {
    this.#expirationMs = expirationMs;
  }

  /** Bindings survive list changes; a binding to a missing server is replaced on use. */
  update(_dests: readonly SchedDest[]): void {}

  /** The destination's server, or a new wlc choice. */
  schedule(dests: readonly SchedDest[], flow: FlowKey, nowMs: number): SchedDest | undefined {
    if (nowMs - this.#lastSweepMs >= SWEEP_EVERY_MS) this.#sweep(nowMs);
    const en = this.#map.get(flow.daddr);
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

  #sweep(nowMs: number): void {
    this.#lastSweepMs = nowMs;
    const idle = this.#map.size > LBLC_MAX_ENTRIES ? LBLC_ENTRY_TIMEOUT_MS : this.#expirationMs;
    for (const [k, e] of this.#map) if (nowMs - e.lastUseMs > idle) this.#map.delete(k);
  }

  /** A deep copy. */
  clone(): LocalityLeastConnection {
    const c = new LocalityLeastConnection(this.#expirationMs);
    for (const [k, e] of this.#map) c.#map.set(k, { ...e });
    c.#lastSweepMs = this.#lastSweepMs;
    return c;
  }
}
