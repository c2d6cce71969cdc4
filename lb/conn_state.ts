/**
 * Snapshots of a {@link Dispatcher}'s connection table and persistence templates, and their restore
 * into a new dispatcher: the part of IPVS's connection synchronisation that lets a restarted
 * director keep every established flow on its server whatever the scheduler (rr, wlc, ... would
 * otherwise pick another server for the next packet of a flow they no longer know, whose kernel
 * answers RST).
 *
 * Servers are matched by service key and `ADDR:PORT`, so a snapshot survives a different id
 * assignment, reordered or added servers. On restore:
 *
 * - entries and templates whose service or server is no longer configured are dropped;
 * - time continues: `remaining = saved remaining − (now − savedAt)` on the wall clock, capped at
 *   the current timeout of the entry's TCP state (templates: the persistence timeout), and entries
 *   whose time ran out while the director was down are dropped;
 * - templates of a service whose persistence was turned off or whose netmask changed are dropped;
 * - entries beyond `maxConnections` are dropped (counted as `full`).
 *
 * Saving is split so the synchronous forwarding loop stalls as little as possible:
 * {@link snapshotConnState} (in the Worker) copies the table's typed arrays as they are, and
 * {@link compactConnState} (on the main thread) turns that into the saved form. Pure and
 * synchronous: the codec is `conn_state_codec.ts`, the file `conn_state_file.ts`.
 *
 * @module
 */
import {
  type ConnState,
  type ConnStateServer,
  type ConnStateService,
  MAX_REMAINING_MS,
  MAX_STATE_SERVERS,
  newConnRecords,
  newTemplateRecords,
} from "./conn_state_codec.ts";
import type { ConnTableSlots } from "./conn_table.ts";
import type { Dispatcher } from "./dispatcher.ts";
import type { RealServer } from "./real_server.ts";
import { timeoutTableMs } from "./tcp_state.ts";

/** What {@link importConnState} did. */
export interface RestoreSummary {
  /** Connection entries restored. */
  conns: number;
  /** Persistence templates restored. */
  templates: number;
  /** Entries whose time ran out while the director was down. */
  expired: number;
  /** Entries whose service or real server is no longer configured. */
  unknownServer: number;
  /** Entries not restored because the table was full (or the flow was already known). */
  full: number;
  /** Templates dropped (server or service gone, persistence off or netmask changed, expired, bound). */
  templatesDropped: number;
  /** Age of the snapshot in ms (wall clock). */
  ageMs: number;
}

const clampRemaining = (ms: number) => Math.min(MAX_REMAINING_MS, Math.max(0, Math.round(ms)));

/**
 * A dispatcher's state copied as it is (free slots, internal ids): cheap to take inside the
 * data-plane Worker, turned into a {@link ConnState} by {@link compactConnState} elsewhere.
 */
export interface ConnSnapshot {
  /** Wall-clock time of the snapshot, Unix ms. */
  savedAtMs: number;
  /** The dispatcher's clock at the snapshot. */
  nowMs: number;
  /** The table's slots. */
  slots: ConnTableSlots;
  /** Every server the dispatcher knows, by id: its key, service key and the service's netmask. */
  servers: { id: number; key: string; serviceKey: string; netmask: number }[];
  /** Live templates: `client & netmask`, server id, ms left (0 for one held by connections). */
  templates: { client: Uint32Array; server: Uint16Array; remainingMs: Uint32Array };
}

/**
 * Copies a dispatcher's connection table and templates (the data-plane Worker's share of a save:
 * a few memcpys plus one pass over the templates).
 *
 * @param d the dispatcher
 * @param nowMs the dispatcher's clock now (the one its `schedule()` calls get)
 * @param savedAtMs the wall clock now (Unix ms), recorded so a restore can tell how much time passed
 */
