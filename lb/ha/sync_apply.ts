/**
 * A BACKUP's side of connection sync: applies one batch from the MASTER to its dispatcher, so the
 * entries (and, through the dispatcher's fast-path hook, the in-kernel flows of established ones)
 * are in place before a takeover. Servers are matched by service key and `ADDR:PORT` as on restore
 * (`conn_state.ts`); records of servers this director does not have are counted and skipped.
 *
 * - A connection record with 0 ms left removes the flow's entry (it ended on the MASTER).
 * - Otherwise the entry is created or updated (state, server, expiry): expiry = now + min(remaining,
 *   this director's timeout for the state) − transit, transit = the batch's age on the wall clock,
 *   at most {@link MAX_TRANSIT_MS} (so a MASTER whose clock runs ahead or behind cannot age entries).
 * - Templates are applied first, so a connection placed through a template counts as its reference.
 *
 * Pure apart from the dispatcher it changes; runs in the data-plane Worker.
 *
 * @module
 */
import type { ConnState } from "../conn_state_codec.ts";
import type { Dispatcher } from "../dispatcher.ts";
import type { RealServer } from "../real_server.ts";
import { timeoutTableMs } from "../tcp_state.ts";

/** Most transit time subtracted from synced timeouts, ms. */
export const MAX_TRANSIT_MS = 2000;

/** What one batch did. */
export interface SyncApplySummary {
  /** Entries created or updated. */
  conns: number;
  /** Entries removed. */
  removed: number;
  /** Templates created or updated. */
  templates: number;
  /** Records naming a service or server this director does not have. */
  unknownServer: number;
  /** Records not applied because the table or template bound is full. */
  full: number;
}

/**
 * Applies a synced batch (see module doc).
 *
 * @param d the BACKUP's dispatcher
 * @param s the batch
 * @param nowMs the dispatcher's clock
 * @param wallNowMs Unix ms now
 */
export function applySyncBatch(d: Dispatcher, s: ConnState, nowMs: number, wallNowMs: number): SyncApplySummary {
  const sum: SyncApplySummary = { conns: 0, removed: 0, templates: 0, unknownServer: 0, full: 0 };
  const transit = Math.min(MAX_TRANSIT_MS, Math.max(0, wallNowMs - s.savedAtMs));
  const svcs = s.services.map((x) => d.services.find((v) => v.key === x.key));
  const srv: (RealServer | undefined)[] = s.servers.map((x) => {
    const svc = svcs[x.service];
    if (!svc) return undefined;
    return svc.servers.find((r) => r.key === x.key && !r.removed) ??
      (svc.sorryServer?.key === x.key ? svc.sorryServer : undefined);
  });
  const t = s.templates;
  for (let i = 0; i < t.client.length; i++) {
    const rs = srv[t.server[i]];
    const svc = svcs[s.servers[t.server[i]].service];
    if (!rs || !svc || svc.persistTimeoutMs <= 0) {
      sum.unknownServer++;
      continue;
    }
    const left = Math.min(t.remainingMs[i], svc.persistTimeoutMs) - transit;
    if (d.syncTemplate(svc, t.client[i] & svc.persistMask, rs, nowMs + Math.max(1, left))) sum.templates++;
    else sum.full++;
  }
  const timeouts = timeoutTableMs(d.timeouts);
  const c = s.conns;
  const flow = { saddr: 0, daddr: 0, ports: 0 };
  for (let i = 0; i < c.saddr.length; i++) {
    flow.saddr = c.saddr[i];
    flow.daddr = c.daddr[i];
    flow.ports = c.ports[i];
    if (c.remainingMs[i] === 0) {
      if (d.syncRemove(flow)) sum.removed++;
      continue;
    }
    const rs = srv[c.server[i]];
    if (!rs) {
      sum.unknownServer++;
      continue;
    }
    const svc = svcs[s.servers[c.server[i]].service]!;
    const state = c.state[i];
    const left = Math.max(1, Math.min(c.remainingMs[i], timeouts[state]) - transit);
    if (d.syncConnection(svc, rs, flow, state, (c.flags[i] & 1) !== 0, nowMs + left)) sum.conns++;
    else sum.full++;
  }
  return sum;
}
