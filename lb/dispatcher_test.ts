import assert from "node:assert/strict";
import { ipv4ToInt } from "../core/addr.ts";
import { ADOPT_PROMOTE_MAX_CHECKS, Dispatcher, type ServiceSpec } from "./dispatcher.ts";
import type { FlowKey } from "./scheduler/mod.ts";
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN, TcpState } from "./tcp_state.ts";

const VIP = "10.0.0.100";
const three = (extra: Partial<ServiceSpec> = {}): ServiceSpec => ({
  vip: VIP,
  port: 80,
  scheduler: "rr",
  reals: [{ address: "10.0.0.11" }, { address: "10.0.0.12" }, { address: "10.0.0.13" }],
  ...extra,
});
const f = (client: string, sport = 40000, vip = VIP, dport = 80): FlowKey => ({
  saddr: ipv4ToInt(client),
  sport,
  daddr: ipv4ToInt(vip),
  dport,
});
const addr = (d: Dispatcher, id: number | undefined) => (id === undefined ? "-" : d.server(id)!.address);

Deno.test("Dispatcher.schedule() keeps a flow on its server and tracks active/inactive counts", () => {
  const d = new Dispatcher({ maxConnections: 100 });
  d.configure([three()]);
  const id = d.schedule(f("1.1.1.1"), TCP_SYN, 0)!;
  const s = d.server(id)!;
  assert.deepEqual([s.activeConns, s.inactConns], [0, 1]);
  assert.equal(d.schedule(f("1.1.1.1"), TCP_ACK, 1), id);
  assert.deepEqual([s.activeConns, s.inactConns], [1, 0]);
  assert.equal(d.schedule(f("1.1.1.1"), TCP_FIN | TCP_ACK, 2), id);
  assert.deepEqual([s.activeConns, s.inactConns], [0, 1]);
  assert.equal(s.conns, 1);
});

Deno.test("Dispatcher.expire() applies the state timeouts (fake clock)", () => {
  const d = new Dispatcher({ maxConnections: 100, timeouts: { synRecvS: 60, establishedS: 900, finWaitS: 120 } });
  d.configure([three()]);
  d.schedule(f("1.1.1.1"), TCP_SYN, 0);
  assert.equal(d.expire(59_999), 0);
  assert.equal(d.expire(60_000), 1, "SYN_RECV after 60 s");
  d.schedule(f("1.1.1.2"), TCP_SYN, 100_000);
  d.schedule(f("1.1.1.2"), TCP_ACK, 100_000);
  assert.equal(d.expire(100_000 + 899_999), 0);
  d.schedule(f("1.1.1.2"), TCP_ACK, 500_000); // traffic re-arms
  assert.equal(d.expire(100_000 + 900_000), 0);
  d.schedule(f("1.1.1.2"), TCP_FIN, 1_000_000);
  assert.equal(d.expire(1_000_000 + 119_999), 0);
  assert.equal(d.expire(1_000_000 + 120_000), 1, "FIN_WAIT after 120 s");
  d.schedule(f("1.1.1.3"), TCP_RST, 2_000_000);
  assert.equal(d.expire(2_000_000 + 10_000), 1, "CLOSE after 10 s");
  for (const s of d.services[0].servers) assert.equal(s.totalConns, 0);
});

Deno.test("Dispatcher.schedule() schedules mid-flow packets without a SYN (sloppy) as ESTABLISHED", () => {
  const d = new Dispatcher({ maxConnections: 100 });
  d.configure([three()]);
  const id = d.schedule(f("1.1.1.1"), TCP_ACK, 0)!;
  assert.equal(d.server(id)!.activeConns, 1);
  assert.equal(d.expire(899_999), 0);
});

Deno.test("Dispatcher.schedule() reschedules a SYN on a finished entry (port reuse)", () => {
  const d = new Dispatcher({ maxConnections: 100 });
  d.configure([three()]);
  const a = d.schedule(f("1.1.1.1"), TCP_SYN, 0);
  d.schedule(f("1.1.1.1"), TCP_FIN, 1);
  const b = d.schedule(f("1.1.1.1"), TCP_SYN, 2);
  assert.notEqual(a, b, "rr moved on, so a fresh decision picks the next server");
  assert.equal(d.table.size, 1);
});

