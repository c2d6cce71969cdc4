/**
 * A cache directory's write failures: counts by reason (stats and metric), and the pause after a
 * full disk (ENOSPC) during which new objects are refused at once, logged once when it starts and
 * once when the directory accepts objects again. Shared by the ufs and rock directory types.
 *
 * @module
 */
import { getLogger } from "../../../core/log.ts";
import type { StoreWriter } from "../store.ts";
import { StoreWriteError, type WriteFailureReason } from "./_disk_writer.ts";
import * as m from "./metrics.ts";

const log = getLogger("cache.store.disk");

/** Write failures of one cache directory. */
export class WriteFailures {
  readonly #dir: string;
  readonly #backoffMs: number;
  #noSpaceUntil = 0;
  #noSpaceLogged = false;
  /** Failures by reason, for the directory's stats. */
  readonly counts: Record<string, number> = {};

  /**
   * @param dir the directory's path (log and metric label)
   * @param backoffMs how long storing pauses after ENOSPC
   */
  constructor(dir: string, backoffMs: number) {
    this.#dir = dir;
    this.#backoffMs = backoffMs;
  }

  /** True while storing is paused after a full disk. */
  get paused(): boolean {
    return Date.now() < this.#noSpaceUntil;
  }

  /** Counts a failure without logging (e.g. an object refused as too large). */
  count(reason: WriteFailureReason): void {
    this.counts[reason] = (this.counts[reason] ?? 0) + 1;
    m.diskWriteFailures.inc({ dir: this.#dir, reason });
  }

  /** Counts a failure; a full disk starts the pause (logged once), an I/O error is logged. */
  failed(reason: WriteFailureReason, e: unknown): void {
    this.count(reason);
    if (reason === "nospace") {
      this.#noSpaceUntil = Date.now() + this.#backoffMs;
      if (!this.#noSpaceLogged) {
        this.#noSpaceLogged = true;
        log.warn("Cache directory is full (ENOSPC): storing paused, serving continues", {
          dir: this.#dir,
          retryMs: this.#backoffMs,
          error: e,
        });
      }
    } else if (reason === "io") {
      log.warn("Cannot store object", { dir: this.#dir, error: e });
    }
  }

  /** Notes a stored object: after a full-disk pause, says once that the directory accepts objects again. */
  stored(): void {
    if (this.#noSpaceLogged) {
      this.#noSpaceLogged = false;
      log.info("Cache directory accepts objects again", { dir: this.#dir });
    }
  }

  /** A writer that refuses everything while paused; the refusal is counted once. */
  refusingWriter(): StoreWriter {
    const err = new StoreWriteError(`Cannot store object: cache directory "${this.#dir}" is full`, "nospace");
    let counted = false;
    const refuse = () => {
      if (!counted) this.count("nospace");
      counted = true;
      return Promise.reject(err);
    };
    return { write: refuse, commit: refuse, abort: () => {} };
  }
}
