/**
 * Rate estimation as IPVS's `ip_vs_est.c`: every 2 seconds the counters are sampled and each rate
 * is smoothed with an exponentially weighted moving average of weight 1/4:
 *
 * ```text
 * sample = (counter_now - counter_2s_ago) / 2 s
 * avg    = avg + (sample - avg) / 4
 * ```
 *
 * so a step change shows about 68 % after 4 s, 90 % after 8 s. Pure: the caller supplies time.
 *
 * @module
 */

/** Counters of one server or service. */
export interface Totals {
  /** Connections scheduled. */
  conns: number;
  /** Packets in. */
  inPkts: number;
  /** Packets out. */
  outPkts: number;
  /** Bytes in. */
  inBytes: number;
  /** Bytes out. */
  outBytes: number;
}

/** Smoothed rates per second. */
export interface Rates {
  /** Connections per second. */
  cps: number;
  /** Packets in per second. */
  inPps: number;
  /** Packets out per second. */
  outPps: number;
  /** Bytes in per second. */
  inBps: number;
  /** Bytes out per second. */
  outBps: number;
}

/** IPVS's sampling period. */
export const ESTIMATOR_PERIOD_MS = 2000;

/** One estimator per server or service. */
export class Estimator {
  #last?: Totals;
  #lastMs = 0;
  /** The smoothed rates. */
  readonly rates: Rates = { cps: 0, inPps: 0, outPps: 0, inBps: 0, outBps: 0 };

  /**
   * Feeds the current totals; samples when at least {@link ESTIMATOR_PERIOD_MS} passed.
   *
   * @returns whether a sample was taken
   */
  update(t: Totals, nowMs: number): boolean {
    if (!this.#last) {
      this.#last = { ...t };
      this.#lastMs = nowMs;
      return false;
    }
    const dt = nowMs - this.#lastMs;
    if (dt < ESTIMATOR_PERIOD_MS) return false;
    const s = 1000 / dt;
    const r = this.rates;
    const l = this.#last;
    r.cps += ((t.conns - l.conns) * s - r.cps) / 4;
    r.inPps += ((t.inPkts - l.inPkts) * s - r.inPps) / 4;
    r.outPps += ((t.outPkts - l.outPkts) * s - r.outPps) / 4;
    r.inBps += ((t.inBytes - l.inBytes) * s - r.inBps) / 4;
    r.outBps += ((t.outBytes - l.outBytes) * s - r.outBps) / 4;
    this.#last = { ...t };
    this.#lastMs = nowMs;
    return true;
  }
}