Deno.test("Dispatcher persistence holds a /24 on one server and expires after the timeout", () => {
  const d = new Dispatcher({ maxConnections: 1000 });
  d.configure([three({ persistence: { timeoutS: 300, netmask: 24 } })]);
  const first = d.schedule(f("192.168.5.1", 1000), TCP_SYN, 0);
  for (let i = 2; i < 50; i++) assert.equal(d.schedule(f(`192.168.5.${i}`, 1000 + i), TCP_SYN, i), first);
  const other = d.schedule(f("192.168.6.1"), TCP_SYN, 100);
  assert.notEqual(other, first, "another /24 is scheduled (rr) elsewhere");
  // All connections end; the template outlives them by up to one timeout, then goes.
  d.expire(200_000); // SYN_RECV entries gone after 60 s; template re-armed? refs were > 0 until now
  assert.equal(d.table.size, 0);
  assert.equal(d.schedule(f("192.168.5.77"), TCP_SYN, 250_000), first, "template still alive");
  d.expire(1_000_000);
  assert.equal(d.templateCount, 0);
});

Deno.test("Dispatcher persistence expires a template to a quiesced server only with expireQuiescentTemplate", () => {
  for (const expire of [true, false]) {
    const d = new Dispatcher({ maxConnections: 100, expireQuiescentTemplate: expire });
    d.configure([three({ persistence: { timeoutS: 300, netmask: 32 } })]);
    const first = d.schedule(f("7.7.7.7", 1), TCP_SYN, 0)!;
    d.drain(d.server(first)!.key);
    const again = d.schedule(f("7.7.7.7", 2), TCP_SYN, 1)!;
    if (expire) assert.notEqual(again, first);
    else assert.equal(again, first);
  }
});

Deno.test("Dispatcher health: a down server takes nothing new; inhibitOnFailure keeps it at weight 0", () => {
  const d = new Dispatcher({ maxConnections: 100 });
  d.configure([three()]);
  const b = d.findServers("10.0.0.12")[0];
  d.setHealth(b.id, false);
  const seq = Array.from({ length: 6 }, (_, i) => addr(d, d.schedule(f("1.1.1.1", i + 1), TCP_SYN, i)));
  assert.ok(!seq.includes("10.0.0.12"), seq.join());
  assert.equal(d.services[0].eligible.length, 2);
  d.configure([three({ health: { inhibitOnFailure: true } })]);
  assert.equal(d.services[0].eligible.length, 3);
  assert.equal(b.weight, 0);
});

Deno.test("Dispatcher uses the sorry server only when every real server is down", () => {
  const d = new Dispatcher({ maxConnections: 100 });
  d.configure([three({ sorryServer: "10.0.0.50:8080" })]);
  for (const s of d.services[0].servers) d.setHealth(s.id, false);
  assert.equal(d.server(d.schedule(f("1.1.1.1"), TCP_SYN, 0)!)!.key, "10.0.0.50:8080");
  assert.equal(d.route(f("1.1.1.2"), 0).reason, "sorry");
  d.setHealth(d.services[0].servers[0].id, true);
  assert.equal(addr(d, d.schedule(f("1.1.1.3"), TCP_SYN, 0)), "10.0.0.11");
});

Deno.test("Dispatcher membership: dead removes, draining quiesces, suspect changes nothing", () => {
  const d = new Dispatcher({ maxConnections: 100 });
  d.configure([three()]);
  d.setMembership("10.0.0.11", "dead");
  d.setMembership("10.0.0.12", "draining");
  d.setMembership("10.0.0.13", "suspect");
  const seq = Array.from({ length: 4 }, (_, i) => addr(d, d.schedule(f("1.1.1.1", i + 1), TCP_SYN, i)));
  assert.deepEqual(seq, ["10.0.0.13", "10.0.0.13", "10.0.0.13", "10.0.0.13"]);
});

