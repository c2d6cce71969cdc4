/**
 * Director HA metrics (`director.ha`), on the shared registry.
 *
 * | name | type | labels | unit |
 * |------|------|--------|------|
 * | webcache_director_ha_role | gauge | role (INIT, BACKUP, MASTER, FAULT) | 1 for the current role |
 * | webcache_director_ha_transitions_total | counter | to, reason | role changes |
 * | webcache_director_ha_takeovers_total | counter | reason (master-dead, master-released, preempted, ...) | becoming MASTER |
 * | webcache_director_ha_last_takeover_timestamp_seconds | gauge | | Unix time this node last became MASTER |
 * | webcache_director_ha_heartbeats_total | counter | direction (sent, received) | heartbeats |
 * | webcache_director_ha_messages_dropped_total | counter | reason (envelope reasons, decode reasons, group, replay, unknown-peer) | datagrams |
 * | webcache_director_ha_sync_datagrams_total | counter | direction (sent, received) | sync datagrams |
 * | webcache_director_ha_sync_records_total | counter | direction (sent, received) | connection and template records |
 * | webcache_director_ha_sync_applied_total | counter | result (conn, removed, template, unknown-server, full, decode-error, inbox-full) | BACKUP side |
 * | webcache_director_ha_sync_lag_seconds | gauge | | age of the last synced batch when it arrived (MASTER's clock to this one's) |
 * | webcache_director_ha_sync_gaps_total | counter | | BACKUP: missing sync batches that outlived `sync.gapGraceMs` |
 * | webcache_director_ha_sync_unordered_total | counter | kind (late, duplicate) | BACKUP: batches out of order (applied) or repeated (not applied) |
 * | webcache_director_ha_sync_repaired_total | counter | | BACKUP: gaps a complete full table repaired |
 * | webcache_director_ha_resyncs_total | counter | event (requested, served, coalesced, covered, refused) | resync requests sent (BACKUP) and answered (MASTER) |
 * | webcache_director_ha_sync_peer_behind | gauge | peer | MASTER: sync datagrams a BACKUP lacks, by its heartbeat |
 *
 * @module
 */
import { Counter, Gauge, registry } from "../../core/metrics.ts";
import type { HaStatus } from "./ha_node.ts";

let current: (() => HaStatus | undefined) | undefined;

/** Makes the gauges read from this node's status (call once at start). */
export function bindHaMetrics(getter: () => HaStatus | undefined): void {
  current = getter;
}

/** Current role. */
export const haRole = new Gauge({
  name: "webcache_director_ha_role",
  help: "Director HA role of this node: 1 for the current role, 0 for the others.",
  labelNames: ["role"],
  registers: [registry],
  collect() {
    this.reset();
    const s = current?.();
    if (!s) return;
    for (const r of ["INIT", "BACKUP", "MASTER", "FAULT"]) this.set({ role: r }, s.role === r ? 1 : 0);
  },
});

/** Role changes. */
export const haTransitions = new Counter({
  name: "webcache_director_ha_transitions_total",
  help: "Director HA role changes, by new role and reason.",
  labelNames: ["to", "reason"],
  registers: [registry],
});

/** Takeovers. */
export const haTakeovers = new Counter({
  name: "webcache_director_ha_takeovers_total",
  help: "Times this director became MASTER of its VIP group, by reason.",
  labelNames: ["reason"],
  registers: [registry],
});

/** Last takeover time. */
export const haLastTakeover = new Gauge({
  name: "webcache_director_ha_last_takeover_timestamp_seconds",
  help: "Unix time this director last became MASTER.",
  registers: [registry],
});

/** Heartbeats. */
export const haHeartbeats = new Counter({
  name: "webcache_director_ha_heartbeats_total",
  help: "HA heartbeats sent and received (accepted).",
  labelNames: ["direction"],
  registers: [registry],
});

/** Dropped datagrams. */
export const haDropped = new Counter({
  name: "webcache_director_ha_messages_dropped_total",
  help: "HA datagrams dropped: envelope (auth, stale, replay...), decode, other group, sequence replay, unknown peer.",
  labelNames: ["reason"],
  registers: [registry],
});

