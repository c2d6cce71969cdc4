import assert from "node:assert/strict";
import { ipv4ToInt } from "../core/addr.ts";
import { exportConnState, importConnState } from "./conn_state.ts";
import { type ConnState, decodeConnState, encodeConnState } from "./conn_state_codec.ts";
import { Dispatcher, Reason, type ServiceSpec } from "./dispatcher.ts";
import { SCHEDULER_NAMES } from "./scheduler/mod.ts";
import type { FlowKey } from "./scheduler/mod.ts";
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, TcpState } from "./tcp_state.ts";

const VIP = "10.0.0.100";
const REALS = [
  { address: "10.0.0.11", weight: 3 },
  { address: "10.0.0.12", weight: 2 },
  { address: "10.0.0.13", weight: 1 },
];
const service = (extra: Partial<ServiceSpec> = {}): ServiceSpec => ({
  vip: VIP,
  port: 80,
  scheduler: "rr",
  method: "dr",
  reals: REALS.map((r) => ({ ...r })),
  ...extra,
});
const flow = (i: number, dport = 80): FlowKey => ({
  saddr: ipv4ToInt(`192.168.${i >> 8}.${i & 255}`),
  sport: 40000 + i,
  daddr: ipv4ToInt(VIP),
  dport,
});
const keyOf = (d: Dispatcher, id: number | undefined) => (id === undefined ? "-" : d.server(id)!.key);
/** Through the file format, as a restart does. */
const viaFile = (s: ConnState) => decodeConnState(encodeConnState(s));
const WALL = 1_700_000_000_000;

/** Opens `n` flows (SYN, then ACK) and returns their server keys. */
function open(d: Dispatcher, n: number, nowMs: number, dport = 80): string[] {
  const keys: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = d.schedule(flow(i, dport), TCP_SYN, nowMs);
    assert.equal(d.schedule(flow(i, dport), TCP_ACK, nowMs), id);
    keys.push(keyOf(d, id));
  }
  return keys;
}

for (const name of SCHEDULER_NAMES) {
  Deno.test(`importConnState() keeps every established flow on its server after a restart (${name})`, () => {
    const before = new Dispatcher({ maxConnections: 1000 });
    before.configure([service({ scheduler: name })]);
    const keys = open(before, 60, 0);
    const saved = viaFile(exportConnState(before, 10_000, WALL));

    // The new run lists the servers in another order, so internal ids differ from the old run's.
    const after = new Dispatcher({ maxConnections: 1000 });
    after.configure([service({ scheduler: name, reals: [...REALS].reverse() })]);
    const sum = importConnState(after, saved, 0, WALL + 5_000);
    assert.deepEqual({ conns: sum.conns, expired: sum.expired, unknownServer: sum.unknownServer }, {
      conns: 60,
      expired: 0,
      unknownServer: 0,
    });
    for (const s of after.services[0].servers) {
      const was = before.services[0].servers.find((x) => x.key === s.key)!;
      assert.deepEqual([s.activeConns, s.inactConns], [was.activeConns, was.inactConns], s.key);
    }
    // Mid-flow packets, in reverse order so a fresh round-robin would place them differently.
    for (let i = 59; i >= 0; i--) {
      assert.equal(keyOf(after, after.schedule(flow(i), TCP_ACK, 1000)), keys[i], `flow ${i}`);
      assert.equal(after.lastReason, Reason.CONNECTION);
    }
    // New flows are scheduled normally.
    const fresh = new Set<string>();
    for (let i = 100; i < 130; i++) {
      fresh.add(keyOf(after, after.schedule(flow(i), TCP_SYN, 1000)));
      assert.equal(after.lastReason, Reason.SCHEDULER);
    }
    assert(fresh.size >= 1);
  });
}

Deno.test("importConnState() is what keeps rr flows: without it a restart moves some of them", () => {
  const before = new Dispatcher({ maxConnections: 1000 });
  before.configure([service()]);
  const keys = open(before, 30, 0);
  const fresh = new Dispatcher({ maxConnections: 1000 });
  fresh.configure([service()]);
  let moved = 0;
  for (let i = 29; i >= 0; i--) if (keyOf(fresh, fresh.schedule(flow(i), TCP_ACK, 1000)) !== keys[i]) moved++;
  assert(moved > 0, "sloppy rr happened to reproduce every placement");
});

Deno.test("importConnState() continues each timeout on the wall clock", () => {
  const before = new Dispatcher({ maxConnections: 100 });
  before.configure([service()]);
  open(before, 1, 0); // ESTABLISHED: 900 s from t = 0
  before.schedule(flow(1), TCP_SYN, 0); // SYN_RECV: 60 s from t = 0
  // Snapshot at t = 100 s: 800 s and 0 s... the SYN_RECV entry ran out at 60 s and is not saved.
  const saved = viaFile(exportConnState(before, 100_000, WALL));
  assert.equal(saved.conns.saddr.length, 1);
  assert.equal(saved.conns.remainingMs[0], 800_000);
  // The director was down for 300 s; the new one's own clock starts anywhere (here 5,000,000).
  const after = new Dispatcher({ maxConnections: 100 });
  after.configure([service()]);
  const now = 5_000_000;
  const sum = importConnState(after, saved, now, WALL + 300_000);
  assert.equal(sum.ageMs, 300_000);
  assert.equal(sum.conns, 1);
  assert.equal(after.expire(now + 499_999), 0);
  assert.equal(after.expire(now + 500_000), 1, "800 s left at the save, 300 s passed");
});

