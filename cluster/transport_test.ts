import assert from "node:assert/strict";
import type { Message, PushPullMessage } from "./codec.ts";
import { Keyring } from "./keyring.ts";
import type { NodeRecord } from "./node.ts";
import { MAX_UDP_PACKET_BYTES, NetTransport, type TransportHandler } from "./transport.ts";

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
