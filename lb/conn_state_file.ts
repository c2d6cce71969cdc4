/**
 * The director's connection-state file (`director.stateFile`): reads the snapshot a previous run
 * left, and writes new ones atomically (a temporary file in the same directory, then `rename()`),
 * so a crash or kill -9 at any moment leaves either the previous complete file or the new one.
 *
 * Writes are coalesced: while one is running, a newer snapshot replaces any waiting one, so a slow
 * disk never queues up memory. No fsync: the file protects against process restarts, not power
 * loss; after a power loss a torn file fails its checksum and the director starts with an empty
 * table (flows then survive only with deterministic schedulers, as without this file).
 *
 * A file that is damaged, truncated, of another version or not a state file at all is ignored with
 * one warning naming the file and the reason; the director then starts with an empty table. The
 * file holds client addresses, so it is written with mode 0600.
 *
 * @module
 */
import { getLogger } from "../core/log.ts";
import { type ConnState, decodeConnState, encodeConnState } from "./conn_state_codec.ts";
import { stateLastSave, stateSaveFailures, stateSaves } from "./metrics.ts";

const log = getLogger("lb.state");

function parentDir(path: string): string {
  const i = path.lastIndexOf("/");
  return i < 0 ? "." : i === 0 ? "/" : path.slice(0, i);
}

/** Figures of the last successful save. */
export interface SaveFigures {
  /** File size. */
  bytes: number;
  /** Connection entries written. */
  conns: number;
  /** Templates written. */
  templates: number;
  /** Milliseconds to encode. */
  encodeMs: number;
  /** Milliseconds to write and rename. */
  writeMs: number;
}

/** Reads and writes one connection-state file (see module doc). */
export class ConnStateFile {
  /** The file's path. */
  readonly path: string;
  #pending: ConnState | undefined;
  #running: Promise<void> | undefined;
  #failing = false;
  #dirReady = false;
  /** The last successful save, if any. */
  last: SaveFigures | undefined;

  /** @param path where the state lives */
  constructor(path: string) {
    this.path = path;
  }

  /**
   * Reads and decodes the saved state.
   *
   * @returns the snapshot, or `undefined` when there is none or it cannot be used (logged)
   */
  async read(): Promise<ConnState | undefined> {
    let bytes: Uint8Array;
    try {
      bytes = await Deno.readFile(this.path);
    } catch (e) {
      if (e instanceof Deno.errors.NotFound) {
        log.info("No saved connection state: starting with an empty connection table", { file: this.path });
      } else {
        log.warn("Cannot read the saved connection state: starting with an empty connection table", {
          file: this.path,
          error: (e as Error).message,
        });
      }
      return undefined;
    }
    try {
      return decodeConnState(bytes);
    } catch (e) {
      log.warn("Ignoring the saved connection state: starting with an empty connection table", {
        file: this.path,
        bytes: bytes.length,
        error: (e as Error).message,
      });
      return undefined;
    }
  }

  /**
   * Queues a snapshot for writing; returns at once. A snapshot waiting behind a running write is
   * replaced by a newer one.
   */
  save(state: ConnState): void {
    this.#pending = state;
    this.#running ??= this.#drain();
  }

  /** Resolves when every queued snapshot is on disk (or failed, which is logged). */
  async flush(): Promise<void> {
    while (this.#running) await this.#running;
  }

  async #drain(): Promise<void> {
    try {
      while (this.#pending) {
        const s = this.#pending;
        this.#pending = undefined;
        await this.#write(s);
      }
    } finally {
      this.#running = undefined;
    }
  }

  async #write(s: ConnState): Promise<void> {
    // Encoding a big table takes tens of ms: let timers (health checks) run first.
    await new Promise((r) => setTimeout(r, 0));
    const t0 = performance.now();
    let bytes: Uint8Array;
    try {
      bytes = encodeConnState(s);
    } catch (e) {
      this.#failed("encode", e as Error);
      return;
    }
    const t1 = performance.now();
    const tmp = `${this.path}.tmp-${Deno.pid}`;
    try {
      if (!this.#dirReady) {
        await Deno.mkdir(parentDir(this.path), { recursive: true, mode: 0o700 });
        this.#dirReady = true;
      }
      await Deno.writeFile(tmp, bytes, { mode: 0o600 });
      await Deno.rename(tmp, this.path);
    } catch (e) {
      await Deno.remove(tmp).catch(() => {});
      this.#failed("write", e as Error);
      return;
    }
    const t2 = performance.now();
    this.last = {
      bytes: bytes.length,
      conns: s.conns.saddr.length,
      templates: s.templates.client.length,
      encodeMs: t1 - t0,
      writeMs: t2 - t1,
    };
    stateSaves.inc();
    stateLastSave.set(s.savedAtMs / 1000);
    if (this.#failing) {
      this.#failing = false;
      log.info("Saving the connection state works again", { file: this.path });
    }
    log.debug("Saved the connection state", { file: this.path, ...this.last });
  }

  #failed(reason: "encode" | "write", e: Error): void {
    stateSaveFailures.inc({ reason });
    // Once per failure streak: a full disk would otherwise log every second.
    if (!this.#failing) {
      this.#failing = true;
      log.error("Cannot save the connection state", { file: this.path, reason, error: e.message });
    }
  }
}
