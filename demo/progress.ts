/**
 * A progress bar for long-running CLI work: redrawn in place (`\r`, erase line) on a terminal,
 * plain lines at every 10% otherwise (CI logs, pipes), so logs stay readable.
 *
 * ```
 * load  [██████████████░░░░░░░░░░░░░░░░]  47%  4,700/10,000  812 req/s  hit 71.2%
 * ```
 *
 * @module
 */

/** Options of {@link ProgressBar}. */
export interface ProgressOptions {
  /** Word before the bar. */
  label: string;
  /** Whether output is a terminal; default `Deno.stdout.isTerminal()`. */
  tty?: boolean;
  /** Where text goes; default stdout. */
  write?: (text: string) => void;
  /** Bar width in cells; default 30. */
  width?: number;
  /** Minimum milliseconds between terminal redraws; default 100. */
  redrawMs?: number;
  /** Clock, for tests; default Date.now. */
  now?: () => number;
}

const encoder = new TextEncoder();

function writeStdout(text: string): void {
  const bytes = encoder.encode(text);
  let off = 0;
  while (off < bytes.length) off += Deno.stdout.writeSync(bytes.subarray(off));
}

/**
 * Renders one bar line (pure).
 *
 * @param fraction progress 0..1 (clamped)
 * @param width cells
 * @returns e.g. `[████░░░░]  50%`
 */
export function renderBar(fraction: number, width: number): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const full = Math.round(f * width);
  return `[${"█".repeat(full)}${"░".repeat(width - full)}] ${String(Math.floor(f * 100)).padStart(3)}%`;
}

/** A progress bar; call {@link ProgressBar.update} often and {@link ProgressBar.done} once. */
export class ProgressBar {
  readonly #label: string;
  readonly #tty: boolean;
  readonly #write: (text: string) => void;
  readonly #width: number;
  readonly #redrawMs: number;
  readonly #now: () => number;
  #lastDraw = -Infinity;
  #lastDecile = -1;
  #finished = false;

  /**
   * Creates a bar; nothing is drawn until the first update.
   *
   * @param opts label, output and redraw settings
   */
  constructor(opts: ProgressOptions) {
    this.#label = opts.label;
    this.#tty = opts.tty ?? Deno.stdout.isTerminal();
    this.#write = opts.write ?? writeStdout;
    this.#width = opts.width ?? 30;
    this.#redrawMs = opts.redrawMs ?? 100;
    this.#now = opts.now ?? Date.now;
  }

  /**
   * Reports progress.
   *
   * @param fraction 0..1
   * @param detail text after the bar (counts, rates)
   */
  update(fraction: number, detail = ""): void {
    if (this.#finished) return;
    const line = `${this.#label} ${renderBar(fraction, this.#width)}${detail ? "  " + detail : ""}`;
    if (this.#tty) {
      const t = this.#now();
      if (t - this.#lastDraw < this.#redrawMs && fraction < 1) return;
      this.#lastDraw = t;
      this.#write(`\r\x1b[2K${line}`);
    } else {
      const decile = Math.floor(Math.min(1, Math.max(0, fraction)) * 10);
      if (decile <= this.#lastDecile) return;
      this.#lastDecile = decile;
      this.#write(`${line}\n`);
    }
  }

  /** Draws the final state and ends the line. */
  done(fraction: number, detail = ""): void {
    if (this.#finished) return;
    if (this.#tty) {
      this.#lastDraw = -Infinity;
      this.update(fraction, detail);
      this.#write("\n");
    } else if (this.#lastDecile < 10) {
      // The final line, unless the 100% line was just printed.
      this.#lastDecile = -1;
      this.update(fraction, detail);
    }
    this.#finished = true;
  }
}