Deno.test("Dispatcher schedules statelessly and consistently when the table is full", () => {
  const d = new Dispatcher({ maxConnections: 10 });
  d.configure([three()]);
  for (let i = 0; i < 10; i++) d.schedule(f("1.1.1.1", i + 1), TCP_SYN, 0);
  assert.ok(d.table.full);
  const a = d.schedule(f("2.2.2.2", 5555), TCP_SYN, 0);
  assert.notEqual(a, undefined);
  for (let i = 0; i < 20; i++) assert.equal(d.schedule(f("2.2.2.2", 5555), TCP_ACK, i), a);
  assert.equal(d.counters.overflow, 21);
  const servers = new Set<number | undefined>();
  for (let i = 0; i < 300; i++) servers.add(d.schedule(f(`3.3.${i >> 8}.${i & 255}`, 1000 + i), TCP_SYN, 0));
  assert.equal(servers.size, 3, "stateless flows still spread");
});

Deno.test("Dispatcher.route() explains without changing state", () => {
  const d = new Dispatcher({ maxConnections: 100 });
  d.configure([three({ scheduler: "rr", persistence: { timeoutS: 60, netmask: 32 } })]);
  const r1 = d.route(f("1.1.1.1"), 0);
  const r2 = d.route(f("1.1.1.1"), 0);
  assert.deepEqual(r1, r2);
  assert.equal(r1.reason, "scheduler");
  assert.equal(d.table.size, 0);
  assert.equal(d.templateCount, 0);
  const id = d.schedule(f("1.1.1.1"), TCP_SYN, 0);
  assert.equal(d.route(f("1.1.1.1"), 0, TCP_ACK).reason, "connection");
  const viaTemplate = d.route(f("1.1.1.1", 2), 0);
  assert.equal(viaTemplate.reason, "template");
  assert.equal(viaTemplate.serverId, id);
  assert.equal(d.route(f("1.1.1.1", 1, "10.9.9.9"), 0).reason, "no-service");
});

Deno.test("Dispatcher matches a transparent service on any destination, after exact VIPs", () => {
  const d = new Dispatcher({ maxConnections: 100 });
  d.configure([
    { transparent: true, port: 80, scheduler: "dh", reals: [{ address: "10.0.0.21" }] },
    three(),
  ]);
  assert.equal(addr(d, d.schedule(f("1.1.1.1", 1, "93.184.216.34"), TCP_SYN, 0)), "10.0.0.21");
  assert.notEqual(addr(d, d.schedule(f("1.1.1.1", 1, VIP), TCP_SYN, 0)), "10.0.0.21");
});

Deno.test("Dispatcher logs a full table at most once a second", async () => {
  const { setLogSink } = await import("../core/log.ts");
  const lines: string[] = [];
  setLogSink((l) => lines.push(l));
  try {
    const d = new Dispatcher({ maxConnections: 5 });
    d.configure([three()]);
    for (let i = 0; i < 2000; i++) {
      d.schedule(f("9.9.9.9", i + 1), TCP_SYN, Math.floor(i / 1000) * 1000 + (i % 1000) / 2);
    }
    const warns = lines.filter((l) => l.includes("Connection table full"));
    assert.equal(warns.length, 2, "one line per second of flooding");
    assert.equal(d.counters.overflow, 1995);
    assert.match(warns[1], /"flows":1000[,}]/, "the second line counts the flows since the first");
  } finally {
    setLogSink();
  }
});

