/**
 * The data-plane Worker's side of director HA: keeps the connection-sync journal on the MASTER and
 * applies synced batches on a BACKUP, called from the forwarding loop at every wake-up (at least every
 * 100 ms), so it costs nothing per packet:
 *
 * - active (MASTER): every `syncIntervalMs` the journal's batch is posted to the main thread
 *   (`{type: "ha-sync", state, full: false}`), which splits, seals and sends it to the BACKUPs;
 * - on a full-table request (a new peer, the periodic refresh, a MASTER stepping down) the whole
 *   table is posted (`full: true`);
 * - always: batches the main thread received from the MASTER are taken from the {@link SyncInbox},
 *   decoded and applied (`sync_apply.ts`); a MASTER applies them too (split brain: both tables end up
 *   holding both sides' flows).
 *
 * @module
 */
import { exportConnState } from "../conn_state.ts";
import { type ConnState, connStateBuffers, decodeConnState } from "../conn_state_codec.ts";
import type { Dispatcher } from "../dispatcher.ts";
import { ConnChangeJournal } from "./conn_change_log.ts";
import { applySyncBatch } from "./sync_apply.ts";
import { SYNC_COUNTERS, SyncInbox } from "./sync_inbox.ts";

/** What the Worker is started with for HA. */
export interface HaLoopInit {
  /** The {@link SyncInbox}'s memory. */
  inbox: SharedArrayBuffer;
  /** ms between change batches. */
  syncIntervalMs: number;
}

/** A message from the Worker with connection state to sync. */
export interface HaSyncMessage {
  type: "ha-sync";
  state: ConnState;
  /** The whole table (else only changes). */
  full: boolean;
}

/** The Worker's HA hook (see module doc). */
export class HaLoopHook {
  readonly #inbox: SyncInbox;
  readonly #intervalMs: number;
  readonly #post: (msg: HaSyncMessage, transfer: ArrayBuffer[]) => void;
  #journal: ConnChangeJournal | undefined;
  #active = false;
  #lastMs = 0;

  /**
   * @param init the inbox and interval
   * @param post sends a message to the main thread
   */
  constructor(init: HaLoopInit, post: (msg: HaSyncMessage, transfer: ArrayBuffer[]) => void) {
    this.#inbox = new SyncInbox(init.inbox);
    this.#intervalMs = init.syncIntervalMs;
    this.#post = post;
  }

  /** Hooks the journal into the dispatcher (once, after it is created). */
  attach(d: Dispatcher): void {
    if (this.#journal) return;
    this.#journal = new ConnChangeJournal(d);
    d.changeLog = this.#journal;
    this.#journal.enabled = this.#active;
  }

  /** MASTER (records and posts changes) or not. */
  setActive(active: boolean): void {
    this.#active = active;
    if (this.#journal) this.#journal.enabled = active;
  }

  /** Applies synced batches, posts due changes and requested full tables. */
  poll(d: Dispatcher, nowMs: number): void {
    const C = this.#inbox.counters;
    for (let m = this.#inbox.pop(); m; m = this.#inbox.pop()) {
      let state: ConnState;
      try {
        state = decodeConnState(m);
      } catch {
        C[SYNC_COUNTERS.decodeErrors]++;
        continue;
      }
      // Applied without journaling: a MASTER must not send the other side's entries back.
      const j = this.#journal, was = j?.enabled ?? false;
      if (j) j.enabled = false;
      const s = applySyncBatch(d, state, nowMs, Date.now());
      if (j) j.enabled = was;
      C[SYNC_COUNTERS.batches]++;
      C[SYNC_COUNTERS.conns] += s.conns;
      C[SYNC_COUNTERS.removed] += s.removed;
      C[SYNC_COUNTERS.templates] += s.templates;
      C[SYNC_COUNTERS.unknownServer] += s.unknownServer;
      C[SYNC_COUNTERS.full] += s.full;
    }
    // Served in any role: a MASTER stepping down hands its table to the new one (split brain).
    if (this.#inbox.takeFullRequest()) {
      this.#send(exportConnState(d, nowMs, Date.now()), true);
    }
    if (!this.#active || nowMs - this.#lastMs < this.#intervalMs) return;
    this.#lastMs = nowMs;
    const batch = this.#journal?.take(nowMs, Date.now());
    if (batch) this.#send(batch, false);
  }

  #send(state: ConnState, full: boolean): void {
    const C = this.#inbox.counters;
    C[SYNC_COUNTERS.posted]++;
    C[SYNC_COUNTERS.postedRecords] += state.conns.saddr.length + state.templates.client.length;
    this.#post({ type: "ha-sync", state, full }, connStateBuffers(state));
  }
}
