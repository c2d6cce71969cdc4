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
