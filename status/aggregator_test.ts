import { assert, assertAlmostEquals, assertEquals } from "../tests/_assert.ts";
import { configureLogging } from "../core/log.ts";
import { ClusterAggregator } from "./aggregator.ts";
import { adminMembers, memberRefsFromAddresses, staticMembers } from "./members.ts";
import { type FakeNode, recordOf, serveMembers, startFakeNode } from "./_fake_nodes.ts";

configureLogging({ level: "warn" });

function cacheSection(requests: number, hits: number, topUrls: unknown[] = []) {
  return { requests, hits, misses: requests - hits, objects: hits, bytes: hits * 1000, topUrls };
}

async function stopAll(nodes: FakeNode[]) {
  for (const n of nodes) await n.stop();
}

Deno.test("ClusterAggregator joins /status of every member, with rates and history from two samples", async () => {
  const c1 = startFakeNode("c1", "cache", {
    section: cacheSection(100, 60, [{ url: "/obj/1", requests: 30 }]),
    extra: { icp: { queriesSent: 40, siblingHits: 7 } },
  });
  const c2 = startFakeNode("c2", "cache", { section: cacheSection(50, 20, [{ url: "/obj/1", requests: 5 }]) });
  const d = startFakeNode("d1", "director", {
    section: {
      services: [{
        name: "web",
        address: "10.0.0.100:80",
        scheduler: "wlc",
        persistence: { timeoutS: 300, entries: 4 },
        servers: [
          { address: "10.0.0.11:3128", node: "c1", method: "dr", weight: 1, health: "up", connections: 30 },
          { address: "10.0.0.12:3128", node: "c2", method: "dr", weight: 1, health: "up", connections: 10 },
        ],
      }],
    },
  });
  const nodes = [c1, c2, d];
  serveMembers(d, () => nodes.map((n) => recordOf(n)));
  let now = 1_000_000;
  const agg = new ClusterAggregator({ members: adminMembers(d.addr), askedNode: "d1", now: () => now });
  try {
    const first = await agg.collect();
    assertEquals(first.members.map((m) => [m.name, m.role, m.state, m.reachable]), [
      ["d1", "director", "alive", true],
      ["c1", "cache", "alive", true],
      ["c2", "cache", "alive", true],
    ]);
    assertEquals(first.sampleIntervalMs, undefined);
    assertEquals(first.totals.requestRate, undefined);
    assertEquals([first.totals.members, first.totals.healthy, first.totals.caches, first.totals.directors], [
      3,
      3,
      2,
      1,
    ]);
    assertEquals([first.totals.requests, first.totals.hits, first.totals.misses], [150, 80, 70]);
    assertAlmostEquals(first.totals.hitRatio!, 80 / 150, 1e-9);
    assertEquals([first.totals.icpQueries, first.totals.siblingHits, first.totals.objects], [40, 7, 80]);
    assertEquals(first.topUrls, [{ url: "/obj/1", requests: 35 }]);
    const svc = first.members[0].director!.services[0];
    assertEquals([svc.scheduler, svc.persistenceS, svc.persistenceEntries], ["wlc", 300, 4]);
    assertEquals(svc.servers.map((s) => [s.node, s.share]), [["c1", 0.75], ["c2", 0.25]]);

    // Within minIntervalMs the same document comes back.
    now += 500;
    assertEquals((await agg.collect()).at, first.at);

    c1.section = cacheSection(300, 220);
    now += 1500; // 2 s after the first sample
    const second = await agg.collect({ history: true });
    assertEquals(second.sampleIntervalMs, 2000);
    const m1 = second.members.find((m) => m.name === "c1")!.cache!;
    assertEquals(m1.requestRate, 100);
    assertAlmostEquals(m1.recentHitRatio!, 160 / 200, 1e-9);
    assertEquals(second.members.find((m) => m.name === "c2")!.cache!.requestRate, 0);
    assertEquals(second.totals.requestRate, 100);
    assertEquals(second.history?.length, 1);
    assertEquals(second.history![0].perNode, { c1: 100, c2: 0 });
    assertAlmostEquals(second.history![0].hitRatio!, 0.8, 1e-9);
    assertEquals(second.members[0].director!.connectionRate, 0);
  } finally {
    await stopAll(nodes);
  }
});