Deno.test("importConnState() drops entries that ran out while the director was down", () => {
  const before = new Dispatcher({ maxConnections: 100 });
  before.configure([service()]);
  open(before, 3, 0);
  const saved = viaFile(exportConnState(before, 0, WALL));
  const after = new Dispatcher({ maxConnections: 100 });
  after.configure([service()]);
  const sum = importConnState(after, saved, 0, WALL + 900_000);
  assert.deepEqual([sum.conns, sum.expired], [0, 3]);
  assert.equal(after.table.size, 0);
});

Deno.test("importConnState() caps time left at the current timeout of the state", () => {
  const before = new Dispatcher({ maxConnections: 100 });
  before.configure([service()]);
  open(before, 1, 0);
  const saved = viaFile(exportConnState(before, 0, WALL));
  const after = new Dispatcher({ maxConnections: 100, timeouts: { establishedS: 60 } });
  after.configure([service()]);
  importConnState(after, saved, 0, WALL);
  assert.equal(after.expire(59_999), 0);
  assert.equal(after.expire(60_000), 1);
});

Deno.test("importConnState() drops entries of servers and services no longer configured", () => {
  const before = new Dispatcher({ maxConnections: 100 });
  before.configure([service(), service({ port: 443 })]);
  const keys = open(before, 9, 0);
  open(before, 4, 0, 443);
  const saved = viaFile(exportConnState(before, 0, WALL));
  const after = new Dispatcher({ maxConnections: 100 });
  // 10.0.0.13 left, 10.0.0.14 joined, the :443 service is gone.
  after.configure([service({ reals: [{ address: "10.0.0.11" }, { address: "10.0.0.12" }, { address: "10.0.0.14" }] })]);
  const sum = importConnState(after, saved, 0, WALL);
  const gone = keys.filter((k) => k === "10.0.0.13:80").length;
  assert.deepEqual([sum.conns, sum.unknownServer], [9 - gone, gone + 4]);
  for (let i = 0; i < 9; i++) {
    const got = keyOf(after, after.schedule(flow(i), TCP_ACK, 1));
    if (keys[i] !== "10.0.0.13:80") assert.equal(got, keys[i]);
    else assert.notEqual(after.lastReason, Reason.CONNECTION);
  }
});

Deno.test("importConnState() stops at maxConnections and counts the rest", () => {
  const before = new Dispatcher({ maxConnections: 100 });
  before.configure([service()]);
  open(before, 20, 0);
  const after = new Dispatcher({ maxConnections: 12 });
  after.configure([service()]);
  const sum = importConnState(after, viaFile(exportConnState(before, 0, WALL)), 0, WALL);
  assert.deepEqual([sum.conns, sum.full, after.table.size], [12, 8, 12]);
});

Deno.test("importConnState() keeps ESTABLISHED, SYN_RECV, FIN_WAIT and CLOSE entries in their states", () => {
  const before = new Dispatcher({ maxConnections: 100 });
  before.configure([service()]);
  before.schedule(flow(0), TCP_SYN, 0);
  open(before, 1, 0, 81); // no service on 81: nothing recorded
  before.schedule(flow(1), TCP_SYN, 0);
  before.schedule(flow(1), TCP_ACK, 0);
  before.schedule(flow(1), TCP_FIN | TCP_ACK, 0);
  before.schedule(flow(2), TCP_SYN, 0);
  before.schedule(flow(2), TCP_ACK, 0);
  before.schedule(flow(2), TCP_RST, 0);
  open(before, 1, 0); // flow(0) again: ESTABLISHED now
  before.schedule(flow(3), TCP_SYN, 0);
  const saved = viaFile(exportConnState(before, 0, WALL));
  const want = [TcpState.ESTABLISHED, TcpState.FIN_WAIT, TcpState.CLOSE, TcpState.SYN_RECV];
  const after = new Dispatcher({ maxConnections: 100 });
  after.configure([service()]);
  importConnState(after, saved, 0, WALL);
  want.forEach((st, i) => {
    const slot = after.table.lookup(flow(i).saddr, flow(i).daddr, ((flow(i).sport << 16) | 80) >>> 0);
    assert.equal(after.table.state(slot), st, `flow ${i}`);
  });
  const servers = after.services[0].servers;
  assert.equal(servers.reduce((a, s) => a + s.activeConns, 0), 1);
  assert.equal(servers.reduce((a, s) => a + s.inactConns, 0), 3);
});