export function snapshotConnState(d: Dispatcher, nowMs: number, savedAtMs: number): ConnSnapshot {
  const servers: ConnSnapshot["servers"] = [];
  for (let id = 0; id < d.serverIdBound; id++) {
    const s = d.server(id);
    if (!s) continue;
    const svc = d.serviceById(s.serviceId);
    if (svc) servers.push({ id, key: s.key, serviceKey: svc.key, netmask: svc.persistNetmask });
  }
  let n = 0;
  for (const svc of d.services) n += svc.persistTimeoutMs > 0 ? svc.templates.size : 0;
  const client = new Uint32Array(n), server = new Uint16Array(n), remainingMs = new Uint32Array(n);
  let k = 0;
  for (const svc of d.services) {
    if (svc.persistTimeoutMs <= 0) continue;
    for (const [c, tpl] of svc.templates) {
      const left = tpl.expiresMs - nowMs;
      if (left <= 0 && tpl.refs === 0) continue;
      client[k] = c >>> 0;
      server[k] = tpl.server;
      remainingMs[k] = clampRemaining(left);
      k++;
    }
  }
  return {
    savedAtMs,
    nowMs,
    slots: d.table.copySlots(),
    servers,
    templates: { client: client.slice(0, k), server: server.slice(0, k), remainingMs: remainingMs.slice(0, k) },
  };
}

/** The ArrayBuffers of a snapshot, for `postMessage(..., transfer)`. */
export function connSnapshotBuffers(s: ConnSnapshot): ArrayBuffer[] {
  const t = s.slots, p = s.templates;
  return [t.keys, t.service, t.server, t.state, t.flags, t.expiresMs, p.client, p.server, p.remainingMs]
    .map((a) => a.buffer as ArrayBuffer);
}

/**
 * Turns a snapshot into the saved form: live entries only, servers named by key, time as ms left.
 * Entries already run out, and entries of servers the snapshot does not name, are left out.
 *
 * @param s the snapshot
 * @returns the state for `encodeConnState()`
 */
export function compactConnState(s: ConnSnapshot): ConnState {
  const services: ConnStateService[] = [];
  const servers: ConnStateServer[] = [];
  const svcRef = new Map<string, number>();
  const refOf = new Int32Array(MAX_STATE_SERVERS).fill(-1);
  for (const x of s.servers) {
    let sv = svcRef.get(x.serviceKey);
    if (sv === undefined) {
      sv = services.length;
      services.push({ key: x.serviceKey, netmask: x.netmask });
      svcRef.set(x.serviceKey, sv);
    }
    refOf[x.id] = servers.length;
    servers.push({ service: sv, key: x.key });
  }
  const t = s.slots;
  let n = 0;
  for (let i = 0; i < t.highWater; i++) if (t.service[i] !== 0) n++;
  const c = newConnRecords(n);
  let k = 0;
  const now = s.nowMs;
  for (let i = 0; i < t.highWater; i++) {
    if (t.service[i] === 0) continue;
    const left = t.expiresMs[i] - now;
    const ref = refOf[t.server[i]];
    if (left <= 0 || ref < 0) continue;
    const o = i << 2;
    c.saddr[k] = t.keys[o];
    c.daddr[k] = t.keys[o + 1];
    c.ports[k] = t.keys[o + 2];
    c.server[k] = ref;
    c.state[k] = t.state[i];
    c.flags[k] = t.flags[i] & 1;
    c.remainingMs[k] = left > MAX_REMAINING_MS ? MAX_REMAINING_MS : Math.round(left);
    k++;
  }
  const conns = k === n ? c : {
    saddr: c.saddr.slice(0, k),
    daddr: c.daddr.slice(0, k),
    ports: c.ports.slice(0, k),
    server: c.server.slice(0, k),
    state: c.state.slice(0, k),
    flags: c.flags.slice(0, k),
    remainingMs: c.remainingMs.slice(0, k),
  };
  const p = s.templates;
  const keep: number[] = [];
  for (let i = 0; i < p.client.length; i++) if (refOf[p.server[i]] >= 0) keep.push(i);
  const templates = newTemplateRecords(keep.length);
  keep.forEach((i, j) => {
    templates.client[j] = p.client[i];
    templates.server[j] = refOf[p.server[i]];
    templates.remainingMs[j] = p.remainingMs[i];
  });
  return { savedAtMs: s.savedAtMs, services, servers, conns, templates };
}