Deno.test("ClusterAggregator reports unreachable and dead members without failing", async () => {
  const c1 = startFakeNode("c1", "cache", { section: cacheSection(10, 5) });
  const gone = startFakeNode("c2", "cache");
  await gone.stop();
  const dead = { ...recordOf(gone, "dead"), id: "id-c3", name: "c3" };
  const agg = new ClusterAggregator({
    members: staticMembers([
      { id: "a", name: "c1", role: "cache", state: "alive", admin: c1.addr },
      { id: "b", name: "c2", role: "cache", state: "suspect", admin: gone.addr },
      { id: dead.id, name: dead.name, role: "cache", state: "dead", admin: gone.addr },
      { id: "d", name: "c4", role: "cache", state: "alive", admin: "" },
    ]),
    timeoutMs: 1000,
  });
  try {
    const doc = await agg.collect();
    const byName = Object.fromEntries(doc.members.map((m) => [m.name, m]));
    assertEquals(byName.c1.reachable, true);
    assertEquals([byName.c2.reachable, byName.c2.state], [false, "suspect"]);
    assert(byName.c2.error && byName.c2.error.length > 0);
    assertEquals(byName.c3.error, "member is dead");
    assertEquals(byName.c4.error, "no admin address advertised");
    assertEquals([doc.totals.members, doc.totals.healthy, doc.totals.requests], [4, 1, 10]);
  } finally {
    await c1.stop();
  }
});

Deno.test("ClusterAggregator sends the admin token to members outside admin.allow", async () => {
  const token = "s3cret-token-0123456789";
  const c1 = startFakeNode("c1", "cache", { allow: ["10.99.0.0/16"], token, section: cacheSection(4, 1) });
  try {
    const refs = memberRefsFromAddresses([c1.addr]);
    const without = await new ClusterAggregator({ members: staticMembers(refs) }).collect();
    assertEquals([without.members[0].reachable, without.members[0].error], [false, "HTTP 403"]);
    const withToken = await new ClusterAggregator({ members: staticMembers(refs), token }).collect();
    assertEquals([withToken.members[0].reachable, withToken.members[0].name], [true, "c1"]);
    assertEquals(withToken.totals.requests, 4);
  } finally {
    await c1.stop();
  }
});

Deno.test("adminMembers() treats a node without /members as a cluster of one", async () => {
  const c1 = startFakeNode("solo", "cache", { section: cacheSection(1, 1) });
  try {
    const refs = await adminMembers(c1.addr)();
    assertEquals(refs, [{ id: c1.addr, name: c1.addr, role: "unknown", state: "unknown", admin: c1.addr }]);
    const doc = await new ClusterAggregator({ members: adminMembers(c1.addr) }).collect();
    assertEquals([doc.members[0].name, doc.members[0].role, doc.members[0].state], ["solo", "cache", "alive"]);
  } finally {
    await c1.stop();
  }
});

Deno.test("ClusterAggregator reads a director's service table from /director/status", async () => {
  const d = startFakeNode("d1", "director", { section: { services: 1, table: { entries: 2, templates: 1 } } });
  d.admin.route("/director/status", () =>
    Response.json({
      services: [{
        key: "127.0.0.1:8080",
        name: "web",
        scheduler: "rr",
        servers: [{ address: "127.0.0.1", port: 3128, method: "proxy", weight: 1, up: true, totals: { conns: 4 } }],
      }],
      table: { entries: 2, templates: 1 },
    }));
  try {
    const refs = [...memberRefsFromAddresses([d.addr]), {
      id: "c",
      name: "cache-9",
      role: "cache" as const,
      state: "dead" as const,
      admin: "127.0.0.1:1",
      http: "127.0.0.1:3128",
    }];
    const doc = await new ClusterAggregator({ members: staticMembers(refs) }).collect();
    const dir = doc.members[0].director!;
    assertEquals(dir.services[0].servers[0].node, "cache-9", "named after the member listening there");
    assertEquals([dir.connections, dir.services[0].scheduler, dir.services[0].servers[0].address], [
      2,
      "rr",
      "127.0.0.1:3128",
    ]);
    assertEquals(dir.services[0].servers[0].connections, 4);
  } finally {
    await d.stop();
  }
});

