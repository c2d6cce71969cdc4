import assert from "node:assert/strict";
import type { HaStatus } from "./ha_node.ts";
import { formatHaStatus } from "./status_lines.ts";

Deno.test("formatHaStatus() shows role, peers, sync counters and the last takeover", () => {
  const st: HaStatus = {
    mode: "active-backup",
    group: "web",
    node: "d2",
    role: "MASTER",
    roleSince: "2026-12-07T18:00:00.000Z",
    priority: 100,
    preempt: false,
    advertIntervalMs: 100,
    masterDownIntervalMs: 361,
    master: "d2",
    peers: [{ node: "d1", address: "10.0.0.11", role: "BACKUP", priority: 200, lastSeenMsAgo: 40, entries: 12 }],
    sync: {
      sentDatagrams: 5,
      sentRecords: 60,
      fullTablesSent: 1,
      receivedDatagrams: 3,
      lastLagMs: 1.4,
      applied: {
        batches: 3,
        conns: 30,
        removed: 2,
        templates: 4,
        unknownServer: 0,
        full: 0,
        decodeErrors: 0,
        posted: 5,
        postedRecords: 60,
        inboxDropped: 0,
      },
    },
    lastTakeover: { at: "2026-12-07T18:00:00.000Z", reason: "master-dead", previousMaster: "d1", silentMs: 362 },
    transitions: 2,
  };
  assert.deepEqual(formatHaStatus(st), [
    'HA: MASTER of group "web" as d2 (priority 100, preempt off, heartbeat 100 ms, dead after 361 ms) since 2026-12-07T18:00:00.000Z',
    "  peer d1 10.0.0.11 BACKUP priority 200, seen 40 ms ago, 12 entries",
    "  sync: sent 5 datagrams, 60 records, 1 full tables; received 3 datagrams, applied 30 entries, 2 removals, 4 templates (unknown server 0, full 0, inbox full 0), lag 1 ms",
    "  last takeover: 2026-12-07T18:00:00.000Z, master-dead from d1 (silent 362 ms); 2 role changes",
  ]);
});
