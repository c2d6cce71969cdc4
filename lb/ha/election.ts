/**
 * The MASTER election of one VIP group, as a pure state machine (VRRP, RFC 5798 §6.4, with
 * keepalived's `nopreempt` and `preempt_delay`): no clocks, no sockets. The caller feeds it the
 * heartbeats it received with their arrival time, its own health, and a periodic {@link Election.tick};
 * each call returns what changed (the new role and why) and whether to send a heartbeat at once.
 *
 * ```text
 *            start                  master down timer ran out
 *   INIT ──────────► BACKUP ─────────────────────────────────────► MASTER
 *                      ▲  ◄─────────────────────────────────────────┘
 *                      │      heartbeat of a better MASTER
 *      healthy again   │
 *                    FAULT ◄── unhealthy (from any role)
 * ```
 *
 * - Master down interval = `deadAfter × advertIntervalMs + skew`, skew = `(256 − priority) / 256 ×
 *   advertIntervalMs`: the higher a BACKUP's priority, the sooner it takes over, so BACKUPs do not race.
 * - "Better" means higher priority; equal priorities are broken by the higher node id (VRRP uses the
 *   higher IP address).
 * - A BACKUP restarts its timer on every MASTER heartbeat, except (preempt on) one from a worse MASTER
 *   once it has been BACKUP for `preemptDelayMs`: it then lets the timer run out and takes over.
 *   With preempt off every MASTER's heartbeat holds it back.
 * - A priority-0 heartbeat is a MASTER's release (clean stop): a BACKUP then waits only the skew.
 * - A MASTER that hears a better MASTER (split brain healing, preemption) becomes BACKUP; hearing a
 *   worse one it answers with a heartbeat at once, so the other steps down.
 *
 * @module
 */

/** A director's role in its VIP group. */
export type HaRole = "INIT" | "BACKUP" | "MASTER" | "FAULT";

/** Options of an {@link Election}. */
export interface ElectionOptions {
  /** This node's id (node name); breaks priority ties, higher wins. */
  nodeId: string;
  /** 1-254. */
  priority: number;
  /** Take over from a worse MASTER (VRRP default true). */
  preempt: boolean;
  /** Time in BACKUP before preempting. */
  preemptDelayMs: number;
  /** Heartbeat interval, ms. */
  advertIntervalMs: number;
  /** Missed heartbeats before the MASTER is declared dead. */
  deadAfter: number;
}

/** A heartbeat as the election sees it. */
export interface Heartbeat {
  /** Sender's node id. */
  from: string;
  /** Sender's priority; 0 when it releases the group (clean stop). */
  priority: number;
  /** Sender's role when it sent it; only MASTER heartbeats take part in the election. */
  role: HaRole;
}

/** Why a role changed. */
export type TransitionReason =
  | "start"
  | "master-dead"
  | "master-released"
  | "preempted"
  | "better-master"
  | "fault"
  | "recovered"
  | "stop";

/** What a call changed. */
export interface ElectionOutput {
  /** The role before, when it changed. */
  from?: HaRole;
  /** The role now, when it changed. */
  to?: HaRole;
  /** Why it changed. */
  reason?: TransitionReason;
  /** Send a heartbeat now (new MASTER, or to make a worse MASTER step down). */
  advertNow: boolean;
}

const NOTHING: ElectionOutput = Object.freeze({ advertNow: false });

/** The election of one VIP group (see module doc). */
export class Election {
  readonly #o: ElectionOptions;
  #role: HaRole = "INIT";
  #masterDownAt = Infinity;
  #backupSince = 0;
  #master: string | undefined;
  /** A release (priority 0) arrived since the last heartbeat that held this BACKUP back. */
  #released = false;
  /** The last MASTER heartbeat was a worse MASTER's, ignored to preempt it. */
  #preempting = false;

  /** @param opts node id, priority, preempt, timing */
  constructor(opts: ElectionOptions) {
    if (opts.priority < 1 || opts.priority > 254) throw new RangeError(`Priority ${opts.priority} is not in 1-254`);
    this.#o = { ...opts };
  }

  /** The current role. */
  get role(): HaRole {
    return this.#role;
  }

  /** The MASTER this node follows (its own id when MASTER), if known. */
  get master(): string | undefined {
    return this.#role === "MASTER" ? this.#o.nodeId : this.#master;
  }

