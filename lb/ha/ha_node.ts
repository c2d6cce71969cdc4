/**
 * One director's HA runtime (`director.ha.mode: active-backup`): the heartbeat and connection-sync
 * channel over UDP, sealed with the cluster key, driving the {@link Election} and the data plane.
 *
 * - Every node sends a heartbeat to every peer each `advertIntervalMs` (the MASTER's keep BACKUPs
 *   back; BACKUPs' let the MASTER and `director status` know the peers). The election runs on a timer
 *   of a fifth of the interval.
 * - Becoming MASTER switches the data plane to forwarding, which answers ARP for the VIPs and sends
 *   gratuitous ARPs at once; leaving MASTER (a better MASTER, FAULT) switches it back to standby.
 * - A clean {@link stop} of the MASTER stops answering ARP for the VIPs, then sends priority-0
 *   heartbeats (VRRP's release), so the best BACKUP takes over after its skew (< one interval)
 *   instead of the dead interval. The data plane keeps forwarding until the process ends, so
 *   nothing is dropped in between.
 * - The MASTER's data plane posts its connection changes every `sync.intervalMs`; they are split
 *   into datagrams (`sync_chunks.ts`) and sent to every peer. Each peer's first heartbeat (new epoch),
 *   a peer stepping down from MASTER (split brain healed) and the `sync.fullSyncIntervalMs` timer make
 *   it send its whole table. Received batches go to this node's data plane in any role.
 * - Sync datagrams are numbered (the sync sequence, from 1 in each epoch) and sent one batch after
 *   another, never interleaved. A BACKUP tracks the MASTER it follows (`sync_gap_tracker.ts`): a batch
 *   missing for `sync.gapGraceMs` (lost, its inbox was full, or named by the MASTER's heartbeat but
 *   never received) makes it send a sealed resync request at once, at most every
 *   `sync.resyncIntervalMs`. The MASTER answers with its whole table unless one is already on its way
 *   that was read after the gap, and serves at most one per 200 ms. Each BACKUP's heartbeat reports
 *   the highest sequence it holds without a gap, so the MASTER shows how far behind it is.
 * - Every datagram is authenticated (AES-GCM, `cluster/keyring.ts`, which also refuses old and
 *   repeated nonces), then checked for its group and for a new (epoch, sequence) (`replay_guard.ts`).
 *
 * @module
 */
import type { DirectorHaConfig } from "../../config/director_ha_schema.ts";
import { formatHostPort, parseHostPort } from "../../core/addr.ts";
import { listenError } from "../../core/listen_error.ts";
import { getLogger } from "../../core/log.ts";
import { EnvelopeError, type Keyring } from "../../cluster/keyring.ts";
import { type ConnState, encodeConnState } from "../conn_state_codec.ts";
import { Election, type ElectionOutput, type HaRole } from "./election.ts";
import type { HaDataplane, SyncCounters } from "./ha_dataplane.ts";
import {
  decodeHaMessage,
  encodeHeartbeat,
  encodeResync,
  encodeSync,
  HA_HEADER_BYTES,
  HaDecodeError,
  type HaHeartbeat,
  type HaResync,
  type HaSync,
  SYNC_FULL,
  SYNC_FULL_END,
  SYNC_FULL_START,
} from "./message.ts";
import {
  haDropped,
  haHeartbeats,
  haLastTakeover,
  haSyncDatagrams,
  haSyncRecords,
  haTakeovers,
  haTransitions,
} from "./metrics.ts";
import { ReplayGuard } from "./replay_guard.ts";
import { chunkConnState } from "./sync_chunks.ts";
import { type ResyncDue, SyncGapTracker } from "./sync_gap_tracker.ts";

