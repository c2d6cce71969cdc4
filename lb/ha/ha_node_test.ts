import assert from "node:assert/strict";
import { Keyring } from "../../cluster/keyring.ts";
import type { ConnState } from "../conn_state_codec.ts";
import { encodeResync } from "./message.ts";
import { haDropped } from "./metrics.ts";
import { DirectorHaSchema } from "../../config/director_ha_schema.ts";
import { decodeConnState } from "../conn_state_codec.ts";
import { ConnStateBuilder } from "./conn_state_builder.ts";
import type { HaDataplane } from "./ha_dataplane.ts";
import { HaNode } from "./ha_node.ts";
import { Dispatcher } from "../dispatcher.ts";

/** A data plane that records what HA asks of it (the real one needs root and namespaces). */
class FakeDataplane implements HaDataplane {
  active: boolean[] = [];
  pushed: Uint8Array[] = [];
  fullRequests = 0;
  send: ((s: ReturnType<ConnStateBuilder["build"]>, full: boolean) => void) | undefined;
  announced = 0;
  setActive(active: boolean) {
    this.active.push(active);
    return Promise.resolve();
  }
  announce() {
    this.announced++;
    return Promise.resolve();
  }
  released = 0;
  release() {
    this.released++;
    return Promise.resolve();
  }
  pushSync(p: Uint8Array) {
    this.pushed.push(p);
    return true;
  }
  /** When set, a full-table request is answered with this table, as the Worker does. */
  answerFull: (() => ConnState) | undefined;
  requestFull() {
    this.fullRequests++;
    const t = this.answerFull;
    if (t) setTimeout(() => this.send?.(t(), true), 5);
  }
  onSync(cb: NonNullable<FakeDataplane["send"]>) {
    this.send = cb;
  }
  syncCounters() {
    return {
      batches: 0,
      conns: 0,
      removed: 0,
      templates: 0,
      unknownServer: 0,
      full: 0,
      decodeErrors: 0,
      posted: 0,
      postedRecords: 0,
      inboxDropped: 0,
    };
  }
  entries() {
    return 0;
  }
  healthy() {
    return true;
  }
}

const KEY = btoa(String.fromCharCode(...new Uint8Array(32).fill(7)));

