import assert from "node:assert/strict";
import { IcpClient, type IcpClientOptions } from "./client.ts";
import { decodeIcpMessage, encodeIcpMessage } from "./message.ts";
import { IcpOpcode } from "./opcode.ts";
import type { IcpPeer, PeerType } from "./peer_select.ts";
import { IcpServer } from "./server.ts";

/** A peer cache: an ICP server answering from a set of fresh URLs. */
async function peerServer(fresh: string[] = [], opts: { delayMs?: number } = {}) {
  const set = new Set(fresh);
  return await IcpServer.listen({
    hostname: "127.0.0.1",
    port: 0,
    allows: () => true,
    isFresh: async (u) => {
      if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs));
      return set.has(u);
    },
  });
}

const asPeer = (s: IcpServer | Deno.DatagramConn, type: PeerType = "sibling"): IcpPeer => {
  const port = s instanceof IcpServer ? s.addr.port : (s.addr as Deno.NetAddr).port;
  return { host: "127.0.0.1", httpPort: 1, icpPort: port, type };
};

async function withClient(
  opts: Partial<IcpClientOptions>,
  fn: (client: IcpClient, self: IcpServer) => Promise<void>,
  cleanup: { close(): unknown }[] = [],
) {
  const self = await peerServer();
  const client = new IcpClient(self, { timeoutMs: 1000, deadPeerMs: 10000, ...opts });
  try {
    await fn(client, self);
  } finally {
    client.close();
    await self.close();
    for (const c of cleanup) await c.close();
  }
}

Deno.test("IcpClient takes the first HIT among siblings over real UDP", async () => {
  const a = await peerServer([]);
  const b = await peerServer(["http://o/x"]);
  const c = await peerServer([], { delayMs: 50 });
  await withClient({}, async (client) => {
    client.setPeers([asPeer(a), asPeer(b), asPeer(c)]);
    const r = await client.lookup("http://o/x");
    assert.equal(r.outcome, "hit");
    assert.deepEqual(r.decision, { kind: "hit", peer: asPeer(b) });
    assert.equal(r.expected, 3);
  }, [a, b, c]);
});

Deno.test("IcpClient picks the parent that answered MISS first when nobody has the object", async () => {
  const s = await peerServer([]);
  const slowParent = await peerServer([], { delayMs: 60 });
  const parent = await peerServer([]);
  await withClient({}, async (client) => {
    client.setPeers([asPeer(s), asPeer(slowParent, "parent"), asPeer(parent, "parent")]);
    const r = await client.lookup("http://o/y");
    assert.equal(r.outcome, "parent");
    assert.deepEqual(r.decision, { kind: "parent", peer: asPeer(parent, "parent") });
    assert.equal(r.answers.length, 3);
  }, [s, slowParent, parent]);
});

Deno.test("IcpClient goes to the origin after all siblings answer MISS, before the timeout", async () => {
  const a = await peerServer([]);
  const b = await peerServer([]);
  await withClient({ timeoutMs: 5000 }, async (client) => {
    client.setPeers([asPeer(a), asPeer(b)]);
    const r = await client.lookup("http://o/z");
    assert.equal(r.outcome, "none");
    assert.ok(r.waitedMs < 4000, `waited ${r.waitedMs} ms for two answers`);
  }, [a, b]);
});

Deno.test("IcpClient times out on a silent peer, marks it dead after deadPeerMs and revives it on an answer", async () => {
  const silent = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  await withClient({ timeoutMs: 80, deadPeerMs: 150 }, async (client) => {
    client.setPeers([asPeer(silent)]);
    const r1 = await client.lookup("http://o/1");
    assert.equal(r1.outcome, "timeout");
    assert.deepEqual(r1.decision, { kind: "none" });
    await new Promise((r) => setTimeout(r, 200));
    await client.lookup("http://o/2"); // lastQuery - lastReply ≥ 150 ms now
    assert.equal(client.peers()[0].up, false);
    // Dead and queried less than deadPeerMs ago: not asked, no wait.
    const r3 = await client.lookup("http://o/3");
    assert.equal(r3.outcome, "no_peers");
    // After deadPeerMs it is asked again (not waited for); its answer revives it.
    await new Promise((r) => setTimeout(r, 200));
    const r4 = await client.lookup("http://o/4");
    assert.equal(r4.expected, 0);
    let q, from;
    do { // skip the earlier queries still queued on the socket
      const [data, addr] = await silent.receive();
      q = decodeIcpMessage(data);
      from = addr;
    } while (q.url !== "http://o/4");
    await silent.send(encodeIcpMessage({ opcode: IcpOpcode.MISS, requestNumber: q.requestNumber, url: q.url }), from);
    for (let i = 0; i < 100 && !client.peers()[0].up; i++) await new Promise((r) => setTimeout(r, 10));
    assert.equal(client.peers()[0].up, true);
  }, [silent]);
});

Deno.test("IcpClient shortens its timeout to twice the peers' round trip", async () => {
  const fast = await peerServer([]);
  const silent = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  await withClient({ timeoutMs: 3000, minTimeoutMs: 100 }, async (client) => {
    client.setPeers([asPeer(fast)]);
    for (let i = 0; i < 5; i++) await client.lookup(`http://o/warm${i}`);
    // The silent peer has no RTT yet: the timeout follows the known one (floor 100 ms), not 3000 ms.
    client.setPeers([asPeer(fast), asPeer(silent)]);
    const r = await client.lookup("http://o/t");
    assert.equal(r.outcome, "timeout");
    assert.ok(r.waitedMs < 1500, `waited ${r.waitedMs} ms, expected about 100`);
  }, [fast, silent]);
});

Deno.test("IcpClient ignores replies from hosts that are not peers and replies with the wrong URL", async () => {
  const stranger = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  const liar = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  await withClient({ timeoutMs: 300 }, async (client, self) => {
    client.setPeers([asPeer(liar)]);
    const pending = client.lookup("http://o/secret");
    const [data] = await liar.receive();
    const q = decodeIcpMessage(data);
    const to = { transport: "udp" as const, hostname: "127.0.0.1", port: self.addr.port };
    await stranger.send(encodeIcpMessage({ opcode: IcpOpcode.HIT, requestNumber: q.requestNumber, url: q.url }), to);
    await liar.send(
      encodeIcpMessage({ opcode: IcpOpcode.HIT, requestNumber: q.requestNumber, url: "http://o/other" }),
      to,
    );
    const r = await pending;
    assert.equal(r.outcome, "timeout");
    assert.deepEqual(r.decision, { kind: "none" });
  }, [stranger, liar]);
});

Deno.test("IcpClient.markDead() takes a peer out until it answers again", async () => {
  const peer = await peerServer([]);
  await withClient({ timeoutMs: 500, deadPeerMs: 60000 }, async (client) => {
    client.setPeers([asPeer(peer)]);
    assert.equal(client.markDead(`127.0.0.1:${peer.addr.port}`), true);
    assert.equal(client.markDead("127.0.0.1:1"), false);
    assert.equal(client.peers()[0].up, false);
    const r = await client.lookup("http://o/while-dead");
    assert.equal(r.outcome, "no_peers", "a dead peer queried less than deadPeerMs ago is not asked");
    client.handleReply(
      { opcode: IcpOpcode.MISS, requestNumber: 1, options: 0, optionData: 0, senderAddress: "0.0.0.0", url: "x" },
      { hostname: "127.0.0.1", port: peer.addr.port },
    );
    assert.equal(client.peers()[0].up, true);
  }, [peer]);
});