Deno.test("importConnState() restores persistence templates: a client's new connection goes to its server", () => {
  const spec = service({ scheduler: "rr", persistence: { timeoutS: 300, netmask: 24 } });
  const before = new Dispatcher({ maxConnections: 100 });
  before.configure([spec]);
  // Three /24 client groups, one half-open connection each (SYN_RECV: gone after 60 s).
  const groups = ["172.16.1.9", "172.16.2.9", "172.16.3.9"];
  const placed = groups.map((c) => keyOf(before, before.schedule({ ...flow(0), saddr: ipv4ToInt(c) }, TCP_SYN, 0)));
  assert.equal(new Set(placed).size, 3);
  const saved = viaFile(exportConnState(before, 10_000, WALL));
  assert.equal(saved.templates.client.length, 3);
  const after = new Dispatcher({ maxConnections: 100 });
  after.configure([{ ...spec, reals: [...REALS].reverse() }]);
  const sum = importConnState(after, saved, 0, WALL + 1000);
  assert.deepEqual([sum.templates, sum.templatesDropped], [3, 0]);
  assert.equal(after.templateCount, 3);
  groups.forEach((c, i) => {
    const other = { ...flow(7), saddr: (ipv4ToInt(c) + 100) >>> 0 }; // same /24, another host and port
    assert.equal(keyOf(after, after.schedule(other, TCP_SYN, 2000)), placed[i], c);
    assert.equal(after.lastReason, Reason.TEMPLATE);
  });
  // Templates run out 300 s after their last use (at 0 before the save, 10 s before it).
  const after2 = new Dispatcher({ maxConnections: 100 });
  after2.configure([spec]);
  importConnState(after2, saved, 0, WALL + 280_000);
  assert.equal(after2.table.size, 0, "the SYN_RECV entries ran out while the director was down");
  after2.expire(10_000 - 1);
  assert.equal(after2.templateCount, 3);
  after2.expire(10_000);
  assert.equal(after2.templateCount, 0);
});

Deno.test("importConnState() drops templates when persistence is off or its netmask changed", () => {
  const spec = service({ persistence: { timeoutS: 300, netmask: 24 } });
  const before = new Dispatcher({ maxConnections: 100 });
  before.configure([spec]);
  open(before, 3, 0);
  const saved = viaFile(exportConnState(before, 0, WALL));
  for (const persistence of [{ timeoutS: 0, netmask: 24 }, { timeoutS: 300, netmask: 16 }]) {
    const after = new Dispatcher({ maxConnections: 100 });
    after.configure([{ ...spec, persistence }]);
    const sum = importConnState(after, saved, 0, WALL);
    assert.equal(sum.templates, 0);
    assert.equal(sum.templatesDropped, saved.templates.client.length);
    assert.equal(sum.conns, 3, "the connections themselves stay");
  }
});

Deno.test("importConnState() keeps a run-out template while a restored connection still uses it", () => {
  const spec = service({ persistence: { timeoutS: 60, netmask: 32 } });
  const before = new Dispatcher({ maxConnections: 100 });
  before.configure([spec]);
  const key = open(before, 1, 0)[0];
  // At 100 s the template's 60 s are over, but its connection (900 s) holds it.
  const saved = viaFile(exportConnState(before, 100_000, WALL));
  assert.deepEqual([...saved.templates.remainingMs], [0]);
  const after = new Dispatcher({ maxConnections: 100 });
  after.configure([spec]);
  const sum = importConnState(after, saved, 0, WALL);
  assert.deepEqual([sum.conns, sum.templates], [1, 1]);
  const again = { ...flow(0), sport: 50000 };
  assert.equal(keyOf(after, after.schedule(again, TCP_SYN, 1)), key);
  assert.equal(after.lastReason, Reason.TEMPLATE);
});

Deno.test("exportConnState() names servers by key and skips entries already run out", () => {
  const d = new Dispatcher({ maxConnections: 100 });
  d.configure([service(), service({ transparent: true, vip: undefined, port: 8080 })]);
  open(d, 3, 0);
  open(d, 2, 0, 8080);
  d.schedule(flow(9), TCP_SYN, 0);
  const s = exportConnState(d, 60_000, WALL); // the SYN_RECV entry's 60 s are over
  assert.equal(s.conns.saddr.length, 5);
  assert.deepEqual(s.services.map((x) => x.key).sort(), ["*:8080", "10.0.0.100:80"]);
  for (const r of s.servers) assert.match(r.key, /^10\.0\.0\.1[123]:(80|8080)$/);
  assert.equal(s.savedAtMs, WALL);
});

Deno.test("Dispatcher.changes grows on traffic and expiry, not while idle", () => {
  const d = new Dispatcher({ maxConnections: 100 });
  d.configure([service()]);
  const c0 = d.changes;
  open(d, 1, 0);
  const c1 = d.changes;
  assert(c1 > c0);
  d.expire(1000);
  assert.equal(d.changes, c1);
  d.expire(900_000);
  assert(d.changes > c1);
});
