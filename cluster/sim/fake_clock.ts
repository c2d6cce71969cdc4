/**
 * A simulated clock: timers live in a priority queue and {@link FakeClock.runUntil} jumps from
 * one to the next, so minutes of protocol time pass in milliseconds of CPU.
 *
 * @module
 */
import type { Clock, TimerHandle } from "../clock.ts";

interface Timer {
  at: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

/** A discrete-event clock implementing {@link Clock}. */
export class FakeClock implements Clock {
  #now = 0;
  #seq = 0;
  #heap: Timer[] = [];

  /** Current simulated time in milliseconds. */
  now(): number {
    return this.#now;
  }

  /** Schedules `fn` at now + `ms`. */
  setTimer(ms: number, fn: () => void): TimerHandle {
    const t: Timer = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn, cancelled: false };
    this.#push(t);
    return t;
  }

  /** Cancels a timer. */
  clearTimer(h: TimerHandle): void {
    if (h && typeof h === "object") (h as Timer).cancelled = true;
  }

  /** Timers waiting (cancelled ones included until they surface). */
  get pending(): number {
    return this.#heap.length;
  }

  /**
   * Runs timers in order until simulated time `untilMs`, or until `stop()` returns true (checked
   * after each timer).
   *
   * @returns the simulated time reached
   */
  runUntil(untilMs: number, stop?: () => boolean): number {
    while (this.#heap.length && this.#heap[0].at <= untilMs) {
      const t = this.#pop()!;
      if (t.cancelled) continue;
      this.#now = t.at;
      t.fn();
      if (stop?.()) return this.#now;
    }
    this.#now = Math.max(this.#now, untilMs);
    return this.#now;
  }

  /** Advances by `ms`. */
  advance(ms: number): number {
    return this.runUntil(this.#now + ms);
  }

  #less(a: Timer, b: Timer): boolean {
    return a.at < b.at || (a.at === b.at && a.seq < b.seq);
  }

  #push(t: Timer): void {
    const h = this.#heap;
    h.push(t);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#less(h[i], h[p])) break;
      [h[i], h[p]] = [h[p], h[i]];
      i = p;
    }
  }

  #pop(): Timer | undefined {
    const h = this.#heap;
    if (h.length === 0) return undefined;
    const top = h[0];
    const last = h.pop()!;
    if (h.length) {
      h[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < h.length && this.#less(h[l], h[m])) m = l;
        if (r < h.length && this.#less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]];
        i = m;
      }
    }
    return top;
  }
}

/**
 * A seeded pseudo-random generator (mulberry32), so simulations are reproducible.
 *
 * @returns a function giving numbers in [0, 1)
 */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
