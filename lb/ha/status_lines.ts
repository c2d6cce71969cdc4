/**
 * The HA lines of `webcache director status`: role, peers, sync counters and the last takeover.
 *
 * @module
 */
import type { HaStatus } from "./ha_node.ts";

/**
 * Formats the HA part of the status.
 *
 * @param ha the `ha` member of `/director/status`
 * @returns lines, without a trailing newline
 */
export function formatHaStatus(ha: HaStatus): string[] {
  const out = [
    `HA: ${ha.role} of group "${ha.group}" as ${ha.node} (priority ${ha.priority}, preempt ${
      ha.preempt ? "on" : "off"
    }, heartbeat ${ha.advertIntervalMs} ms, dead after ${ha.masterDownIntervalMs} ms) since ${ha.roleSince}` +
    (ha.master && ha.master !== ha.node ? `, MASTER ${ha.master}` : ""),
  ];
  for (const p of [...ha.peers].sort((a, b) => a.node.localeCompare(b.node))) {
    out.push(
      `  peer ${p.node} ${p.address} ${p.role} priority ${p.priority}, seen ${p.lastSeenMsAgo} ms ago, ${p.entries} entries` +
        (p.syncHeld !== undefined ? `, holds sync ${p.syncHeld} (${p.syncBehind} behind)` : ""),
    );
  }
  const s = ha.sync, a = s.applied;
  out.push(
    `  sync: sent ${s.sentDatagrams} datagrams, ${s.sentRecords} records, ${s.fullTablesSent} full tables; received ${s.receivedDatagrams} datagrams` +
      (a
        ? `, applied ${a.conns} entries, ${a.removed} removals, ${a.templates} templates (unknown server ${a.unknownServer}, full ${a.full}, inbox full ${a.inboxDropped})`
        : "") +
      (s.lastLagMs !== undefined ? `, lag ${Math.round(s.lastLagMs)} ms` : ""),
  );
  const r = s.resync, f = s.following;
  out.push(
    `  sync sequence: sent ${s.seq}` +
      (f ? `; following ${f.node}: holds ${f.held} of ${f.highest}, ${f.missing} missing` : "") +
      `; gaps ${s.gaps}, late ${s.late}, duplicates ${s.duplicates}, repaired ${s.repaired}; resyncs requested ${r.requested}, ` +
      `served ${r.served}, coalesced ${r.coalesced}, covered ${r.covered}, refused ${r.refused}`,
  );
  const t = ha.lastTakeover;
  out.push(
    t
      ? `  last takeover: ${t.at}, ${t.reason}${t.previousMaster ? ` from ${t.previousMaster}` : ""}${
        t.silentMs !== undefined ? ` (silent ${t.silentMs} ms)` : ""
      }; ${ha.transitions} role changes`
      : `  last takeover: none; ${ha.transitions} role changes`,
  );
  return out;
}