const log = getLogger("lb.ha");
/** Bytes the keyring's envelope adds (version, nonce, tag). */
const ENVELOPE_BYTES = 1 + 12 + 16;
/** A full table is requested at most this often for new peers (several appearing at once share one). */
const FULL_REQUEST_GAP_MS = 200;
/** Sync datagrams sent back to back before a 1 ms pause. */
const PACE_DATAGRAMS = 32;
/** A full table asked of the data plane but not begun after this long is no longer awaited. */
const FULL_PENDING_MAX_MS = 2000;

/** A peer as `director status` shows it. */
export interface HaPeerStatus {
  node: string;
  /** Source address of its last datagram. */
  address: string;
  role: HaRole;
  priority: number;
  /** ms since its last heartbeat. */
  lastSeenMsAgo: number;
  /** Entries in its table, by its last heartbeat. */
  entries: number;
  /** Highest of this node's sync sequences it holds without a gap (when this node is its MASTER). */
  syncHeld?: number;
  /** This node's sync datagrams it lacks: last sent − held (when this node is its MASTER). */
  syncBehind?: number;
}

/** The HA part of `/director/status`. */
export interface HaStatus {
  mode: string;
  group: string;
  node: string;
  role: HaRole;
  /** When the current role began (ISO time). */
  roleSince: string;
  priority: number;
  preempt: boolean;
  advertIntervalMs: number;
  /** deadAfter × interval + skew. */
  masterDownIntervalMs: number;
  /** The MASTER this node follows, or itself. */
  master?: string;
  peers: HaPeerStatus[];
  sync: {
    sentDatagrams: number;
    sentRecords: number;
    fullTablesSent: number;
    receivedDatagrams: number;
    /** Age of the last received batch on arrival, ms. */
    lastLagMs?: number;
    /** What this node's data plane did with received batches. */
    applied?: SyncCounters;
    /** Last sync sequence this node sent (its epoch). */
    seq: number;
    /** BACKUP: the MASTER's stream it follows. */
    following?: { node: string; epoch: number; held: number; highest: number; missing: number };
    /** Missing batches that outlived `gapGraceMs`. */
    gaps: number;
    /** Batches that arrived out of order and filled a gap. */
    late: number;
    /** Batches received twice (not applied). */
    duplicates: number;
    /** Gaps a complete full table repaired. */
    repaired: number;
    /** Resync requests sent (BACKUP) and what this node did with those it received (MASTER). */
    resync: { requested: number; served: number; coalesced: number; covered: number; refused: number };
  };
  lastTakeover?: {
    at: string;
    reason: string;
    /** The MASTER before, when known. */
    previousMaster?: string;
    /** ms between the previous MASTER's last heartbeat and the takeover. */
    silentMs?: number;
  };
  transitions: number;
}

/** Options of an {@link HaNode}. */
export interface HaNodeOptions {
  /** `director.ha`. */
  config: DirectorHaConfig;
  /** This node's id (`cluster.nodeName`). */
  nodeId: string;
  /** Seals and opens every datagram. */
  keyring: Keyring;
  /** Address to bind `config.listen` on. */
  bindAddress: string;
  /** Peers to send to, `HOST:PORT` (re-read at every send: membership may change). */
  peers: () => string[];
  /** The data plane to drive. */
  dataplane: HaDataplane;
}

interface Peer {
  node: string;
  address: string;
  epoch: number;
  role: HaRole;
  priority: number;
  lastSeenMs: number;
  entries: number;
  syncEpoch: number;
  syncSeq: number;
}

