/**
 * Lifeguard's suspicion timer: a suspected member is declared dead when its timer fires; the
 * timeout starts at `maxMs` and shrinks toward `minMs` as independent members confirm the
 * suspicion (Lifeguard §4.2, as in memberlist's `suspicion.go`):
 *
 * ```
 * timeout(C) = max(minMs, maxMs − (maxMs − minMs) · log(C + 1) / log(K + 1))
 * ```
 *
 * where C is the number of confirmations so far and K the number expected. With K < 1 the timeout
 * is `minMs` at once. `minMs` itself scales with cluster size, see {@link suspicionTimeoutMs}.
 *
 * @module
 */
import type { Clock, TimerHandle } from "./clock.ts";

/**
 * The minimum suspicion time for a cluster of `n` members (memberlist's formula):
 * `mult × max(1, log10(max(1, n))) × probeIntervalMs`.
 *
 * @example
 * ```ts
 * suspicionTimeoutMs(100, { mult: 4, probeIntervalMs: 1000 }); // 8000
 * ```
 */
export function suspicionTimeoutMs(n: number, o: { mult: number; probeIntervalMs: number }): number {
  const { mult, probeIntervalMs } = o;
  const scale = Math.max(1, Math.log10(Math.max(1, n)));
  return mult * scale * probeIntervalMs;
}

/** Inputs of {@link remainingSuspicionMs}. */
export interface SuspicionTiming {
  /** Confirmations so far (C). */
  confirmations: number;
  /** Confirmations expected (K). */
  k: number;
  /** Time since the suspicion started. */
  elapsedMs: number;
  minMs: number;
  maxMs: number;
}

/**
 * Time left of a suspicion after `elapsedMs` with C of K confirmations.
 *
 * @returns milliseconds, possibly ≤ 0 when the suspicion has expired
 */
export function remainingSuspicionMs(t: SuspicionTiming): number {
  const { confirmations: c, k, elapsedMs, minMs, maxMs } = t;
  if (k < 1) return minMs - elapsedMs;
  const frac = Math.log(c + 1) / Math.log(k + 1);
  const timeout = Math.max(minMs, Math.floor(maxMs - frac * (maxMs - minMs)));
  return timeout - elapsedMs;
}

/** Options of a {@link Suspicion}. */
export interface SuspicionOptions {
  /** The member that raised the suspicion (does not count as a confirmation). */
  from: string;
  /** Confirmations expected (K). */
  k: number;
  minMs: number;
  maxMs: number;
  clock: Clock;
  /** Called once when the timer fires, with the number of confirmations seen. */
  onTimeout: (confirmations: number) => void;
}

/** One running suspicion of one member. */
export class Suspicion {
  readonly #o: SuspicionOptions;
  readonly #start: number;
  readonly #confirmers = new Set<string>();
  #timer: TimerHandle;
  #done = false;

  constructor(o: SuspicionOptions) {
    this.#o = o;
    this.#start = o.clock.now();
    this.#confirmers.add(o.from);
    const ms = o.k < 1 ? o.minMs : o.maxMs;
    this.#timer = o.clock.setTimer(ms, () => this.#fire());
  }

  /** Confirmations counted so far (excluding the first suspecter). */
  get confirmations(): number {
    return this.#confirmers.size - 1;
  }

  /**
   * Records an independent confirmation and shortens the timer.
   *
   * @returns true when `from` is a new confirmer (the caller re-gossips the suspicion then)
   */
  confirm(from: string): boolean {
    if (this.#done || this.confirmations >= this.#o.k || this.#confirmers.has(from)) return false;
    this.#confirmers.add(from);
    const o = this.#o;
    const left = remainingSuspicionMs({
      confirmations: this.confirmations,
      k: o.k,
      elapsedMs: o.clock.now() - this.#start,
      minMs: o.minMs,
      maxMs: o.maxMs,
    });
    o.clock.clearTimer(this.#timer);
    if (left > 0) this.#timer = o.clock.setTimer(left, () => this.#fire());
    else this.#fire();
    return true;
  }

  /** Cancels the timer (the member was refuted or removed). */
  stop(): void {
    this.#done = true;
    this.#o.clock.clearTimer(this.#timer);
  }

  #fire(): void {
    if (this.#done) return;
    this.#done = true;
    this.#o.onTimeout(this.confirmations);
  }
}
