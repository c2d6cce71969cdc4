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
 * Pure and synchronous, for the data-plane Worker: the codec is `conn_state_codec.ts`, the file
 * `conn_state_file.ts`.
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
import type { Dispatcher } from "./dispatcher.ts";
import type { RealServer } from "./real_server.ts";
import { timeoutTableMs } from "./tcp_state.ts";
import type { VirtualService } from "./virtual_service.ts";

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
 * Takes a snapshot of every live connection entry and template.
 *
 * @param d the dispatcher
 * @param nowMs the dispatcher's clock now (the one its `schedule()` calls get)
 * @param savedAtMs the wall clock now (Unix ms), recorded so a restore can tell how much time passed
 * @returns the snapshot, with typed arrays sized exactly (transferable to another thread)
 */
export function exportConnState(d: Dispatcher, nowMs: number, savedAtMs: number): ConnState {
  const t = d.table;
  const services: ConnStateService[] = [];
  const servers: ConnStateServer[] = [];
  const svcRef = new Map<number, number>();
  const refOf = new Int32Array(MAX_STATE_SERVERS).fill(-1);
  const ref = (s: RealServer): number => {
    let r = refOf[s.id];
    if (r >= 0) return r;
    let sv = svcRef.get(s.serviceId);
    if (sv === undefined) {
      const svc = d.serviceById(s.serviceId)!;
      sv = services.length;
      services.push({ key: svc.key, netmask: svc.persistNetmask });
      svcRef.set(s.serviceId, sv);
    }
    r = servers.length;
    servers.push({ service: sv, key: s.key });
    refOf[s.id] = r;
    return r;
  };
  let conns = newConnRecords(t.size);
  let k = 0;
  const high = t.highWater;
  for (let i = 0; i < high; i++) {
    if (!t.used(i)) continue;
    const left = t.expires(i) - nowMs;
    const s = d.server(t.server(i));
    if (left <= 0 || !s || !d.serviceById(s.serviceId)) continue;
    conns.saddr[k] = t.saddr(i);
    conns.daddr[k] = t.daddr(i);
    conns.ports[k] = t.ports(i);
    conns.server[k] = ref(s);
    conns.state[k] = t.state(i);
    conns.flags[k] = t.flags(i) & 1;
    conns.remainingMs[k] = clampRemaining(left);
    k++;
  }
  if (k < t.size) {
    const c = conns;
    conns = {
      saddr: c.saddr.slice(0, k),
      daddr: c.daddr.slice(0, k),
      ports: c.ports.slice(0, k),
      server: c.server.slice(0, k),
      state: c.state.slice(0, k),
      flags: c.flags.slice(0, k),
      remainingMs: c.remainingMs.slice(0, k),
    };
  }
  const live: { svc: VirtualService; client: number; s: RealServer; left: number }[] = [];
  for (const svc of d.services) {
    if (svc.persistTimeoutMs <= 0) continue;
    for (const [client, tpl] of svc.templates) {
      const s = d.server(tpl.server);
      const left = tpl.expiresMs - nowMs;
      if (!s || (left <= 0 && tpl.refs === 0)) continue;
      live.push({ svc, client, s, left });
    }
  }
  const templates = newTemplateRecords(live.length);
  live.forEach((x, i) => {
    templates.client[i] = x.client >>> 0;
    templates.server[i] = ref(x.s);
    templates.remainingMs[i] = clampRemaining(x.left);
  });
  return { savedAtMs, services, servers, conns, templates };
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