Deno.test("ClusterAggregator takes ICP queries and sibling hits from a cache's /metrics", async () => {
  const { Counter, registry } = await import("../core/metrics.ts");
  const queries = new Counter({
    name: "webcache_icp_queries_sent_total",
    help: "test",
    labelNames: ["peer"],
    registers: [registry],
  });
  const choices = new Counter({
    name: "webcache_cache_peering_choices_total",
    help: "test",
    labelNames: ["mode", "choice"],
    registers: [registry],
  });
  queries.inc({ peer: "a" }, 7);
  queries.inc({ peer: "b" }, 5);
  choices.inc({ mode: "icp", choice: "hit" }, 3);
  choices.inc({ mode: "icp", choice: "origin" }, 9);
  const c1 = startFakeNode("c1", "cache", { section: cacheSection(10, 4) });
  try {
    const doc = await new ClusterAggregator({ members: staticMembers(memberRefsFromAddresses([c1.addr])) }).collect();
    assertEquals([doc.members[0].cache!.icpQueries, doc.members[0].cache!.siblingHits], [12, 3]);
    assertEquals([doc.totals.icpQueries, doc.totals.siblingHits], [12, 3]);
  } finally {
    registry.removeSingleMetric("webcache_icp_queries_sent_total");
    registry.removeSingleMetric("webcache_cache_peering_choices_total");
    await c1.stop();
  }
});

Deno.test("ClusterAggregator reads /members with self and reports members it cannot reach", async () => {
  const c1 = startFakeNode("c1", "cache", { section: cacheSection(2, 1) });
  const far = {
    ...recordOf(c1),
    id: "id-far",
    name: "far",
    addrs: { gossip: "10.9.9.9:7946", admin: "127.0.0.1:9090" },
  };
  c1.admin.route(
    "/members",
    () => Response.json({ self: "id-c1", cluster: "x", configHash: "h", members: [recordOf(c1), far] }),
  );
  try {
    const doc = await new ClusterAggregator({ members: adminMembers(c1.addr) }).collect();
    const byName = Object.fromEntries(doc.members.map((m) => [m.name, m]));
    assertEquals([byName.c1.reachable, byName.c1.admin], [true, c1.addr]);
    assertEquals(byName.far.reachable, false);
    assertEquals(byName.far.error, "its admin endpoint listens on 127.0.0.1:9090 only (admin.listen)");
  } finally {
    await c1.stop();
  }
});

Deno.test("ClusterAggregator passes each member's config version and refusal on to the dashboard", async () => {
  const c1 = startFakeNode("c1", "cache", { section: cacheSection(2, 1) });
  const c2 = startFakeNode("c2", "cache", { section: cacheSection(2, 1) });
  const refused = { version: 5, hash: "fedcba9876543210", reason: "director.ha.mode: needs director.vipMode arp" };
  serveMembers(c1, () => [
    { ...recordOf(c1), configVersion: 5 },
    { ...recordOf(c2), configVersion: 4, configHash: "aaaaaaaaaaaaaaaa", configRefused: refused },
  ]);
  try {
    const doc = await new ClusterAggregator({ members: adminMembers(c1.addr) }).collect();
    const byName = Object.fromEntries(doc.members.map((m) => [m.name, m]));
    assertEquals(byName.c1.config, { version: 5, hash: "0123456789abcdef" });
    assertEquals(byName.c2.config, { version: 4, hash: "aaaaaaaaaaaaaaaa", refused });
  } finally {
    await stopAll([c1, c2]);
  }
});
