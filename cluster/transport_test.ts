import assert from "node:assert/strict";
import {
  encodePacket,
  MAX_STREAM_FRAME_BYTES,
  MAX_UNAUTHENTICATED_FRAME_BYTES,
  type Message,
  type PushPullMessage,
} from "./codec.ts";
import { Keyring } from "./keyring.ts";
import type { NodeRecord } from "./node.ts";
import {
  AUTH_TIMEOUT_MS,
  MAX_UDP_PACKET_BYTES,
  MAX_UNAUTHENTICATED_CONNS,
  NetTransport,
  type TransportHandler,
} from "./transport.ts";

const KEY = btoa("k".repeat(32));

function record(i: number): NodeRecord {
  return {
    id: `node-${i}`,
    name: `a-rather-long-node-name-${i}`.padEnd(120, "x"),
    role: "cache",
    addrs: { gossip: `127.0.0.1:${1000 + i}`, http: `127.0.0.1:${2000 + i}` },
    weight: 1,
    state: "alive",
    configHash: "0123456789abcdef",
    incarnation: i,
  };
}

async function pair(): Promise<{ a: NetTransport; b: NetTransport; got: { msgs: Message[]; from: string }[] }> {
  const keyring = await Keyring.create([KEY], "t");
  const got: { msgs: Message[]; from: string }[] = [];
  const handler = (name: string): TransportHandler => ({
    packet: (msgs, from) => got.push({ msgs, from }),
    pushPull: (req) => ({
      type: "pushPull",
      join: false,
      entries: [{ state: "alive", record: record(name.length) }, ...req.entries],
    }),
    streamPing: (p) => p.target === "b",
    drop: () => {},
  });
  const a = NetTransport.listen({ hostname: "127.0.0.1", port: 0, keyring, handler: handler("a") });
  const b = NetTransport.listen({ hostname: "127.0.0.1", port: 0, keyring, handler: handler("b") });
  return { a, b, got };
}

