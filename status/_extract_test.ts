import { assertEquals } from "../tests/_assert.ts";
import { extractCache, extractDirector } from "./_extract.ts";

Deno.test("extractCache() reads each accepted spelling", () => {
  const cases: { name: string; doc: unknown; want: unknown }[] = [
    { name: "no cache section", doc: { role: "director" }, want: undefined },
    {
      name: "documented spelling",
      doc: {
        cache: { requests: 10, hits: 7, misses: 3, objects: 5, bytes: 500 },
        icp: { queriesSent: 3, siblingHits: 1 },
      },
      want: [10, 7, 3, 0.7, 5, 500, 3, 1],
    },
    {
      name: "tiers and nested counters",
      doc: {
        cache: {
          requests: { total: 4, hit: 1, miss: 3 },
          memory: { objects: 2, bytes: 20 },
          disk: { objects: 3, bytes: 30 },
        },
        icp: { queries: { sent: 9 }, hitsReceived: 2 },
      },
      want: [4, 1, 3, 0.25, 5, 50, 9, 2],
    },
    { name: "empty section", doc: { cache: {} }, want: [0, 0, 0, null, 0, 0, 0, 0] },
  ];
  for (const c of cases) {
    const f = extractCache(c.doc);
    const got = f && [f.requests, f.hits, f.misses, f.hitRatio, f.objects, f.bytes, f.icpQueries, f.siblingHits];
    assertEquals(got, c.want, c.name);
  }
});

Deno.test("extractCache() reads top URLs as objects or pairs", () => {
  const f = extractCache({ cache: { topUrls: [{ url: "/a", requests: 3 }, ["/b", 2], { bogus: 1 }] } });
  assertEquals(f?.topUrls, [{ url: "/a", requests: 3 }, { url: "/b", requests: 2 }]);
});

Deno.test("extractDirector() reads services, servers and shares", () => {
  const f = extractDirector({
    director: {
      services: [{
        vip: "10.0.0.1",
        port: 80,
        scheduler: "rr",
        persistence: 60,
        templates: 2,
        reals: [
          {
            server: "10.0.0.2:80",
            forward: "tun",
            weight: 2,
            state: "up",
            active: 1,
            inactive: 2,
            conns: 3,
            outBytes: 0,
          },
          { address: "10.0.0.3:80", method: "tun", weight: 1, health: "down", stats: { connections: 1, inBytes: 9 } },
        ],
      }],
    },
  });
  assertEquals(f?.connections, 3);
  const s = f!.services[0];
  assertEquals([s.name, s.address, s.scheduler, s.persistenceS, s.persistenceEntries], [
    "10.0.0.1:80",
    "10.0.0.1:80",
    "rr",
    60,
    2,
  ]);
  assertEquals(s.servers.map((r) => [r.address, r.method, r.weight, r.health, r.connections, r.bytesIn, r.share]), [
    ["10.0.0.2:80", "tun", 2, "up", 3, 0, 0.75],
    ["10.0.0.3:80", "tun", 1, "down", 1, 9, 0.25],
  ]);
  assertEquals(extractDirector({ cache: {} }), undefined);
});

Deno.test("extractCache() sums requests by result as the cache role reports them", () => {
  const f = extractCache({
    cache: { requests: { hit: 5, miss: 3, stale: 1, pass: 1 }, hits: 6, misses: 3, objects: 3, bytes: 9 },
  });
  assertEquals([f?.requests, f?.hits, f?.misses], [10, 6, 3]);
});

Deno.test("extractDirector() reads the director role's /director/status layout", () => {
  const f = extractDirector({
    director: {
      services: [{
        key: "127.0.0.1:8080",
        name: "web",
        scheduler: "wlc",
        method: "proxy",
        persistence: { timeoutS: 300, netmask: 32 },
        servers: [
          {
            key: "127.0.0.1:3128",
            address: "127.0.0.1",
            port: 3128,
            method: "proxy",
            weight: 1,
            activeConns: 2,
            inactConns: 5,
            up: true,
            drained: false,
            totals: { conns: 30, inPkts: 1, outPkts: 2, inBytes: 300, outBytes: 9000 },
          },
          {
            address: "127.0.0.1",
            port: 3129,
            method: "proxy",
            weight: 0,
            up: true,
            drained: true,
            totals: { conns: 10 },
          },
          { address: "127.0.0.1", port: 3130, method: "proxy", weight: 1, up: false, totals: { conns: 0 } },
        ],
      }],
      table: { entries: 7, templates: 4 },
    },
  });
  assertEquals(f?.connections, 7);
  const s = f!.services[0];
  assertEquals([s.name, s.address, s.persistenceS, s.persistenceEntries], ["web", "127.0.0.1:8080", 300, 4]);
  assertEquals(
    s.servers.map((r) => [r.address, r.health, r.activeConns, r.inactiveConns, r.connections, r.bytesOut, r.share]),
    [
      ["127.0.0.1:3128", "up", 2, 5, 30, 9000, 0.75],
      ["127.0.0.1:3129", "draining", 0, 0, 10, 0, 0.25],
      ["127.0.0.1:3130", "down", 0, 0, 0, 0, 0],
    ],
  );
});

Deno.test("extractDirector() reads the HA role and the VIPs the director holds", () => {
  const services = [{ key: "10.0.0.100:80", servers: [] }, { key: "10.0.0.100:443", servers: [] }, {
    key: "10.0.0.101:80",
    servers: [],
  }];
  const ha = (extra: Record<string, unknown>) => extractDirector({ director: { services, ...extra } })?.ha;
  const both = ["10.0.0.100", "10.0.0.101"];
  assertEquals(ha({}), { mode: "none", role: "STANDALONE", vips: both });
  assertEquals(ha({ ha: { mode: "active-backup", group: "g", role: "MASTER", master: "d1" } }), {
    mode: "active-backup",
    role: "MASTER",
    group: "g",
    master: "d1",
    vips: both,
  });
  assertEquals(ha({ ha: { mode: "active-backup", group: "g", role: "BACKUP", master: "d1" } })?.vips, []);
  assertEquals(ha({ ha: { mode: "active-backup", group: "g", role: "FAULT" } })?.vips, []);
  assertEquals(ha({ activeActive: { group: "g", node: "d2" } }), {
    mode: "active-active",
    role: "ACTIVE",
    group: "g",
    vips: both,
  });
});
