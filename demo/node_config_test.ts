import { assertEquals } from "../tests/_assert.ts";
import { validateConfig } from "../config/load.ts";
import { cacheConfig, type CacheSpec, type ClusterPlan, directorConfig } from "./node_config.ts";

const caches: CacheSpec[] = [1, 2, 3].map((i) => ({
  name: `cache-${i}`,
  admin: `10.78.1.1${i}:9090`,
  adminAllow: ["127.0.0.0/8", "10.78.1.1/32"],
  listen: "0.0.0.0:80",
  self: `10.78.1.1${i}:80`,
  icpListen: `10.78.1.1${i}`,
  icpPort: 3130,
  gossip: `10.78.1.1${i}:7946`,
  vip: "10.78.1.100",
  forwarding: "dr",
}));
const director = {
  admin: "10.78.1.2:9090",
  adminAllow: ["10.78.1.1/32"],
  gossip: "10.78.1.2:7946",
  ip: "10.78.1.2",
  vip: "10.78.1.100",
  port: 80,
  method: "dr" as const,
  interface: "eth0",
  scheduler: "wlc",
  persistenceS: 0,
  reals: caches.map((c) => c.self),
};

for (
  const plan of [
    { kind: "static" },
    { kind: "membership", name: "demo-x", keyFile: "/tmp/k", peers: "auto" },
  ] as ClusterPlan[]
) {
  Deno.test(`cacheConfig() and directorConfig() are valid appliance.yaml documents (${plan.kind})`, () => {
    const opts = { originUrl: "http://10.78.1.1:8080", peering: "icp" as const, logLevel: "warn", plan };
    const c = validateConfig(cacheConfig(caches[0], caches, opts), { source: "cache-1.yaml" });
    assertEquals(c.cluster.nodeName, "cache-1");
    assertEquals([c.cache.vip, c.cache.forwarding, c.cache.service], ["10.78.1.100", "dr", "web"]);
    const d = validateConfig(directorConfig(director, { logLevel: "warn", plan }), { source: "director-1.yaml" });
    const svc = d.director.services[0];
    if (plan.kind === "static") {
      assertEquals(c.cache.peers.map((p) => `${p.host}:${p.httpPort}/${p.icpPort}`), [
        "10.78.1.12:80/3130",
        "10.78.1.13:80/3130",
      ]);
      assertEquals(svc.reals.map((r) => r.address), ["10.78.1.11", "10.78.1.12", "10.78.1.13"]);
      assertEquals(svc.fromMembership, false);
    } else {
      assertEquals(c.cache.peers, []);
      assertEquals([c.cluster.name, c.cluster.peers, c.cluster.discovery.interface], ["demo-x", "auto", "10.78.1.11"]);
      assertEquals([svc.fromMembership, svc.reals], [true, []]);
      assertEquals(d.cluster.gossipListen, "10.78.1.2:7946");
    }
    assertEquals([svc.method, svc.health.type, d.director.interface], ["dr", "tcp", "eth0"]);
  });
}

Deno.test("directorConfig() may list real servers while the nodes gossip", () => {
  const plan: ClusterPlan = { kind: "membership", name: "demo-x", keyFile: "/tmp/k", peers: "auto" };
  const d = validateConfig(directorConfig({ ...director, realsFromMembership: false }, { logLevel: "warn", plan }), {
    source: "d.yaml",
  });
  assertEquals([d.director.services[0].fromMembership, d.director.services[0].reals.length], [false, 3]);
  assertEquals(d.cluster.peers, "auto");
});

Deno.test("directorConfig() gives proxy real servers their ports", () => {
  const d = validateConfig(
    directorConfig({ ...director, method: "proxy", listen: "127.0.0.1", vip: "127.0.0.1", reals: ["127.0.0.1:4001"] }, {
      logLevel: "warn",
      plan: { kind: "static" },
    }),
    { source: "d.yaml" },
  );
  assertEquals(d.director.services[0].reals.map((r) => [r.address, r.port]), [["127.0.0.1", 4001]]);
});
