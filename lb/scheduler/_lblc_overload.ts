/**
 * What lblc and lblcr share: the overload test (`is_overloaded` in ip_vs_lblc.c: a server is
 * overloaded for locality purposes when its active connections exceed its weight *and* some server
 * in the service is at less than half its weight (`active * 2 < weight`), i.e. there is somewhere
 * better to send the destination), and the destination table with IPVS's expiry rules.
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

/** IPVS `DEFAULT_EXPIRATION`: 24 hours. */
export const LBLC_EXPIRATION_MS = 24 * 3600_000;
/** IPVS `ENTRY_TIMEOUT` used when the table is over its size: 6 minutes. */
export const LBLC_ENTRY_TIMEOUT_MS = 6 * 60_000;
/** IPVS `16 * IP_VS_LBLC_TAB_SIZE`. */
export const LBLC_MAX_ENTRIES = 16 * 1024;
const SWEEP_EVERY_MS = 60_000;

/**
 * The destination-address table of lblc and lblcr: entries by destination, swept once a minute of
 * those idle longer than the expiration (or than 6 minutes while the table is over its size), as
 * IPVS's `ip_vs_lblc_check_expire` does.
 */
export class LocalityTable<E extends { lastUseMs: number }> {
  readonly #map = new Map<number, E>();
  #lastSweepMs = 0;
  /** How long an unused entry lives. */
  readonly expirationMs: number;

  /** @param expirationMs how long an unused entry lives */
  constructor(expirationMs: number) {
    this.expirationMs = expirationMs;
  }

  /** The destination's entry; sweeps first when a minute has passed since the last sweep. */
  get(daddr: number, nowMs: number): E | undefined {
    if (nowMs - this.#lastSweepMs >= SWEEP_EVERY_MS) this.#sweep(nowMs);
    return this.#map.get(daddr);
  }

  /** Binds a destination. */
  set(daddr: number, e: E): void {
    this.#map.set(daddr, e);
  }

  /** The destination's entry without sweeping (inspection). */
  peek(daddr: number): E | undefined {
    return this.#map.get(daddr);
  }

  /** Number of entries. */
  get size(): number {
    return this.#map.size;
  }

  /** A copy, each entry copied by `copy`. */
  clone(copy: (e: E) => E): LocalityTable<E> {
    const c = new LocalityTable<E>(this.expirationMs);
    for (const [k, e] of this.#map) c.#map.set(k, copy(e));
    c.#lastSweepMs = this.#lastSweepMs;
    return c;
  }

  #sweep(nowMs: number): void {
    this.#lastSweepMs = nowMs;
    const idle = this.#map.size > LBLC_MAX_ENTRIES ? LBLC_ENTRY_TIMEOUT_MS : this.expirationMs;
    for (const [k, e] of this.#map) if (nowMs - e.lastUseMs > idle) this.#map.delete(k);
  }
}