Deno.test("Dispatcher drops templates of a server removed by reload, so a reused id does not inherit them", () => {
  const d = new Dispatcher({ maxConnections: 100 });
  const svc = (reals: string[]) =>
    three({ persistence: { timeoutS: 300, netmask: 32 }, reals: reals.map((address) => ({ address })) });
  d.configure([svc(["10.0.0.11"])]);
  const a = d.schedule(f("5.5.5.6"), TCP_SYN, 0)!;
  d.schedule(f("5.5.5.6"), TCP_RST, 1); // stays SYN_RECV (60 s), as IPVS; the template lives 300 s
  d.configure([svc(["10.0.0.14"])]); // .11 leaves but keeps its id while its entry lives
  d.expire(100_000); // entry gone → .11 freed
  d.configure([svc(["10.0.0.14", "10.0.0.15"])]);
  assert.equal(d.services[0].servers[1].id, a, ".15 reuses the id");
  assert.equal(d.route(f("5.5.5.6", 9), 100_001).reason, "scheduler", "no template points at .15");
});

Deno.test("Dispatcher respects upperThreshold: overloaded at the threshold, back below three quarters", () => {
  const d = new Dispatcher({ maxConnections: 100 });
  d.configure([
    three({ scheduler: "rr", reals: [{ address: "10.0.0.11", upperThreshold: 4 }, { address: "10.0.0.12" }] }),
  ]);
  const a = d.findServers("10.0.0.11")[0];
  // rr alternates: after 8 flows .11 holds 4 entries and is overloaded.
  const flows = Array.from({ length: 8 }, (_, i) => f("1.1.1.1", i + 1));
  const owner = flows.map((x) => addr(d, d.schedule(x, TCP_SYN, 0)));
  assert.equal(a.totalConns, 4);
  assert.equal(a.overloaded, true);
  for (let i = 0; i < 5; i++) assert.equal(addr(d, d.schedule(f("2.2.2.2", 200 + i), TCP_SYN, 0)), "10.0.0.12");
  // 3 entries: 3 * 4 = 12 is not below 4 * 3 = 12, still overloaded; at 2 it clears.
  const mine = flows.filter((_, i) => owner[i] === "10.0.0.11");
  d.forget(mine[0]);
  assert.equal(a.overloaded, true);
  d.forget(mine[1]);
  assert.equal(a.overloaded, false);
  assert.equal(addr(d, d.schedule(f("3.3.3.3"), TCP_SYN, 0)), "10.0.0.11");
});

Deno.test("Dispatcher.adoptConnection() enters a kernel-scheduled flow as SYN_RECV (60 s) and installed", () => {
  const d = new Dispatcher({ maxConnections: 2 });
  const removed: number[] = [];
  d.offload = {
    install: () => true,
    remove: (_t, slot) => void removed.push(slot),
    lastSeenMs: () => -Infinity,
    packets: () => 0,
  };
  d.configure([three({ scheduler: "mh" })]);
  const k = f("1.1.1.1");
  const flow = { saddr: k.saddr, daddr: k.daddr, ports: ((k.sport << 16) | k.dport) >>> 0 };
  const id = d.services[0].servers[1].id;
  assert.equal(d.adoptConnection(flow, id, 0), true);
  const s = d.server(id)!;
  assert.deepEqual([s.conns, s.activeConns, s.inactConns, d.counters.newConns], [1, 0, 1, 1]);
  const slot = d.table.lookup(flow.saddr, flow.daddr, flow.ports);
  assert.deepEqual([d.table.state(slot), d.table.expires(slot)], [TcpState.SYN_RECV, 60_000]);
  // A retransmitted SYN the kernel scheduled again: one connection still.
  assert.equal(d.adoptConnection(flow, id, 1), true);
  assert.deepEqual([s.conns, s.inactConns, d.table.size], [1, 1, 1]);
  // Its FIN reaches user space: the same server, and the kernel's flow is removed.
  assert.equal(d.schedule(k, TCP_FIN | TCP_ACK, 2), id);
  assert.equal(removed.length, 1);
  assert.deepEqual([s.activeConns, s.inactConns], [0, 1]);
  // A server of another service, or an unknown one, is refused; so is a full table.
  assert.equal(d.adoptConnection({ ...flow, ports: flow.ports + 1 }, 999, 3), false);
  assert.equal(d.adoptConnection({ ...flow, saddr: ipv4ToInt("2.2.2.2") }, id, 3), true);
  assert.equal(d.adoptConnection({ ...flow, saddr: ipv4ToInt("3.3.3.3") }, id, 3), false);
});

