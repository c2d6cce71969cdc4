/**
 * The data-plane Worker's side of `director.stateFile`: restores the saved connection state into
 * the Worker's dispatcher right after its first configuration (before the first packet is
 * forwarded), and hands snapshots to the main thread, which compacts, encodes and writes them
 * (`compactConnState`, `lb/conn_state_file.ts`), so the synchronous forwarding loop only pays for
 * copying the table's typed arrays (`snapshotConnState`):
 *
 * - every `saveIntervalMs` from housekeeping, when the table changed since the last snapshot
 *   (an unchanged table's saved remaining times are still exact: they are relative to the
 *   snapshot's wall-clock time);
 * - once more when the loop stops (SIGTERM/SIGINT), marked final, changed or not.
 *
 * Messages posted: `{type: "restored", summary, ms}` and `{type: "state", snapshot, exportMs, final}`
 * (the snapshot's typed arrays are transferred, not copied).
 *
 * @module
 */
import {
  type ConnSnapshot,
  connSnapshotBuffers,
  importConnState,
  type RestoreSummary,
  snapshotConnState,
} from "../conn_state.ts";
import type { ConnState } from "../conn_state_codec.ts";
import type { Dispatcher } from "../dispatcher.ts";

/** What the forwarding loop calls (the only coupling between the loop and state saving). */
export interface LoopStateHook {
  /** After each configuration is applied; the first call restores. */
  configured(d: Dispatcher, nowMs: number): void;
  /** From housekeeping (about once a second). */
  tick(d: Dispatcher, nowMs: number): void;
  /** When the loop leaves after a stop request. */
  stop(d: Dispatcher, nowMs: number): void;
}

/** A message from the Worker about connection state. */
export type StateMessage =
  | { type: "restored"; summary: RestoreSummary; ms: number }
  | { type: "state"; snapshot: ConnSnapshot; exportMs: number; final: boolean };

/** Options of {@link StateKeeper}. */
export interface StateKeeperOptions {
  /** The snapshot to restore (decoded by the main thread), if any. */
  restore?: ConnState;
  /** Minimum ms between snapshots while the table changes. */
  saveIntervalMs: number;
}

/** Restores once, then snapshots on change (see module doc). */
export class StateKeeper implements LoopStateHook {
  #restore: ConnState | undefined;
  readonly #intervalMs: number;
  readonly #post: (msg: StateMessage, transfer: ArrayBuffer[]) => void;
  #restored = false;
  #lastMs = 0;
  #lastChanges = -1;

  /**
   * @param opts snapshot to restore and save interval
   * @param post sends a message to the main thread
   */
  constructor(opts: StateKeeperOptions, post: (msg: StateMessage, transfer: ArrayBuffer[]) => void) {
    this.#restore = opts.restore;
    this.#intervalMs = opts.saveIntervalMs;
    this.#post = post;
  }

  configured(d: Dispatcher, nowMs: number): void {
    if (this.#restored) return;
    this.#restored = true;
    const s = this.#restore;
    this.#restore = undefined;
    if (s) {
      const t0 = performance.now();
      const summary = importConnState(d, s, nowMs, Date.now());
      this.#post({ type: "restored", summary, ms: performance.now() - t0 }, []);
    }
    this.#lastMs = nowMs;
    this.#lastChanges = d.changes;
  }

  tick(d: Dispatcher, nowMs: number): void {
    if (nowMs - this.#lastMs < this.#intervalMs) return;
    this.#snapshot(d, nowMs, false);
  }

  stop(d: Dispatcher, nowMs: number): void {
    // Always, changed or not: the stop then always ends with a fresh file and one log line.
    this.#snapshot(d, nowMs, true);
  }

  #snapshot(d: Dispatcher, nowMs: number, final: boolean): void {
    this.#lastMs = nowMs;
    if (!final && d.changes === this.#lastChanges) return;
    this.#lastChanges = d.changes;
    const t0 = performance.now();
    const snapshot = snapshotConnState(d, nowMs, Date.now());
    this.#post({ type: "state", snapshot, exportMs: performance.now() - t0, final }, connSnapshotBuffers(snapshot));
  }
}
