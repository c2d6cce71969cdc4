import assert from "node:assert/strict";
import type { BanSet } from "../cluster/ban_codec.ts";
import { decodePacket, encodePacket, MAX_STREAM_FRAME_BYTES, type Message } from "../cluster/codec.ts";
import type { NodeRecord } from "../cluster/node.ts";
import { BanList } from "./ban_list.ts";
import { type PurgeCluster, PurgeFanout } from "./purge_fanout.ts";
import { newBan } from "./purge_request.ts";

/** An in-memory cluster: requests go through the real codec to the other node's handler. */
class FakeNet {
  readonly nodes = new Map<string, FakeMember>();
  readonly down = new Set<string>();
  changed(): void {
    for (const n of this.nodes.values()) for (const cb of n.listeners) setTimeout(() => cb(n.members()), 1);
  }
}

class FakeMember implements PurgeCluster {
  local: NodeRecord;
  handler?: (msgs: Message[], from: string) => Promise<Message[] | undefined>;
  readonly listeners: ((m: NodeRecord[]) => void)[] = [];
  readonly #net: FakeNet;
  constructor(net: FakeNet, name: string) {
    this.#net = net;
    this.local = {
      id: name,
      name,
      role: "cache",
      addrs: { gossip: `${name}:7946` },
      weight: 1,
      state: "alive",
      configHash: "h",
      incarnation: 1,
    };
    net.nodes.set(this.local.addrs.gossip, this);
  }
  members(): NodeRecord[] {
    return [this.local, ...[...this.#net.nodes.values()].filter((n) => n !== this).map((n) => n.local)];
  }
  async request(addr: string, msgs: Message[]): Promise<Message[]> {
    const to = this.#net.nodes.get(addr);
    if (!to?.handler || this.#net.down.has(addr) || this.#net.down.has(this.local.addrs.gossip)) {
      throw new Error(`${addr} unreachable`);
    }
    const wire = decodePacket(encodePacket(msgs), MAX_STREAM_FRAME_BYTES);
    const reply = await to.handler(wire, this.local.addrs.gossip);
    return reply ? decodePacket(encodePacket(reply), MAX_STREAM_FRAME_BYTES) : [];
  }
  onRequest(fn: (msgs: Message[], from: string) => Promise<Message[] | undefined>): void {
    this.handler = fn;
  }
  update(patch: { bans?: string }): NodeRecord {
    this.local = { ...this.local, ...patch };
    this.#net.changed();
    return this.local;
  }
  onChange(cb: (members: NodeRecord[]) => void): () => void {
    this.listeners.push(cb);
    return () => {};
  }
}

interface Node {
  fanout: PurgeFanout;
  bans: BanList;
  deleted: string[];
  workers: BanSet[];
  persisted: BanSet[];
}

function node(net: FakeNet, name: string): Node {
  const bans = new BanList({ lifetimeMs: 3600_000, maxBans: 100, maxUrlBans: 100 });
  const n: Node = { bans, deleted: [], workers: [], persisted: [], fanout: undefined as unknown as PurgeFanout };
  n.fanout = new PurgeFanout({
    bans,
    deleteKeys: (keys) => {
      n.deleted.push(...keys);
      return Promise.resolve(keys.length);
    },
    toWorkers: (set) => n.workers.push(set),
    persist: (set) => {
      n.persisted.push(set);
      return Promise.resolve();
    },
    timeoutMs: 200,
    tickMs: 50,
  });
  n.fanout.attach(new FakeMember(net, name));
  return n;
}

async function until(what: string, fn: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

Deno.test("PurgeFanout sends a purge to every other cache and counts the acknowledgements", async () => {
  const net = new FakeNet();
  const [a, b, c] = ["a", "b", "c"].map((x) => node(net, x));
  try {
    const ban = newBan({ kind: "url", pattern: "http://h/x" }, "a");
    const r = await a.fanout.purge(ban, 2);
    assert.deepEqual({ ...r, failed: r.failed.sort() }, {
      id: ban.id,
      kind: "url",
      pattern: "http://h/x",
      deleted: 4, // 2 here (already deleted by the PURGE handler) + 1 on b + 1 on c
      nodes: 2,
      acked: 2,
      failed: [],
    });
    assert.deepEqual(a.deleted, []); // the handler deleted here already
    assert.deepEqual(b.deleted, ["http://h/x"]);
    for (const n of [a, b, c]) {
      assert.ok(n.bans.has(ban.id));
      assert.deepEqual(n.workers.at(-1)?.bans, [ban]); // every worker gets it
    }
    await until("the list written to disk", () => a.persisted.length > 0 && b.persisted.length > 0);
    await until("digests published", () => [a, b, c].every((n) => n.bans.digest() !== ""));
  } finally {
    for (const n of [a, b, c]) await n.fanout.close();
  }
});

Deno.test("PurgeFanout: a cache that missed a purge converges by ban list sync once reachable", async () => {
  const net = new FakeNet();
  const [a, b] = ["a", "b"].map((x) => node(net, x));
  try {
    net.down.add("b:7946");
    const prefix = newBan({ kind: "prefix", pattern: "http://h/p/" }, "a");
    const r = await a.fanout.purge(prefix);
    assert.equal(r.acked, 0);
    assert.deepEqual(r.failed, ["b"]);
    await new Promise((r) => setTimeout(r, 200)); // digests gossiped, syncs tried and failed
    assert.equal(b.bans.has(prefix.id), false);
    net.down.delete("b:7946");
    // a's digest (gossiped in its record) differs from b's: one of them starts the exchange.
    await until("b learns the missed ban", () => b.bans.has(prefix.id));
    await until("equal digests", () => a.bans.digest() === b.bans.digest());
    assert.deepEqual(b.workers.at(-1)?.bans, [prefix]);
  } finally {
    for (const n of [a, b]) await n.fanout.close();
  }
});
