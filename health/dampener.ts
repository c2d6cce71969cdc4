/**
 * Rise/fall dampening of check results (keepalived's `rise`/`fall`, GLB's healthcheck state): a
 * server changes state only after `rise` consecutive successes (down → up) or `fall` consecutive
 * failures (up → down). Pure: feed it booleans, read the state.
 *
 * ```text
 * fall = 3:  results  1 1 0 0 1 0 0 0 1 1
 *            state    U U U U U U U D D U   (rise = 2)
 * ```
 *
 * @module
 */

/** Rise/fall state machine for one server. */
export class Dampener {
  /** Consecutive successes to come up. */
  readonly rise: number;
  /** Consecutive failures to go down. */
  readonly fall: number;
  #up: boolean;
  #streak = 0;

  /**
   * Creates a dampener.
   *
   * @param opts.rise consecutive successes to come up (≥ 1)
   * @param opts.fall consecutive failures to go down (≥ 1)
   * @param opts.initiallyUp start state (keepalived starts servers up)
   * @throws {RangeError} when rise or fall is below 1
   */
  constructor(opts: { rise: number; fall: number; initiallyUp?: boolean }) {
    if (!(opts.rise >= 1) || !(opts.fall >= 1)) {
      throw new RangeError(`Cannot create dampener: rise ${opts.rise} and fall ${opts.fall} must be at least 1`);
    }
    this.rise = opts.rise;
    this.fall = opts.fall;
    this.#up = opts.initiallyUp ?? true;
  }

  /** Current state. */
  get up(): boolean {
    return this.#up;
  }

  /**
   * Feeds one check result.
   *
   * @returns whether the state changed
   */
  feed(ok: boolean): boolean {
    if (ok === this.#up) {
      this.#streak = 0;
      return false;
    }
    this.#streak++;
    if (this.#streak >= (this.#up ? this.fall : this.rise)) {
      this.#up = !this.#up;
      this.#streak = 0;
      return true;
    }
    return false;
  }
}

/** States after each result of a sequence (for tables of expected behaviour). */
export function dampen(
  results: readonly boolean[],
  opts: { rise: number; fall: number; initiallyUp?: boolean },
): boolean[] {
  const d = new Dampener(opts);
  return results.map((r) => {
    d.feed(r);
    return d.up;
  });
}
