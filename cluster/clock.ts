/**
 * Time as the protocol sees it: the real clock, or a simulated one (`sim/fake_clock.ts`) so that
 * hundreds of nodes can run faster than real time.
 *
 * @module
 */

/** An opaque timer handle. */
export type TimerHandle = unknown;

/** Millisecond time and one-shot timers. */
export interface Clock {
  /** Milliseconds since an arbitrary origin. */
  now(): number;
  /** Calls `fn` once after `ms` milliseconds. */
  setTimer(ms: number, fn: () => void): TimerHandle;
  /** Cancels a timer; unknown or fired handles are ignored. */
  clearTimer(h: TimerHandle): void;
}

/** The wall clock with `setTimeout`. */
export const realClock: Clock = {
  now: () => performance.now(),
  setTimer: (ms, fn) => setTimeout(fn, ms),
  clearTimer: (h) => clearTimeout(h as number),
};