function freePort(): number {
  const c = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const p = (c.addr as Deno.NetAddr).port;
  c.close();
  return p;
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 3000): Promise<number> {
  const t0 = performance.now();
  while (!(await cond())) {
    if (performance.now() - t0 > ms) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
  return performance.now() - t0;
}

async function pair(p1: number, p2: number, extra: Record<string, unknown> = {}, key2 = KEY) {
  const [port1, port2] = [freePort(), freePort()];
  const mk = async (id: string, prio: number, port: number, peer: number, key: string) => {
    const dp = new FakeDataplane();
    const peers = [`127.0.0.1:${peer}`];
    const node = new HaNode({
      config: DirectorHaSchema.parse({
        mode: "active-backup",
        priority: prio,
        listen: port,
        preemptDelayMs: 0,
        ...extra,
      }),
      nodeId: id,
      keyring: await Keyring.create([key], "test"),
      bindAddress: "127.0.0.1",
      peers: () => peers,
      dataplane: dp,
    });
    return { node, dp, peers };
  };
  return { a: await mk("d1", p1, port1, port2, KEY), b: await mk("d2", p2, port2, port1, key2) };
}

Deno.test("HaNode: over UDP the higher priority becomes MASTER, a clean stop hands over within an interval", async () => {
  const { a, b } = await pair(200, 100);
  try {
    a.node.start();
    b.node.start();
    await until("d1 MASTER", () => a.node.role === "MASTER");
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(b.node.role, "BACKUP");
    assert.deepEqual(a.dp.active, [false, true]);
    assert.deepEqual(b.dp.active, [false]);
    assert.equal(b.node.status().master, "d1");
    assert.equal(b.node.status().peers[0].node, "d1");
    // The MASTER saw a new peer: it asked its data plane for the whole table.
    assert.ok(a.dp.fullRequests >= 1);
    const t0 = performance.now();
    await a.node.stop();
    await until("d2 MASTER", () => b.node.role === "MASTER");
    const ms = performance.now() - t0;
    assert.ok(ms < 250, `release took ${ms} ms; the dead interval is ${b.node.status().masterDownIntervalMs}`);
    assert.equal(b.node.status().lastTakeover?.reason, "master-released");
    assert.equal(a.dp.released, 1, "the MASTER stopped answering ARP before its release");
    assert.equal(b.dp.released, 0);
  } finally {
    await a.node.stop();
    await b.node.stop();
  }
});

Deno.test("HaNode: a silent MASTER is replaced after the master down interval", async () => {
  const { a, b } = await pair(200, 100);
  try {
    a.node.start();
    b.node.start();
    await until("d1 MASTER", () => a.node.role === "MASTER");
    await until("d2 follows d1", () => b.node.status().master === "d1");
    // d1 falls silent without a release, as after kill -9 (it still believes it is MASTER).
    const t0 = performance.now();
    a.peers.length = 0;
    await until("d2 MASTER", () => b.node.role === "MASTER");
    const ms = performance.now() - t0;
    const down = b.node.status().masterDownIntervalMs;
    assert.ok(ms >= down - 120 && ms < down + 400, `took ${ms} ms, dead interval ${down}`);
    assert.equal(b.node.status().lastTakeover?.reason, "master-dead");
    assert.ok(b.node.status().lastTakeover!.silentMs! >= down - 50);
    // The partition heals: two MASTERs, the worse (d2) steps down at d1's next heartbeat.
    a.peers.push(`127.0.0.1:${b.node.address!.port}`);
    await until("d2 BACKUP again", () => b.node.role === "BACKUP");
    assert.equal(a.node.role, "MASTER");
    // d1 took the VIPs back with gratuitous ARPs; d2 handed its table over (asked its data plane for it).
    await until("d1 announced", () => a.dp.announced >= 1);
    assert.ok(b.dp.fullRequests >= 2, `d2 full requests ${b.dp.fullRequests}`);
  } finally {
    await a.node.stop();
    await b.node.stop();
  }
});

Deno.test("HaNode: the MASTER's connection batches reach the BACKUP's data plane, sealed", async () => {
  const { a, b } = await pair(200, 100);
  try {
    a.node.start();
    b.node.start();
    await until("d1 MASTER", () => a.node.role === "MASTER");
    const d = new Dispatcher({ maxConnections: 100 });
    d.configure([{ vip: "10.0.0.100", port: 80, scheduler: "rr", method: "dr", reals: [{ address: "10.0.0.11" }] }]);
    const bld = new ConnStateBuilder(d, Date.now());
    for (let i = 0; i < 300; i++) bld.conn(0x0a000001 + i, 0x0a000064, (40000 + i) << 16 | 80, 0, 1, 0, 900_000);
    a.dp.send!(bld.build(), false);
    await until(
      "300 records at d2",
      () => b.dp.pushed.reduce((n, p) => n + decodeConnState(p).conns.saddr.length, 0) === 300,
    );
    assert.ok(b.dp.pushed.length >= 5, "300 records need several 1400-byte datagrams");
    assert.ok(a.node.status().sync.sentDatagrams === b.dp.pushed.length);
  } finally {
    await a.node.stop();
    await b.node.stop();
  }
});

Deno.test("HaNode: a node with another key is ignored (both become MASTER, datagrams dropped)", async () => {
  const other = btoa(String.fromCharCode(...new Uint8Array(32).fill(9)));
  const { a, b } = await pair(200, 100, {}, other);
  try {
    a.node.start();
    b.node.start();
    await until("both MASTER", () => a.node.role === "MASTER" && b.node.role === "MASTER");
    assert.equal(a.node.status().peers.length, 0);
  } finally {
    await a.node.stop();
    await b.node.stop();
  }
});

/** A table of `n` established DR entries from 10.1.0.0 (`first` onwards) to 10.0.0.100:80. */
function table(n: number, first = 0): ConnState {
  const d = new Dispatcher({ maxConnections: 100 });
  d.configure([{ vip: "10.0.0.100", port: 80, scheduler: "rr", method: "dr", reals: [{ address: "10.0.0.11" }] }]);
  const bld = new ConnStateBuilder(d, Date.now());
  for (let i = first; i < first + n; i++) {
    bld.conn(0x0a010000 + i, 0x0a000064, (40000 + i) << 16 | 80, 0, 1, 0, 900_000);
  }
  return bld.build();
}

/**
 * A UDP relay from the MASTER to the BACKUP that drops the sync datagrams `drop` picks (sealed: told
 * from heartbeats by size, a heartbeat is under 120 bytes, a one-record sync datagram over 150).
 */
function relay(to: () => number) {
  const conn = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const r = { port: (conn.addr as Deno.NetAddr).port, dropNextSync: 0, dropped: 0, done: Promise.resolve() };
  r.done = (async () => {
    while (true) {
      let data: Uint8Array;
      try {
        [data] = await conn.receive();
      } catch {
        return;
      }
      if (data.length > 150 && r.dropNextSync > 0) {
        r.dropNextSync--;
        r.dropped++;
        continue;
      }
      await conn.send(data, { transport: "udp", hostname: "127.0.0.1", port: to() }).catch(() => {});
    }
  })();
  return { r, close: async () => (conn.close(), await r.done) };
}

/** d1 (MASTER) sends to d2 through a dropping relay; both answer full-table requests with `full`. */
async function lossyPair(full: () => ConnState) {
  const { a, b } = await pair(200, 100);
  const { r, close } = relay(() => b.node.address!.port);
  a.peers[0] = `127.0.0.1:${r.port}`;
  a.dp.answerFull = full;
  b.dp.answerFull = full;
  a.node.start();
  b.node.start();
  await until("d1 MASTER", () => a.node.role === "MASTER");
  await until("d2 holds d1's first full table", () => {
    const f = b.node.status().sync.following;
    return f?.node === "d1" && f.held >= 1 && f.missing === 0;
  });
  // Past the MASTER's 200 ms between full tables.
  await new Promise((res) => setTimeout(res, 300));
  return { a, b, r, close };
}

const pushedRecords = (dp: FakeDataplane) => dp.pushed.reduce((n, p) => n + decodeConnState(p).conns.saddr.length, 0);

Deno.test("HaNode: a lost sync datagram is asked for at once, and one full table repairs it", async () => {
  let rows = 3;
  const { a, b, r, close } = await lossyPair(() => table(rows));
  try {
    const before = pushedRecords(b.dp);
    r.dropNextSync = 1;
    rows = 5; // the MASTER's table now holds the flows of the lost batch
    a.dp.send!(table(2, 3), false); // lost
    await until("the relay dropped it", () => r.dropped === 1);
    const t0 = performance.now();
    a.dp.send!(table(1, 10), false); // arrives: 1 missing
    await until("d2 repaired the gap", () => b.node.status().sync.repaired === 1, 2000);
    const ms = performance.now() - t0;
    const bs = b.node.status().sync, as = a.node.status().sync;
    assert.equal(bs.resync.requested, 1);
    assert.equal(as.resync.served, 1);
    assert.equal(bs.gaps, 1);
    assert.equal(as.fullTablesSent, 2);
    assert.deepEqual(bs.following, {
      node: "d1",
      epoch: bs.following!.epoch,
      held: as.seq,
      highest: as.seq,
      missing: 0,
    });
    // The flows of the lost batch arrived with the full table (5 rows) besides the later batch's 1.
    assert.equal(pushedRecords(b.dp) - before, 1 + 5);
    assert.ok(ms < 1000, `repaired after ${ms.toFixed(0)} ms (gap grace 50 ms), not at the 30 s full sync`);
    // Nothing more is asked, and the MASTER sees the BACKUP caught up through its heartbeat.
    await new Promise((res) => setTimeout(res, 1200));
    assert.equal(b.node.status().sync.resync.requested, 1);
    await until("d1 sees d2 caught up", () => a.node.status().peers[0]?.syncBehind === 0);
    assert.equal(a.node.status().peers[0].syncHeld, a.node.status().sync.seq);
  } finally {
    await a.node.stop();
    await b.node.stop();
    await close();
  }
});

Deno.test("HaNode: a lost last batch is found from the MASTER's heartbeat", async () => {
  const { a, b, r, close } = await lossyPair(() => table(4));
  try {
    r.dropNextSync = 1;
    a.dp.send!(table(1, 3), false); // lost, and nothing follows it
    await until("the relay dropped it", () => r.dropped === 1);
    await until("d2 repaired the gap", () => b.node.status().sync.repaired === 1, 2000);
    assert.equal(b.node.status().sync.resync.requested, 1);
    assert.equal(a.node.status().sync.resync.served, 1);
  } finally {
    await a.node.stop();
    await b.node.stop();
    await close();
  }
});

Deno.test("HaNode: unsealed, foreign or replayed resync requests are dropped before they cost anything", async () => {
  const { a, b } = await pair(200, 100);
  a.dp.answerFull = () => table(1);
  const attacker = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    a.node.start();
    b.node.start();
    await until("d1 MASTER with d2", () => a.node.role === "MASTER" && a.node.status().peers.length === 1);
    await new Promise((res) => setTimeout(res, 300));
    const to = { transport: "udp" as const, hostname: "127.0.0.1", port: a.node.address!.port };
    const req = (nodeId: string) =>
      encodeResync({
        epoch: Date.now(),
        sequence: 1,
        nodeId,
        group: "default",
        reason: "gap",
        target: "d1",
        targetEpoch: 0,
        missingUpTo: 0xffffffff,
      });
    const dropped = async () => (await haDropped.get()).values.reduce((n, v) => n + v.value, 0);
    const full0 = a.dp.fullRequests, dropped0 = await dropped();
    const other = await Keyring.create([btoa(String.fromCharCode(...new Uint8Array(32).fill(9)))], "test");
    await attacker.send(req("d9"), to); // plaintext
    await attacker.send(crypto.getRandomValues(new Uint8Array(200)), to);
    await attacker.send(await other.seal(req("d9")), to); // another cluster's key
    await until("3 dropped", async () => (await dropped()) - dropped0 >= 3 ? true : false);
    assert.equal(a.dp.fullRequests, full0);
    assert.equal(a.node.status().sync.resync.served, 0);
    // A key holder's request is served once; the same datagram again is a replay.
    const sealed = await (await Keyring.create([KEY], "test")).seal(req("d9"));
    await attacker.send(sealed, to);
    await until("served", () => a.node.status().sync.resync.served === 1);
    await attacker.send(sealed, to);
    await until("the replay dropped", async () => (await dropped()) - dropped0 >= 4);
    await new Promise((res) => setTimeout(res, 300));
    assert.equal(a.dp.fullRequests, full0 + 1);
    assert.equal(a.node.status().sync.resync.served, 1);
    assert.deepEqual(a.node.status().peers.map((p) => p.node), ["d2"], "no state kept for the requester");
  } finally {
    attacker.close();
    await a.node.stop();
    await b.node.stop();
  }
});
