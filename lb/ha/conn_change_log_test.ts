import assert from "node:assert/strict";
import { ipv4ToInt } from "../../core/addr.ts";
import { decodeConnState, encodeConnState } from "../conn_state_codec.ts";
import { Dispatcher, type ServiceSpec } from "../dispatcher.ts";
import type { FlowKey } from "../scheduler/mod.ts";
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, TcpState } from "../tcp_state.ts";
import { ConnChangeJournal } from "./conn_change_log.ts";
import { applySyncBatch } from "./sync_apply.ts";
import { chunkConnState } from "./sync_chunks.ts";

const VIP = "10.0.0.100";
const REALS = [{ address: "10.0.0.11" }, { address: "10.0.0.12" }, { address: "10.0.0.13" }];
const service = (extra: Partial<ServiceSpec> = {}): ServiceSpec => ({
  vip: VIP,
  port: 80,
  scheduler: "rr",
  method: "dr",
  reals: REALS.map((r) => ({ ...r })),
  ...extra,
});
const flow = (i: number): FlowKey => ({
  saddr: ipv4ToInt(`192.168.${i >> 8}.${i & 255}`),
  sport: 40000 + i,
  daddr: ipv4ToInt(VIP),
  dport: 80,
});
const WALL = 1_700_000_000_000;

/** A MASTER with a journal and a BACKUP configured with its servers in another order (other ids). */
function pair(extra: Partial<ServiceSpec> = {}) {
  const master = new Dispatcher({ maxConnections: 1000 });
  master.configure([service(extra)]);
  const journal = new ConnChangeJournal(master);
  master.changeLog = journal;
  journal.enabled = true;
  const backup = new Dispatcher({ maxConnections: 1000 });
  backup.configure([service({ ...extra, reals: [...REALS].reverse() })]);
  /** Takes the batch, sends it in datagram-sized parts through the codec, applies each part. */
  const sync = (nowMs: number, maxBytes = 1400) => {
    const batch = journal.take(nowMs, WALL + nowMs);
    if (!batch) return 0;
    const parts = chunkConnState(batch, maxBytes);
    for (const p of parts) {
      const bytes = encodeConnState(p);
      assert.ok(bytes.length <= maxBytes, `part of ${bytes.length} bytes > ${maxBytes}`);
      applySyncBatch(backup, decodeConnState(bytes), nowMs, WALL + nowMs);
    }
    return parts.length;
  };
  return { master, backup, journal, sync };
}

const entry = (d: Dispatcher, f: FlowKey) => {
  const t = d.table;
  const slot = t.lookup(f.saddr, f.daddr, ((f.sport << 16) | f.dport) >>> 0);
  return slot < 0 ? undefined : { server: d.server(t.server(slot))!.key, state: t.state(slot) };
};

Deno.test("ConnChangeJournal: new, established and closing entries reach the BACKUP on the same server", () => {
  const { master, backup, sync } = pair();
  for (let i = 0; i < 200; i++) master.schedule(flow(i), TCP_SYN, 0);
  assert.ok(sync(0, 600) > 1, "200 entries need several 600-byte parts");
  for (let i = 0; i < 200; i++) assert.deepEqual(entry(backup, flow(i)), entry(master, flow(i)));
  for (let i = 0; i < 200; i++) master.schedule(flow(i), TCP_ACK, 100);
  master.schedule(flow(7), TCP_FIN | TCP_ACK, 200);
  sync(200);
  for (let i = 0; i < 200; i++) assert.deepEqual(entry(backup, flow(i)), entry(master, flow(i)), `flow ${i}`);
  assert.equal(entry(backup, flow(0))!.state, TcpState.ESTABLISHED);
  assert.equal(entry(backup, flow(7))!.state, TcpState.FIN_WAIT);
  // Counts follow: every entry of the BACKUP is on a server, active ones as active.
  const active = backup.services[0].servers.reduce((a, s) => a + s.activeConns, 0);
  assert.equal(active, 199);
  // After a takeover the BACKUP forwards each flow's next packet to the same server, whatever rr says.
  for (let i = 0; i < 200; i++) {
    assert.equal(backup.server(backup.schedule(flow(i), TCP_ACK, 300)!)!.key, entry(master, flow(i))!.server);
  }
});

Deno.test("ConnChangeJournal: an entry removed on the MASTER is removed on the BACKUP, a reused one kept", () => {
  const { master, backup, sync } = pair();
  for (const i of [1, 2]) {
    master.schedule(flow(i), TCP_SYN, 0);
    master.schedule(flow(i), TCP_ACK, 0);
  }
  sync(0);
  assert.ok(entry(backup, flow(1)) && entry(backup, flow(2)));
  master.schedule(flow(1), TCP_RST, 10); // CLOSE, then expiry removes it
  master.expire(20_000);
  // Flow 2 ends and starts again in one interval (a SYN on a CLOSE entry reschedules it).
  master.schedule(flow(2), TCP_RST, 20_000);
  master.schedule(flow(2), TCP_SYN, 20_001);
  sync(20_001);
  assert.equal(entry(backup, flow(1)), undefined);
  assert.deepEqual(entry(backup, flow(2)), entry(master, flow(2)));
});

Deno.test("ConnChangeJournal: persistence templates are synced, so new connections of a client keep its server", () => {
  const { master, backup, sync } = pair({ persistence: { timeoutS: 300, netmask: 24 } });
  for (let i = 0; i < 30; i++) master.schedule(flow(i), TCP_SYN, 0);
  sync(0);
  assert.equal(backup.templateCount, master.templateCount);
  // A new connection (other port) from a client on the BACKUP goes where the MASTER's template says.
  const f = { ...flow(3), sport: 55555 };
  const want = master.server(master.schedule({ ...f }, TCP_SYN, 10)!)!.key;
  assert.equal(backup.server(backup.schedule(f, TCP_SYN, 10)!)!.key, want);
});

Deno.test("ConnChangeJournal: nothing is recorded while disabled (a BACKUP applying sync does not echo it)", () => {
  const { master, journal } = pair();
  journal.enabled = false;
  master.schedule(flow(1), TCP_SYN, 0);
  assert.equal(journal.take(0, WALL), undefined);
  journal.enabled = true;
  master.schedule(flow(1), TCP_ACK, 1);
  assert.equal(journal.take(1, WALL)!.conns.saddr.length, 1);
  assert.equal(journal.take(2, WALL), undefined);
});

Deno.test("chunkConnState() refuses a part size that cannot hold one record", () => {
  const { master, journal } = pair();
  master.schedule(flow(1), TCP_SYN, 0);
  assert.throws(() => chunkConnState(journal.take(0, WALL)!, 60), RangeError);
});
