/**
 * Lifeguard's local health awareness (§4.1): a node that misses its own acks, needs to refute
 * suspicions about itself, or gets fewer nacks than expected is probably the slow one; it raises
 * its score and stretches its probe interval and timeouts by `(score + 1)`, so that an overloaded
 * node does not accuse healthy ones. Successful probes lower the score again.
 *
 * @module
 */

/** The awareness score, 0 (healthy) to `max − 1`. */
export class Awareness {
  readonly #max: number;
  #score = 0;

  /** @param max scores range over 0..max−1 (memberlist's AwarenessMaxMultiplier, default 8) */
  constructor(max = 8) {
    this.#max = max;
  }

  /** The current score. */
  get score(): number {
    return this.#score;
  }

  /** Adds `delta` (positive: worse health), clamped to 0..max−1. */
  apply(delta: number): void {
    this.#score = Math.min(this.#max - 1, Math.max(0, this.#score + delta));
  }

  /** Scales a timeout: `ms × (score + 1)`. */
  scale(ms: number): number {
    return ms * (this.#score + 1);
  }
}
