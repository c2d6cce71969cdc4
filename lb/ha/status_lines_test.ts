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
    peers: [{
      node: "d1",
      address: "10.0.0.11",
      role: "BACKUP",
      priority: 200,
      lastSeenMsAgo: 40,
      entries: 12,
      syncHeld: 7,
      syncBehind: 2,
    }],
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
      seq: 9,
      gaps: 1,
      late: 0,
      duplicates: 0,
      repaired: 1,
      resync: { requested: 0, served: 1, coalesced: 0, covered: 0, refused: 0 },
    },
    lastTakeover: { at: "2026-12-07T18:00:00.000Z", reason: "master-dead", previousMaster: "d1", silentMs: 362 },
    transitions: 2,
  };
  assert.deepEqual(formatHaStatus(st), [
    'HA: MASTER of group "web" as d2 (priority 100, preempt off, heartbeat 100 ms, dead after 361 ms) since 2026-12-07T18:00:00.000Z',
    "  peer d1 10.0.0.11 BACKUP priority 200, seen 40 ms ago, 12 entries, holds sync 7 (2 behind)",
    "  sync: sent 5 datagrams, 60 records, 1 full tables; received 3 datagrams, applied 30 entries, 2 removals, 4 templates (unknown server 0, full 0, inbox full 0), lag 1 ms",
    "  sync sequence: sent 9; gaps 1, late 0, duplicates 0, repaired 1; resyncs requested 0, served 1, coalesced 0, covered 0, refused 0",
    "  last takeover: 2026-12-07T18:00:00.000Z, master-dead from d1 (silent 362 ms); 2 role changes",
  ]);
});

Deno.test("formatHaStatus() shows the MASTER's stream a BACKUP follows", () => {
  const st = {
    mode: "active-backup",
    group: "web",
    node: "d1",
    role: "BACKUP",
    roleSince: "2026-12-07T18:00:00.000Z",
    priority: 100,
    preempt: true,
    advertIntervalMs: 100,
    masterDownIntervalMs: 361,
    master: "d2",
    peers: [],
    sync: {
      sentDatagrams: 0,
      sentRecords: 0,
      fullTablesSent: 0,
      receivedDatagrams: 12,
      seq: 0,
      following: { node: "d2", epoch: 1, held: 10, highest: 12, missing: 1 },
      gaps: 1,
      late: 1,
      duplicates: 0,
      repaired: 0,
      resync: { requested: 1, served: 0, coalesced: 0, covered: 0, refused: 0 },
    },
    transitions: 1,
  } satisfies HaStatus;
  assert.equal(
    formatHaStatus(st)[2],
    "  sync sequence: sent 0; following d2: holds 10 of 12, 1 missing; gaps 1, late 1, duplicates 0, repaired 0; resyncs requested 1, served 0, coalesced 0, covered 0, refused 0",
  );
});
