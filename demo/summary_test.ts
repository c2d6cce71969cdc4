import { assertEquals, assertStringIncludes } from "../tests/_assert.ts";
import type { ClusterStatus, MemberStatus } from "../status/cluster_status.ts";
import type { LoadReport } from "./load.ts";
import type { OriginStats } from "./origin.ts";
import { buildSummary, renderSummary } from "./summary.ts";

function cache(name: string, requests: number, hits: number, siblingHits = 0): MemberStatus {
  return {
    id: name,
    name,
    role: "cache",
    state: "alive",
    admin: "x:1",
    reachable: true,
    cache: {
      requests,
      hits,
      misses: requests - hits,
      hitRatio: null,
      objects: requests - hits,
      bytes: 100,
      icpQueries: requests - hits,
      siblingHits,
      ownerFetches: 0,
      topUrls: [],
    },
  };
}

function director(conns: number[], bytesOut: number): MemberStatus {
  return {
    id: "d",
    name: "d1",
    role: "director",
    state: "alive",
    admin: "x:2",
    reachable: true,
    director: {
      connections: 0,
      services: [{
        name: "web",
        address: "10.0.0.1:80",
        scheduler: "rr",
        persistenceS: 0,
        persistenceEntries: 0,
        servers: conns.map((c, i) => ({
          address: `10.0.0.${11 + i}:3128`,
          method: "dr",
          weight: 1,
          health: "up",
          activeConns: 0,
          inactiveConns: 0,
          connections: c,
          packetsIn: c * 5,
          packetsOut: 0,
          bytesIn: c * 300,
          bytesOut,
          share: 0,
        })),
      }],
    },
  };
}

function doc(members: MemberStatus[]): ClusterStatus {
  return {
    version: 1,
    at: "",
    askedNode: "d1",
    members,
    totals: {
      members: 0,
      healthy: 0,
      caches: 0,
      directors: 0,
      requests: 0,
      hits: 0,
      misses: 0,
      hitRatio: null,
      objects: 0,
      bytes: 0,
      icpQueries: 0,
      siblingHits: 0,
      ownerFetches: 0,
    },
    topUrls: [],
  };
}

const origin = (requests: number): OriginStats => ({
  requests,
  byStatus: {},
  bytes: requests * 10,
  distinctObjects: requests,
  objects: 100,
  totalObjectBytes: 1000,
});

const load: LoadReport = {
  requests: 100,
  responses: 100,
  errors: {},
  byStatus: { "200": 100 },
  byResult: { HIT: 70, MISS: 30 },
  byNode: {
    c1: { responses: 50, hits: 40, siblingHits: 2, bytes: 500 },
    c2: { responses: 50, hits: 30, siblingHits: 3, bytes: 500 },
  },
  hits: 70,
  siblingHits: 5,
  bytes: 1000,
  elapsedMs: 2000,
  latencyMs: { p50: 1, p90: 2, p99: 3, max: 4 },
};

Deno.test("buildSummary() takes node counters as differences over the load and proves direct return", () => {
  const before = doc([director([0, 0], 0), cache("c1", 3, 0), cache("c2", 2, 0)]);
  const after = doc([director([60, 40], 0), cache("c1", 53, 40, 2), cache("c2", 52, 30, 3)]);
  const s = buildSummary(
    {
      mode: { method: "dr", network: "netns", reason: "running as root" },
      load,
      before,
      after,
      originBefore: origin(5),
      originAfter: origin(30),
    },
    { cacheAddress: (name) => (name === "c1" ? "10.0.0.11:3128" : "10.0.0.12:3128") },
  );
  assertEquals(s.array, {
    clientRequests: 100,
    originRequests: 25,
    hitRatio: 0.75,
    localHits: 70,
    siblingHits: 5,
    ownerFetches: 0,
    counters: { requests: 100, hits: 70, misses: 30 },
  });
  assertEquals(s.caches.map((c) => [c.name, c.connections, c.share, c.responses, c.requests, c.hits]), [
    ["c1", 60, 0.6, 50, 50, 40],
    ["c2", 40, 0.4, 50, 50, 30],
  ]);
  assertEquals(s.origin.requests, 25);
  assertEquals([s.load.hitRatio, s.load.requestsPerS, s.load.errors], [0.7, 50, 0]);
  assertEquals(s.director?.bytesIn, 30000);
  assertEquals(s.directReturn, { proven: true, responseBytesAtClient: 1000, directorBytesOut: 0 });
  const text = renderSummary(s);
  assertStringIncludes(text, "DR forwarding, netns: running as root");
  assertStringIncludes(text, "array hit ratio 75.0%: 75 of 100 client requests needed no origin fetch");
  assertStringIncludes(text, "local hits      70 answered from the cache the director chose");
  assertStringIncludes(text, "sibling hits    5 misses served by a sibling's copy (ICP HIT)");
  assertStringIncludes(
    text,
    "cache counters  100 requests (100 from clients, 0 from other caches), 70 hits, 30 misses",
  );
  assertStringIncludes(text, "direct return   PROVEN");
  assertStringIncludes(text, "origin          25 requests");
});

Deno.test("buildSummary() in proxy mode says direct return does not apply", () => {
  const after = doc([director([10, 10], 999), cache("c1", 10, 5), cache("c2", 10, 5)]);
  const s = buildSummary({
    mode: { method: "proxy", network: "loopback", reason: "not root" },
    load,
    before: doc([]),
    after,
    originBefore: origin(0),
    originAfter: origin(10),
  });
  assertEquals(s.directReturn, null);
  assertEquals(s.director?.bytesOut, 1998);
  assertStringIncludes(renderSummary(s), "direct return   not applicable");
});
