import assert from "node:assert/strict";
import { IcpClient } from "../../icp/client.ts";
import { IcpServer } from "../../icp/server.ts";
import { memberId, type PeeringPeer, PeeringSelector } from "./peering_selector.ts";

const req = (url: string, headers: Record<string, string> = {}) => ({
  method: "GET",
  url,
  headers: { get: (n: string) => headers[n] ?? null },
});

const array: PeeringPeer[] = [1, 2, 3].map((i) => ({
  host: "127.0.0.1",
  httpPort: 8000 + i,
  icpPort: 0,
  type: "sibling" as const,
}));

Deno.test("PeeringSelector hash: exactly one cache owns each URL and the others fetch from it without storing", async () => {
  const sels = array.map((p) => {
    const s = new PeeringSelector({ mode: "hash", self: memberId(p) });
    s.setPeers(array); // the shared list includes self; it is left out
    return s;
  });
  const owners = new Map<string, number>();
  for (let i = 0; i < 300; i++) {
    const url = `http://o.example/${i}`;
    const choices = await Promise.all(sels.map((s) => s.select(url, req(url))));
    const origin = choices.filter((c) => c.kind === "origin");
    assert.equal(origin.length, 1, url);
    const owner = memberId(array[choices.findIndex((c) => c.kind === "origin")]);
    owners.set(owner, (owners.get(owner) ?? 0) + 1);
    for (const c of choices) {
      if (c.kind === "peer") {
        assert.equal(`${c.hostname}:${c.port}`, owner);
        assert.equal(c.store, false);
        assert.equal(c.hierarchy, "CARP", "Squid logs a hash owner as CARP/peer");
        assert.equal(c.onlyIfCached, false);
      }
    }
  }
  assert.equal(owners.size, 3);
});

Deno.test("PeeringSelector hash: requests that already passed a proxy go to the origin", async () => {
  const s = new PeeringSelector({ mode: "hash", self: memberId(array[0]) });
  s.setPeers(array);
  for (let i = 0; i < 50; i++) {
    const url = `http://o.example/v${i}`;
    assert.deepEqual(await s.select(url, req(url, { via: "1.1 cache2" })), { kind: "origin" });
  }
});

Deno.test("PeeringSelector refuses a hash mode without its own address and ICP modes without ICP", () => {
  assert.throws(() => new PeeringSelector({ mode: "hash" }), /own HOST:PORT is unknown/);
  assert.throws(() => new PeeringSelector({ mode: "icp" }), /ICP is disabled/);
});

async function icpPeer(fresh: string[]) {
  const set = new Set(fresh);
  return await IcpServer.listen({ hostname: "127.0.0.1", port: 0, allows: () => true, isFresh: (u) => set.has(u) });
}

Deno.test("PeeringSelector icp: a sibling HIT is fetched with only-if-cached; all MISS goes to the origin", async () => {
  const self = await icpPeer([]);
  const holder = await icpPeer(["http://o.example/held"]);
  const client = new IcpClient(self, { timeoutMs: 1000, deadPeerMs: 10000 });
  try {
    const s = new PeeringSelector({ mode: "icp", icp: client });
    s.setPeers([{ host: "127.0.0.1", httpPort: 9999, icpPort: holder.addr.port, type: "sibling", name: "holder" }]);
    assert.deepEqual(await s.select("http://o.example/held", req("http://o.example/held")), {
      kind: "peer",
      name: "holder",
      hostname: "127.0.0.1",
      port: 9999,
      onlyIfCached: true,
      type: "sibling",
      store: true,
      hierarchy: "SIBLING_HIT",
    });
    assert.deepEqual(await s.select("http://o.example/none", req("http://o.example/none")), { kind: "origin" });
  } finally {
    client.close();
    await self.close();
    await holder.close();
  }
});

Deno.test("PeeringSelector hash+icp: asks ICP while the owner is unsure, then trusts the hash", async () => {
  const self = await icpPeer([]);
  const other = await icpPeer([]);
  const client = new IcpClient(self, { timeoutMs: 1000, deadPeerMs: 10000 });
  let now = 0;
  try {
    const me = { host: "127.0.0.1", httpPort: 7001, icpPort: self.addr.port, type: "sibling" as const };
    const peer = { host: "127.0.0.1", httpPort: 7002, icpPort: other.addr.port, type: "sibling" as const };
    const s = new PeeringSelector({
      mode: "hash+icp",
      self: memberId(me),
      icp: client,
      warmupMs: 1000,
      now: () => now,
    });
    s.setPeers([me, peer]);
    // Find a URL this cache owns and make the other cache hold it (e.g. it owned it before we joined).
    let url = "";
    for (let i = 0; !url; i++) if (s.owner(`http://o.example/${i}`) === memberId(me)) url = `http://o.example/${i}`;
    await other.close();
    const holder = await IcpServer.listen({
      hostname: "127.0.0.1",
      port: other.addr.port,
      allows: () => true,
      isFresh: (u) => u === url,
    });
    try {
      const c1 = await s.select(url, req(url));
      assert.equal(c1.kind, "peer");
      assert.equal(c1.kind === "peer" && c1.onlyIfCached, true);
      assert.equal(c1.kind === "peer" && c1.store, true, "the owner keeps what it fetched from the old holder");
      now = 2000; // warmed up: the owner trusts itself
      assert.deepEqual(await s.select(url, req(url)), { kind: "origin" });
    } finally {
      await holder.close();
    }
  } finally {
    client.close();
    await self.close();
    await other.close();
  }
});