  /** ms a BACKUP waits without a heartbeat: deadAfter × interval + skew. */
  get masterDownIntervalMs(): number {
    return this.#o.deadAfter * this.#o.advertIntervalMs + this.skewMs;
  }

  /** (256 − priority) / 256 × interval. */
  get skewMs(): number {
    return ((256 - this.#o.priority) * this.#o.advertIntervalMs) / 256;
  }

  /** When a BACKUP will take over if no heartbeat holds it back (Infinity otherwise). */
  get masterDownAt(): number {
    return this.#role === "BACKUP" ? this.#masterDownAt : Infinity;
  }

  /** Leaves INIT: becomes BACKUP and starts the master down timer. */
  start(nowMs: number): ElectionOutput {
    if (this.#role !== "INIT") return NOTHING;
    return this.#toBackup(nowMs, this.masterDownIntervalMs, "start");
  }

  /**
   * Feeds a received heartbeat.
   *
   * @param hb the heartbeat (its sender is never this node)
   * @param nowMs arrival time
   */
  heartbeat(hb: Heartbeat, nowMs: number): ElectionOutput {
    if (hb.from === this.#o.nodeId || hb.role !== "MASTER") return NOTHING;
    if (this.#role === "BACKUP") {
      if (hb.priority === 0) {
        this.#master = undefined;
        this.#released = true;
        this.#masterDownAt = Math.min(this.#masterDownAt, nowMs + this.skewMs);
        return NOTHING;
      }
      const worse = !this.#better(hb);
      const mayPreempt = this.#o.preempt && nowMs - this.#backupSince >= this.#o.preemptDelayMs;
      if (worse && mayPreempt) {
        this.#preempting = true;
        return NOTHING; // let the timer run out, then take over
      }
      this.#master = hb.from;
      this.#released = false;
      this.#preempting = false;
      this.#masterDownAt = nowMs + this.masterDownIntervalMs;
      return NOTHING;
    }
    if (this.#role === "MASTER") {
      if (hb.priority !== 0 && this.#better(hb)) {
        this.#master = hb.from;
        return this.#toBackup(nowMs, this.masterDownIntervalMs, "better-master");
      }
      return { advertNow: true };
    }
    return NOTHING;
  }

  /** Runs the timers: a BACKUP whose master down timer ran out becomes MASTER. */
  tick(nowMs: number): ElectionOutput {
    if (this.#role !== "BACKUP" || nowMs < this.#masterDownAt) return NOTHING;
    const reason: TransitionReason = this.#released
      ? "master-released"
      : this.#preempting
      ? "preempted"
      : "master-dead";
    return this.#set("MASTER", reason, true);
  }

  /**
   * Own health (the data plane runs, the interface is up): unhealthy → FAULT (releasing the VIPs);
   * healthy again → BACKUP.
   */
  health(ok: boolean, nowMs: number): ElectionOutput {
    if (!ok && this.#role !== "FAULT" && this.#role !== "INIT") return this.#set("FAULT", "fault", false);
    if (ok && this.#role === "FAULT") return this.#toBackup(nowMs, this.masterDownIntervalMs, "recovered");
    return NOTHING;
  }

  /** Clean stop: back to INIT; a MASTER must then send its priority-0 release ({@link advertNow}). */
  stop(): ElectionOutput {
    if (this.#role === "INIT") return NOTHING;
    return this.#set("INIT", "stop", this.#role === "MASTER");
  }

  #better(hb: Heartbeat): boolean {
    if (hb.priority !== this.#o.priority) return hb.priority > this.#o.priority;
    return hb.from > this.#o.nodeId;
  }

  #toBackup(nowMs: number, waitMs: number, reason: TransitionReason): ElectionOutput {
    this.#backupSince = nowMs;
    this.#masterDownAt = nowMs + waitMs;
    this.#released = false;
    this.#preempting = false;
    if (reason !== "better-master") this.#master = undefined;
    return this.#set("BACKUP", reason, false);
  }

  #set(to: HaRole, reason: TransitionReason, advertNow: boolean): ElectionOutput {
    const from = this.#role;
    this.#role = to;
    if (to === "MASTER") this.#master = undefined;
    return { from, to, reason, advertNow };
  }
}