async function until(fn: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error("Timed out");
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("NetTransport binds UDP and TCP on the same free port", async () => {
  const { a, b } = await pair();
  try {
    assert.ok(a.addr.port > 0);
    assert.notEqual(a.addr.port, b.addr.port);
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("NetTransport sends small packets by UDP and packets over the UDP limit by TCP", async () => {
  const { a, b, got } = await pair();
  try {
    const to = `127.0.0.1:${b.addr.port}`;
    a.sendPacket(to, [{ type: "ack", seq: 1 }]);
    const big: Message[] = Array.from({ length: 12 }, (_, i) => ({ type: "alive", record: record(i) }));
    a.sendPacket(to, big);
    await until(() => got.length === 2);
    const small = got.find((g) => g.msgs.length === 1)!;
    const large = got.find((g) => g.msgs.length === 12)!;
    assert.equal(small.from, `127.0.0.1:${a.addr.port}`, "UDP comes from the gossip port");
    assert.notEqual(large.from, `127.0.0.1:${a.addr.port}`, "TCP comes from an ephemeral port");
    assert.deepEqual(large.msgs, big);
    assert.ok(JSON.stringify(big).length > MAX_UDP_PACKET_BYTES);
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("NetTransport push-pull and TCP ping round-trip; failures call back with nothing", async () => {
  const { a, b } = await pair();
  try {
    const to = `127.0.0.1:${b.addr.port}`;
    const mine: PushPullMessage = { type: "pushPull", join: true, entries: [{ state: "left", record: record(7) }] };
    const reply = await new Promise<PushPullMessage | undefined>((r) => a.pushPull(to, mine, r));
    assert.equal(reply?.entries.length, 2);
    assert.deepEqual(reply?.entries[1], mine.entries[0]);
    const ping = (target: string) =>
      new Promise<boolean>((r) =>
        a.streamPing(to, { type: "ping", seq: 9, target, from: "a", fromAddr: "x:1" }, 1000, r)
      );
    assert.equal(await ping("b"), true);
    assert.equal(await ping("someone-else"), false);
    await b.close();
    const none = await new Promise<PushPullMessage | undefined>((r) => a.pushPull(to, mine, r));
    assert.equal(none, undefined);
  } finally {
    await a.close();
    await b.close();
  }
});

/** A raw TCP client that sends `bytes` and reports when the node closed the connection (ms after start). */
async function rawConn(port: number, bytes: Uint8Array): Promise<{ closedAfterMs: () => Promise<number> }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const start = Date.now();
  try {
    await conn.write(bytes);
  } catch { /* closed already */ }
  const closed = (async () => {
    const buf = new Uint8Array(1024);
    try {
      while ((await conn.read(buf)) !== null) { /* discard */ }
    } catch { /* reset */ }
    try {
      conn.close();
    } catch { /* closed */ }
    return Date.now() - start;
  })();
  return { closedAfterMs: () => closed };
}

function u32(n: number): Uint8Array {
  const b = new Uint8Array(4);
  new DataView(b.buffer).setUint32(0, n);
  return b;
}

Deno.test("NetTransport sends a packet above the unauthenticated bound after an authenticated streamOpen", async () => {
  const { a, b, got } = await pair();
  try {
    // 100 records of ~250 bytes and a padded name: ~100 KiB, more than MAX_UNAUTHENTICATED_FRAME_BYTES.
    const big: Message[] = Array.from({ length: 250 }, (_, i) => ({
      type: "alive",
      record: { ...record(i), name: `n${i}`.padEnd(200, "y") },
    }));
    assert.ok(encodePacket(big).length > MAX_UNAUTHENTICATED_FRAME_BYTES);
    a.sendPacket(`127.0.0.1:${b.addr.port}`, big);
    await until(() => got.length === 1);
    assert.deepEqual(got[0].msgs, big);
  } finally {
    await a.close();
    await b.close();
  }
});

Deno.test("NetTransport closes a stranger's connection announcing a huge frame without reading it", async () => {
  const keyring = await Keyring.create([KEY], "t");
  const drops: string[] = [];
  const t = NetTransport.listen({
    hostname: "127.0.0.1",
    port: 0,
    keyring,
    handler: {
      packet: () => {},
      pushPull: (req) => req,
      streamPing: () => false,
      drop: (reason) => drops.push(reason),
    },
  });
  try {
    for (const n of [0xffffffff, MAX_STREAM_FRAME_BYTES, MAX_UNAUTHENTICATED_FRAME_BYTES + 1]) {
      const c = await rawConn(t.addr.port, u32(n));
      assert.ok((await c.closedAfterMs()) < 1000, `announcing ${n} bytes is refused at once`);
    }
    assert.deepEqual(drops, ["oversized", "oversized", "oversized"]);
  } finally {
    await t.close();
  }
});

Deno.test("NetTransport limits unauthenticated connections in number and time; members still get through", async () => {
  const keyring = await Keyring.create([KEY], "t");
  const drops: string[] = [];
  const handler: TransportHandler = {
    packet: () => {},
    pushPull: (req) => req,
    streamPing: () => false,
    drop: (reason) => drops.push(reason),
  };
  const t = NetTransport.listen({ hostname: "127.0.0.1", port: 0, keyring, handler, streamTimeoutMs: 10_000 });
  const a = NetTransport.listen({ hostname: "127.0.0.1", port: 0, keyring, handler });
  try {
    // Idle strangers, and strangers that announce a small frame and never finish it.
    const conns = await Promise.all(
      Array.from({ length: 100 }, (_, i) => rawConn(t.addr.port, i % 2 ? u32(1000) : new Uint8Array())),
    );
    const times = await Promise.all(conns.map((c) => c.closedAfterMs()));
    const busy = drops.filter((d) => d === "busy").length;
    assert.ok(busy >= 100 - MAX_UNAUTHENTICATED_CONNS, `${busy} refused as busy`);
    assert.ok(
      times.every((ms) => ms < AUTH_TIMEOUT_MS + 3000),
      `all closed by the auth deadline: ${Math.max(...times)}`,
    );
    assert.ok(times.filter((ms) => ms >= AUTH_TIMEOUT_MS - 200).length >= 1, "the admitted ones waited for it");
    assert.ok(drops.filter((d) => d === "timeout").length >= 1);
    // A member's push-pull works afterwards.
    const mine: PushPullMessage = { type: "pushPull", join: true, entries: [{ state: "alive", record: record(1) }] };
    const reply = await new Promise<PushPullMessage | undefined>((r) =>
      a.pushPull(`127.0.0.1:${t.addr.port}`, mine, r)
    );
    assert.deepEqual(reply, mine);
  } finally {
    await a.close();
    await t.close();
  }
});