/** The HA runtime of one director (see module doc). */
export class HaNode {
  readonly #o: HaNodeOptions;
  readonly #c: DirectorHaConfig;
  readonly #election: Election;
  readonly #guard = new ReplayGuard();
  readonly #epoch = Date.now();
  readonly #peers = new Map<string, Peer>();
  #seq = 0;
  /** Sync sequence: sync datagrams sent in this epoch. */
  #syncSeq = 0;
  /** Sync sends in order: a batch's datagrams are numbered and sent before the next batch's. */
  #sendChain: Promise<void> = Promise.resolve();
  readonly #gaps: SyncGapTracker;
  /** When a full table was asked of the data plane and has not begun yet. */
  #fullPendingSinceMs: number | undefined;
  /** Sync sequence of the last full table's first part. */
  #lastFullStart = 0;
  #deferredFull: ReturnType<typeof setTimeout> | undefined;
  readonly #resync = { requested: 0, served: 0, coalesced: 0, covered: 0, refused: 0 };
  #conn: Deno.DatagramConn | undefined;
  #timers: ReturnType<typeof setInterval>[] = [];
  #recv: Promise<void> | undefined;
  #roleSince = Date.now();
  #transitions = 0;
  #lastFullRequest = -Infinity;
  #lastTakeover: HaStatus["lastTakeover"];
  #onStop: (() => void)[] = [];
  /** A MASTER that stepped down sends its whole table once more (flows opened during a split brain). */
  #handoverFull = false;
  #lastAnnounceMs = -Infinity;
  /** The data plane's activation in progress (role changes apply in order). */
  #apply: Promise<void> = Promise.resolve();
  readonly #sync = {
    sentDatagrams: 0,
    sentRecords: 0,
    fullTablesSent: 0,
    receivedDatagrams: 0,
    lastLagMs: undefined as number | undefined,
  };

  /** @param opts config, identity, key, peers, data plane */
  constructor(opts: HaNodeOptions) {
    this.#o = opts;
    this.#c = opts.config;
    this.#election = new Election({
      nodeId: opts.nodeId,
      priority: this.#c.priority,
      preempt: this.#c.preempt,
      preemptDelayMs: this.#c.preemptDelayMs,
      advertIntervalMs: this.#c.advertIntervalMs,
      deadAfter: this.#c.deadAfter,
    });
    this.#gaps = new SyncGapTracker({
      graceMs: this.#c.sync.gapGraceMs,
      resyncIntervalMs: this.#c.sync.resyncIntervalMs,
    });
  }

  /** The current role. */
  get role(): HaRole {
    return this.#election.role;
  }

  /** The bound UDP address (after {@link start}). */
  get address(): Deno.NetAddr | undefined {
    return this.#conn?.addr as Deno.NetAddr | undefined;
  }

  /**
   * Binds the channel and starts as BACKUP (the data plane must already be in standby).
   *
   * @throws {Deno.errors.AddrInUse} when the port is taken
   */
  start(): void {
    try {
      this.#conn = Deno.listenDatagram({ transport: "udp", hostname: this.#o.bindAddress, port: this.#c.listen });
    } catch (e) {
      throw listenError(e, `udp ${formatHostPort({ host: this.#o.bindAddress, port: this.#c.listen })}`, "director.ha");
    }
    this.#o.dataplane.onSync((state, full) => {
      this.#sendChain = this.#sendChain.then(() => this.#sendSync(state, full)).catch((e) =>
        log.warn("Cannot send a sync batch", { error: (e as Error).message })
      );
    });
    this.#recv = this.#receiveLoop(this.#conn);
    const now = Date.now();
    this.#handle(this.#election.start(now), now);
    this.#timers.push(setInterval(() => void this.#heartbeat(), this.#c.advertIntervalMs));
    this.#timers.push(setInterval(() => this.#tick(), Math.max(5, Math.floor(this.#c.advertIntervalMs / 5))));
    if (this.#c.sync.enabled && this.#c.sync.fullSyncIntervalMs > 0) {
      this.#timers.push(setInterval(() => {
        if (this.role === "MASTER") this.#requestFull(Date.now());
      }, this.#c.sync.fullSyncIntervalMs));
    }
    log.info("Director HA started", {
      group: this.#c.vipGroup,
      node: this.#o.nodeId,
      priority: this.#c.priority,
      preempt: this.#c.preempt,
      listen: `${this.#o.bindAddress}:${this.#c.listen}`,
      peers: this.#o.peers(),
    });
  }

  /** Registers a call made when the node stops. */
  onStop(cb: () => void): void {
    this.#onStop.push(cb);
  }

  /** Clean stop: a MASTER releases the group (priority-0 heartbeats); then the channel closes. */
  async stop(): Promise<void> {
    for (const cb of this.#onStop.splice(0)) cb();
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    clearTimeout(this.#deferredFull);
    this.#deferredFull = undefined;
    const out = this.#election.stop();
    if (out.advertNow) {
      // Silent first (no ARP replies that would win clients back), then the release; twice: one lost
      // datagram must not cost the dead interval.
      await this.#apply;
      await this.#o.dataplane.release().catch((e) =>
        log.warn("Cannot silence the data plane", { error: (e as Error).message })
      );
      await this.#heartbeat(0, "MASTER");
      await this.#heartbeat(0, "MASTER");
      log.info("Director HA released the VIP group", { group: this.#c.vipGroup });
    }
    this.#conn?.close();
    this.#conn = undefined;
    await this.#recv?.catch(() => {});
    await this.#apply;
    await this.#sendChain;
  }

  /** The HA part of `/director/status`. */
  status(): HaStatus {
    const now = Date.now();
    return {
      mode: this.#c.mode,
      group: this.#c.vipGroup,
      node: this.#o.nodeId,
      role: this.role,
      roleSince: new Date(this.#roleSince).toISOString(),
      priority: this.#c.priority,
      preempt: this.#c.preempt,
      advertIntervalMs: this.#c.advertIntervalMs,
      masterDownIntervalMs: Math.round(this.#election.masterDownIntervalMs),
      master: this.#election.master,
      peers: [...this.#peers.values()].map((p) => {
        const mine = this.role === "MASTER" && p.syncEpoch === this.#epoch;
        return {
          node: p.node,
          address: p.address,
          role: p.role,
          priority: p.priority,
          lastSeenMsAgo: now - p.lastSeenMs,
          entries: p.entries,
          ...(mine ? { syncHeld: p.syncSeq, syncBehind: Math.max(0, this.#syncSeq - p.syncSeq) } : {}),
        };
      }),
      sync: {
        ...this.#sync,
        applied: this.#o.dataplane.syncCounters(),
        seq: this.#syncSeq,
        following: this.#following(),
        gaps: this.#gaps.counters.gaps,
        late: this.#gaps.counters.late,
        duplicates: this.#gaps.counters.duplicates,
        repaired: this.#gaps.counters.repaired,
        resync: { ...this.#resync, requested: this.#gaps.counters.requests },
      },
      lastTakeover: this.#lastTakeover,
      transitions: this.#transitions,
    };
  }

  #tick(): void {
    const now = Date.now();
    this.#handle(this.#election.health(this.#o.dataplane.healthy(), now), now);
    this.#handle(this.#election.tick(now), now);
    if (this.#c.sync.enabled) {
      const due = this.#gaps.due(this.role === "BACKUP" ? this.#election.master : undefined, now);
      if (due) void this.#sendResync(due);
    }
  }

  /** The MASTER this BACKUP follows and where its stream stands. */
  #following(): HaStatus["sync"]["following"] {
    const m = this.role === "BACKUP" ? this.#election.master : undefined;
    if (m === undefined || m === this.#o.nodeId) return undefined;
    return { node: m, ...this.#gaps.position(m) };
  }

  async #sendResync(due: ResyncDue): Promise<void> {
    log.info("Director HA sync gap: asking the MASTER for its table", {
      peer: due.target,
      reason: due.reason,
      missingUpTo: due.missingUpTo,
      held: this.#gaps.position(due.target).held,
    });
    await this.#sendAll(encodeResync({
      epoch: this.#epoch,
      sequence: this.#nextSeq(),
      nodeId: this.#o.nodeId,
      group: this.#c.vipGroup,
      ...due,
    }));
  }

  /** Asks the data plane for its whole table (sent to every peer when it comes). */
  #requestFull(now: number): void {
    if (this.#fullPendingSinceMs === undefined || now - this.#fullPendingSinceMs >= FULL_PENDING_MAX_MS) {
      this.#fullPendingSinceMs = now;
    }
    this.#o.dataplane.requestFull();
  }

  /** A BACKUP's resync request: the whole table unless one on its way already repairs its gap. */
  #onResync(m: HaResync): void {
    if (m.target !== this.#o.nodeId) return;
    const now = Date.now();
    let verdict: "served" | "coalesced" | "covered" | "refused";
    if (this.role !== "MASTER" || !this.#c.sync.enabled) verdict = "refused";
    else if (this.#fullPendingSinceMs !== undefined && now - this.#fullPendingSinceMs < FULL_PENDING_MAX_MS) {
      verdict = "coalesced"; // asked, not begun: read after the gap
    } else if (m.targetEpoch === this.#epoch && this.#lastFullStart > m.missingUpTo) verdict = "covered";
    else {
      verdict = "served";
      const wait = FULL_REQUEST_GAP_MS - (now - this.#lastFullRequest);
      if (wait <= 0) {
        this.#lastFullRequest = now;
        this.#requestFull(now);
      } else if (!this.#deferredFull) {
        this.#deferredFull = setTimeout(() => {
          this.#deferredFull = undefined;
          if (this.role !== "MASTER") return;
          this.#lastFullRequest = Date.now();
          this.#requestFull(this.#lastFullRequest);
        }, wait);
      }
    }
    this.#resync[verdict]++;
    log.info("Director HA resync request", { peer: m.nodeId, reason: m.reason, missingUpTo: m.missingUpTo, verdict });
  }

  #handle(out: ElectionOutput, now: number): void {
    if (out.to) {
      const from = out.from!;
      this.#transitions++;
      this.#roleSince = now;
      haTransitions.inc({ to: out.to, reason: out.reason! });
      const fields: Record<string, unknown> = { group: this.#c.vipGroup, from, to: out.to, reason: out.reason };
      if (out.to === "MASTER") {
        const prev = [...this.#peers.values()].filter((p) => p.role === "MASTER")
          .sort((a, b) => b.lastSeenMs - a.lastSeenMs)[0];
        this.#lastTakeover = {
          at: new Date(now).toISOString(),
          reason: out.reason!,
          previousMaster: prev?.node,
          silentMs: prev ? now - prev.lastSeenMs : undefined,
        };
        haTakeovers.inc({ reason: out.reason! });
        haLastTakeover.set(now / 1000);
        Object.assign(fields, { previousMaster: prev?.node, silentMs: this.#lastTakeover.silentMs });
      }
      log.info("Director HA role changed", fields);
      if (out.to !== "INIT") {
        const active = out.to === "MASTER";
        const t0 = now;
        // A new MASTER sends its whole table too: BACKUPs may hold only part of it. A MASTER that
        // steps down sends its table to the new one: flows opened during a split brain stay put.
        if (from === "MASTER" && out.to === "BACKUP" && this.#c.sync.enabled) this.#handoverFull = true;
        this.#apply = this.#apply.then(async () => {
          await this.#o.dataplane.setActive(active);
          log.info("Director HA data plane switched", { active, ms: Date.now() - t0 });
          if ((active || this.#handoverFull) && this.#c.sync.enabled) this.#requestFull(Date.now());
        }).catch((e) => log.error("Cannot switch the data plane", { active, error: (e as Error).message }));
      }
    }
    if (out.advertNow) void this.#heartbeat();
  }

  async #heartbeat(priority = this.#c.priority, role: HaRole = this.role): Promise<void> {
    if (role === "INIT") return;
    const msg = encodeHeartbeat({
      epoch: this.#epoch,
      sequence: this.#nextSeq(),
      nodeId: this.#o.nodeId,
      group: this.#c.vipGroup,
      priority,
      role,
      advertIntervalMs: this.#c.advertIntervalMs,
      entries: this.#o.dataplane.entries(),
      ...this.#syncReport(role),
    });
    if (await this.#sendAll(msg) > 0) haHeartbeats.inc({ direction: "sent" });
  }

  /** MASTER: its own stream's last sequence. Otherwise: how far it holds the MASTER's. */
  #syncReport(role: HaRole): { syncEpoch: number; syncSeq: number } {
    if (role === "MASTER") return { syncEpoch: this.#syncSeq > 0 ? this.#epoch : 0, syncSeq: this.#syncSeq };
    const f = this.#following();
    return f ? { syncEpoch: f.epoch, syncSeq: f.held } : { syncEpoch: 0, syncSeq: 0 };
  }

  #nextSeq(): number {
    this.#seq = (this.#seq + 1) >>> 0;
    return this.#seq;
  }

  async #sendAll(plain: Uint8Array): Promise<number> {
    const conn = this.#conn;
    if (!conn) return 0;
    const sealed = await this.#o.keyring.seal(plain);
    let sent = 0;
    for (const p of this.#o.peers()) {
      try {
        const hp = parseHostPort(p);
        await conn.send(sealed, { transport: "udp", hostname: hp.host, port: hp.port });
        sent++;
      } catch (e) {
        log.debug("Cannot send to HA peer", { peer: p, error: (e as Error).message });
      }
    }
    return sent;
  }

  async #sendSync(state: ConnState, full: boolean): Promise<void> {
    if (!this.#c.sync.enabled) return;
    if (this.role !== "MASTER") {
      if (!full || !this.#handoverFull) return;
      this.#handoverFull = false;
    }
    const overhead = HA_HEADER_BYTES + 2 * 255 + ENVELOPE_BYTES;
    const parts = chunkConnState(state, Math.max(256, this.#c.sync.maxDatagramBytes - overhead - 4));
    if (full) {
      this.#fullPendingSinceMs = undefined;
      this.#lastFullStart = this.#syncSeq + 1;
    }
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i];
      const flags = full
        ? SYNC_FULL | (i === 0 ? SYNC_FULL_START : 0) | (i === parts.length - 1 ? SYNC_FULL_END : 0)
        : 0;
      this.#syncSeq = (this.#syncSeq + 1) >>> 0;
      const msg = encodeSync({
        epoch: this.#epoch,
        sequence: this.#nextSeq(),
        nodeId: this.#o.nodeId,
        group: this.#c.vipGroup,
        flags,
        syncSeq: this.#syncSeq,
        payload: encodeConnState(p),
      });
      const sent = await this.#sendAll(msg);
      const records = p.conns.saddr.length + p.templates.client.length;
      this.#sync.sentDatagrams += sent;
      this.#sync.sentRecords += records * sent;
      haSyncDatagrams.inc({ direction: "sent" }, sent);
      haSyncRecords.inc({ direction: "sent" }, records * sent);
      // Pace long bursts (a whole table) so the peers' socket buffers keep up.
      if (i % PACE_DATAGRAMS === PACE_DATAGRAMS - 1) await new Promise((r) => setTimeout(r, 1));
    }
    if (full) this.#sync.fullTablesSent++;
  }

  async #receiveLoop(conn: Deno.DatagramConn): Promise<void> {
    while (true) {
      let data: Uint8Array, addr: Deno.Addr;
      try {
        [data, addr] = await conn.receive();
      } catch {
        return; // closed
      }
      let plain: Uint8Array;
      try {
        plain = await this.#o.keyring.open(data);
      } catch (e) {
        const reason = e instanceof EnvelopeError ? e.reason : "auth";
        haDropped.inc({ reason });
        log.debug("Dropped HA datagram", { from: (addr as Deno.NetAddr).hostname, reason });
        continue;
      }
      try {
        const m = decodeHaMessage(plain);
        if (m.group !== this.#c.vipGroup) {
          haDropped.inc({ reason: "group" });
          continue;
        }
        if (m.nodeId === this.#o.nodeId) continue; // our own, looped back by a peer list naming us
        const verdict = this.#guard.check(m.nodeId, m.epoch, m.sequence);
        if (verdict !== "ok") {
          haDropped.inc({ reason: verdict });
          continue;
        }
        if (m.type === "heartbeat") this.#onHeartbeat(m, (addr as Deno.NetAddr).hostname);
        else if (m.type === "sync") this.#onSync(m);
        else this.#onResync(m);
      } catch (e) {
        haDropped.inc({ reason: e instanceof HaDecodeError ? e.reason : "decode" });
      }
    }
  }

  #onHeartbeat(m: HaHeartbeat, address: string): void {
    const now = Date.now();
    haHeartbeats.inc({ direction: "received" });
    const prev = this.#peers.get(m.nodeId);
    const isNew = !prev || prev.epoch !== m.epoch;
    const steppedDown = prev !== undefined && prev.role === "MASTER" && m.role !== "MASTER";
    this.#peers.set(m.nodeId, {
      node: m.nodeId,
      address,
      epoch: m.epoch,
      role: m.priority === 0 ? "INIT" : m.role,
      priority: m.priority,
      lastSeenMs: now,
      entries: m.entries,
      syncEpoch: m.syncEpoch,
      syncSeq: m.syncSeq,
    });
    if (isNew) log.info("Director HA peer seen", { peer: m.nodeId, address, role: m.role, priority: m.priority });
    const out = this.#election.heartbeat({ from: m.nodeId, priority: m.priority, role: m.role }, now);
    this.#handle(out, now);
    if (m.role === "MASTER" && m.syncEpoch === m.epoch && m.nodeId === this.#election.master) {
      this.#gaps.announced(m.nodeId, m.syncEpoch, m.syncSeq, now);
    }
    if (out.advertNow && !out.to && this.role === "MASTER" && m.role === "MASTER" && m.priority > 0) {
      // Another MASTER (split brain healing): clients may have followed its ARP; take the VIPs back.
      if (now - this.#lastAnnounceMs >= 500) {
        this.#lastAnnounceMs = now;
        this.#apply = this.#apply.then(() => this.#o.dataplane.announce()).catch(() => {});
      }
    }
    if (
      (isNew || steppedDown) && this.role === "MASTER" && this.#c.sync.enabled &&
      now - this.#lastFullRequest >= FULL_REQUEST_GAP_MS
    ) {
      this.#lastFullRequest = now;
      this.#requestFull(now);
    }
  }

  #onSync(m: HaSync): void {
    this.#sync.receivedDatagrams++;
    haSyncDatagrams.inc({ direction: "received" });
    if (m.payload.length >= 16) {
      const savedAt = new DataView(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength).getFloat64(8, true);
      this.#sync.lastLagMs = Math.max(0, Date.now() - savedAt);
    }
    if (m.payload.length >= 32) {
      const v = new DataView(m.payload.buffer, m.payload.byteOffset, m.payload.byteLength);
      haSyncRecords.inc({ direction: "received" }, v.getUint32(24, true) + v.getUint32(28, true));
    }
    const push = () => {
      if (this.#o.dataplane.pushSync(m.payload)) return true;
      log.warn("HA sync inbox full: batch dropped", { from: m.nodeId });
      return false;
    };
    // Sequenced batches of the MASTER this node follows are tracked for gaps; others are applied as they come.
    if (m.syncSeq === undefined || m.nodeId !== this.#election.master || this.role === "MASTER") push();
    else this.#gaps.batch(m.nodeId, m.epoch, m.syncSeq, m.flags, Date.now(), push);
  }
}