/** Sync datagrams. */
export const haSyncDatagrams = new Counter({
  name: "webcache_director_ha_sync_datagrams_total",
  help: "Connection-sync datagrams sent (MASTER) and received.",
  labelNames: ["direction"],
  registers: [registry],
});

/** Sync records. */
export const haSyncRecords = new Counter({
  name: "webcache_director_ha_sync_records_total",
  help: "Connection and template records sent (MASTER, per peer) and received.",
  labelNames: ["direction"],
  registers: [registry],
});

/** Applied records, from the data plane's counters. */
export const haSyncApplied = new Counter({
  name: "webcache_director_ha_sync_applied_total",
  help: "Synced records applied to this director's table, by result.",
  labelNames: ["result"],
  registers: [registry],
  collect() {
    this.reset();
    const c = current?.()?.sync.applied;
    if (!c) return;
    this.inc({ result: "conn" }, c.conns);
    this.inc({ result: "removed" }, c.removed);
    this.inc({ result: "template" }, c.templates);
    this.inc({ result: "unknown-server" }, c.unknownServer);
    this.inc({ result: "full" }, c.full);
    this.inc({ result: "decode-error" }, c.decodeErrors);
    this.inc({ result: "inbox-full" }, c.inboxDropped);
  },
});

/** Sync lag. */
export const haSyncLag = new Gauge({
  name: "webcache_director_ha_sync_lag_seconds",
  help: "Age of the last synced batch when it arrived: time from the MASTER taking it to this node receiving it.",
  registers: [registry],
  collect() {
    const lag = current?.()?.sync.lastLagMs;
    if (lag !== undefined) this.set(lag / 1000);
  },
});

/** Sync gaps. */
export const haSyncGaps = new Counter({
  name: "webcache_director_ha_sync_gaps_total",
  help: "Missing connection-sync batches (lost datagrams, inbox full) that did not arrive within sync.gapGraceMs.",
  registers: [registry],
  collect() {
    this.reset();
    const s = current?.()?.sync;
    if (s) this.inc(s.gaps);
  },
});

/** Out-of-order and repeated batches. */
export const haSyncUnordered = new Counter({
  name: "webcache_director_ha_sync_unordered_total",
  help: "Connection-sync batches that arrived late (filled a gap, applied) or twice (not applied).",
  labelNames: ["kind"],
  registers: [registry],
  collect() {
    this.reset();
    const s = current?.()?.sync;
    if (!s) return;
    this.inc({ kind: "late" }, s.late);
    this.inc({ kind: "duplicate" }, s.duplicates);
  },
});

/** Repaired gaps. */
export const haSyncRepaired = new Counter({
  name: "webcache_director_ha_sync_repaired_total",
  help: "Sync gaps repaired by a complete full table read after them.",
  registers: [registry],
  collect() {
    this.reset();
    const s = current?.()?.sync;
    if (s) this.inc(s.repaired);
  },
});

/** Resync requests. */
export const haResyncs = new Counter({
  name: "webcache_director_ha_resyncs_total",
  help: "Resync requests: requested (sent by this BACKUP); as MASTER: served (whole table sent), coalesced (one " +
    "was asked already), covered (one read after the gap was on its way), refused (not MASTER).",
  labelNames: ["event"],
  registers: [registry],
  collect() {
    this.reset();
    const r = current?.()?.sync.resync;
    if (!r) return;
    for (const [event, n] of Object.entries(r)) this.inc({ event }, n);
  },
});

/** How far behind each BACKUP is. */
export const haSyncPeerBehind = new Gauge({
  name: "webcache_director_ha_sync_peer_behind",
  help: "On the MASTER: this node's sync datagrams a peer lacks (last sent minus the highest it holds without a " +
    "gap), by the peer's last heartbeat.",
  labelNames: ["peer"],
  registers: [registry],
  collect() {
    this.reset();
    for (const p of current?.()?.peers ?? []) if (p.syncBehind !== undefined) this.set({ peer: p.node }, p.syncBehind);
  },
});
