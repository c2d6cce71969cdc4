import assert from "node:assert/strict";
import { ipv4ToInt } from "../../core/addr.ts";
import { encodeConnState } from "../conn_state_codec.ts";
import { Dispatcher, type ServiceSpec } from "../dispatcher.ts";
import { TCP_ACK, TCP_SYN } from "../tcp_state.ts";
import { HaLoopHook, type HaSyncMessage } from "./loop_hook.ts";
import { SYNC_COUNTERS, SyncInbox } from "./sync_inbox.ts";

const svc: ServiceSpec = {
  vip: "10.0.0.100",
  port: 80,
  scheduler: "rr",
  method: "dr",
  reals: [{ address: "10.0.0.11" }, { address: "10.0.0.12" }],
};
const flow = (i: number) => ({
  saddr: ipv4ToInt(`192.168.0.${i}`),
  sport: 40000 + i,
  daddr: ipv4ToInt(svc.vip!),
  dport: 80,
});

function side() {
  const inbox = new SyncInbox(1 << 16);
  const posted: HaSyncMessage[] = [];
  const hook = new HaLoopHook({ inbox: inbox.sab, syncIntervalMs: 100 }, (m) => posted.push(m));
  const d = new Dispatcher({ maxConnections: 100 });
  hook.attach(d);
  d.configure([svc]);
  return { inbox, posted, hook, d };
}

Deno.test("HaLoopHook: the active side posts changes once per interval, the standby side applies them from its inbox", () => {
  const master = side(), backup = side();
  master.hook.setActive(true);
  for (let i = 1; i <= 3; i++) master.d.schedule(flow(i), TCP_SYN, 0);
  master.hook.poll(master.d, 50); // within the first interval
  assert.equal(master.posted.length, 0);
  master.hook.poll(master.d, 100);
  assert.equal(master.posted.length, 1);
  assert.equal(master.posted[0].full, false);
  assert.equal(master.posted[0].state.conns.saddr.length, 3);
  // The main thread sends it; the BACKUP's main thread pushes the payload into its Worker's inbox.
  assert.ok(backup.inbox.push(encodeConnState(master.posted[0].state)));
  backup.hook.poll(backup.d, 100);
  assert.equal(backup.d.table.size, 3);
  assert.equal(backup.inbox.counters[SYNC_COUNTERS.conns], 3);
  // A standby side records nothing and posts nothing, even with changes.
  backup.d.schedule(flow(9), TCP_SYN, 200);
  backup.hook.poll(backup.d, 300);
  assert.equal(backup.posted.length, 0);
  // Applying a batch on the active side does not echo it back.
  master.d.schedule(flow(1), TCP_ACK, 300);
  master.hook.poll(master.d, 300);
  assert.equal(master.posted.length, 2);
  master.inbox.push(encodeConnState(master.posted[1].state));
  master.hook.poll(master.d, 450);
  assert.equal(master.posted.length, 2, "applied records are not journaled");
  // Garbage in the inbox is counted, not applied.
  backup.inbox.push(new Uint8Array([1, 2, 3]));
  backup.hook.poll(backup.d, 500);
  assert.equal(backup.inbox.counters[SYNC_COUNTERS.decodeErrors], 1);
});

Deno.test("HaLoopHook: a full-table request is served in any role (a MASTER stepping down hands over)", () => {
  const s = side();
  for (let i = 1; i <= 4; i++) s.d.schedule(flow(i), TCP_SYN, 0);
  s.inbox.requestFull();
  s.hook.poll(s.d, 10);
  assert.equal(s.posted.length, 1);
  assert.equal(s.posted[0].full, true);
  assert.equal(s.posted[0].state.conns.saddr.length, 4);
});