/**
 * Takes a snapshot of every live connection entry and template in the saved form
 * ({@link snapshotConnState} then {@link compactConnState}).
 *
 * @param d the dispatcher
 * @param nowMs the dispatcher's clock now
 * @param savedAtMs the wall clock now (Unix ms)
 */
export function exportConnState(d: Dispatcher, nowMs: number, savedAtMs: number): ConnState {
  return compactConnState(snapshotConnState(d, nowMs, savedAtMs));
}

/**
 * Restores a snapshot into a dispatcher that has just been configured and has not scheduled
 * anything yet (rules in the module doc).
 *
 * @param d the dispatcher, configured with the current services
 * @param s the snapshot
 * @param nowMs the dispatcher's clock now
 * @param wallNowMs the wall clock now (Unix ms)
 * @returns counts of what was restored and dropped
 */
export function importConnState(d: Dispatcher, s: ConnState, nowMs: number, wallNowMs: number): RestoreSummary {
  const ageMs = Math.max(0, wallNowMs - s.savedAtMs);
  const sum: RestoreSummary = {
    conns: 0,
    templates: 0,
    expired: 0,
    unknownServer: 0,
    full: 0,
    templatesDropped: 0,
    ageMs,
  };
  const svcs = s.services.map((x) => d.services.find((v) => v.key === x.key));
  const srv: (RealServer | undefined)[] = s.servers.map((x) => {
    const svc = svcs[x.service];
    if (!svc) return undefined;
    return svc.servers.find((r) => r.key === x.key && !r.removed) ??
      (svc.sorryServer?.key === x.key ? svc.sorryServer : undefined);
  });
  const tplBefore = d.templateCount;
  const t = s.templates;
  for (let i = 0; i < t.client.length; i++) {
    const ref = t.server[i];
    const rs = srv[ref];
    const svc = svcs[s.servers[ref].service];
    if (!rs || !svc || svc.persistTimeoutMs <= 0 || svc.persistNetmask !== s.services[s.servers[ref].service].netmask) {
      sum.templatesDropped++;
      continue;
    }
    const left = Math.min(t.remainingMs[i], svc.persistTimeoutMs) - ageMs;
    // Kept even when run out: a restored connection may still reference it (expire() sorts it out).
    if (!d.restoreTemplate(svc, t.client[i] & svc.persistMask, rs, nowMs + left)) sum.templatesDropped++;
  }
  const timeouts = timeoutTableMs(d.timeouts);
  const c = s.conns;
  d.table.reserve(d.table.size + c.saddr.length);
  const flow = { saddr: 0, daddr: 0, ports: 0 };
  for (let i = 0; i < c.saddr.length; i++) {
    const rs = srv[c.server[i]];
    if (!rs) {
      sum.unknownServer++;
      continue;
    }
    const state = c.state[i];
    const left = Math.min(c.remainingMs[i], timeouts[state]) - ageMs;
    if (left <= 0) {
      sum.expired++;
      continue;
    }
    flow.saddr = c.saddr[i];
    flow.daddr = c.daddr[i];
    flow.ports = c.ports[i];
    const svc = svcs[s.servers[c.server[i]].service]!;
    if (d.restoreConnection(svc, rs, flow, state, (c.flags[i] & 1) !== 0, nowMs + left)) sum.conns++;
    else sum.full++;
  }
  // Templates that ran out and no restored connection uses go now; the others are re-armed.
  const added = d.templateCount - tplBefore;
  d.expire(nowMs);
  sum.templates = Math.max(0, d.templateCount - tplBefore);
  sum.templatesDropped += added - sum.templates;
  return sum;
}