Deno.test("Dispatcher.expire() promotes a kernel-scheduled entry seen past its SYN within 1 s; a lone SYN goes after 60 s", () => {
  const d = new Dispatcher({ maxConnections: 10 });
  const removed: number[] = [];
  // sport 1000: the handshake's ACK and data passed in the kernel (last at 30 s); sport 1001: its SYN only.
  const packets = new Map([[1000, 3], [1001, 1]]);
  const seen = new Map([[1000, 30_000], [1001, 0]]);
  d.offload = {
    install: () => true,
    remove: (t, slot) => void removed.push(t.ports(slot) >>> 16),
    lastSeenMs: (t, slot) => seen.get(t.ports(slot) >>> 16)!,
    packets: (t, slot) => packets.get(t.ports(slot) >>> 16)!,
  };
  d.configure([three({ scheduler: "mh" })]);
  const id = d.services[0].servers[0].id;
  for (const sport of [1000, 1001]) {
    const k = f("1.1.1.1", sport);
    assert.equal(d.adoptConnection({ saddr: k.saddr, daddr: k.daddr, ports: ((sport << 16) | 80) >>> 0 }, id, 0), true);
  }
  const s = d.server(id)!;
  assert.equal(d.expire(999), 0);
  assert.deepEqual([s.activeConns, s.inactConns], [0, 2]);
  // A second after the kernel reported it, the established one counts as active (not after 60 s).
  assert.equal(d.expire(1000), 0);
  assert.deepEqual([s.activeConns, s.inactConns], [1, 1]);
  assert.equal(d.expire(59_999), 0);
  assert.deepEqual([s.activeConns, s.inactConns], [1, 1]);
  assert.equal(d.expire(60_000), 1, "the lone SYN's entry expires with SYN_RECV's timeout");
  assert.deepEqual(removed, [1001], "and leaves the kernel");
  const slot = d.table.lookup(ipv4ToInt("1.1.1.1"), ipv4ToInt(VIP), ((1000 << 16) | 80) >>> 0);
  assert.deepEqual([d.table.state(slot), d.table.expires(slot)], [TcpState.ESTABLISHED, 30_000 + 900_000]);
  assert.deepEqual([s.activeConns, s.inactConns, d.table.size], [1, 0, 1]);
});

Deno.test("Dispatcher: kernel-scheduled counts follow within a second, FINs move them back, looks are bounded", () => {
  const d = new Dispatcher({ maxConnections: 3 * ADOPT_PROMOTE_MAX_CHECKS });
  let looks = 0;
  d.offload = {
    install: () => true,
    remove: () => {},
    lastSeenMs: () => -Infinity,
    packets: () => (looks++, 2),
  };
  d.configure([three({ scheduler: "mh" })]);
  const id = d.services[0].servers[0].id;
  const s = d.server(id)!;
  const n = ADOPT_PROMOTE_MAX_CHECKS + 10;
  const keys = [];
  for (let i = 0; i < n; i++) {
    const k = f(`1.1.${i >> 8}.${i & 255}`, 2000);
    keys.push(k);
    assert.ok(d.adoptConnection({ saddr: k.saddr, daddr: k.daddr, ports: ((k.sport << 16) | k.dport) >>> 0 }, id, 0));
  }
  d.expire(1000);
  assert.equal(looks, ADOPT_PROMOTE_MAX_CHECKS, "one bounded round of looks");
  assert.deepEqual([s.activeConns, s.inactConns], [ADOPT_PROMOTE_MAX_CHECKS, 10]);
  d.expire(2000);
  assert.equal(looks, ADOPT_PROMOTE_MAX_CHECKS, "each entry is looked at once");
  // The kernel reports a FIN: the entry leaves the active count at once.
  d.schedule(keys[0], TCP_FIN | TCP_ACK, 2500);
  assert.deepEqual([s.activeConns, s.inactConns], [ADOPT_PROMOTE_MAX_CHECKS - 1, 11]);
});
