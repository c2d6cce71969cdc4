import { assertEquals, assertStringIncludes } from "../tests/_assert.ts";
import type { ClusterStatus } from "./cluster_status.ts";
import { formatBytes, formatDuration, formatPercent, renderClusterStatus, table } from "./render.ts";

Deno.test("formatBytes(), formatPercent() and formatDuration() format units", () => {
  assertEquals([formatBytes(0), formatBytes(1023), formatBytes(1536), formatBytes(5 * 1024 ** 3)], [
    "0 B",
    "1023 B",
    "1.5 KiB",
    "5.0 GiB",
  ]);
  assertEquals([formatPercent(null), formatPercent(undefined), formatPercent(0.7812)], ["-", "-", "78.1%"]);
  assertEquals([formatDuration(9), formatDuration(250), formatDuration(7500), formatDuration(90000)], [
    "9s",
    "4m10s",
    "2h5m",
    "1d1h",
  ]);
});

Deno.test("table() aligns text left and numbers right", () => {
  assertEquals(table(["NAME", "N"], [["a", "1"], ["bbb", "100"]]), "NAME    N\na       1\nbbb   100");
});

Deno.test("renderClusterStatus() shows members, problems, director services and top URLs", () => {
  const doc: ClusterStatus = {
    version: 1,
    at: "2026-11-26T14:00:00.000Z",
    askedNode: "d1",
    sampleIntervalMs: 1000,
    members: [
      {
        id: "d",
        name: "d1",
        role: "director",
        state: "alive",
        admin: "127.0.0.1:9301",
        reachable: true,
        uptimeS: 70,
        director: {
          connections: 2,
          connectionRate: 12,
          services: [{
            name: "web",
            address: "10.0.0.100:80",
            scheduler: "wlc",
            persistenceS: 300,
            persistenceEntries: 3,
            servers: [{
              address: "10.0.0.11:3128",
              node: "c1",
              method: "dr",
              weight: 1,
              health: "up",
              activeConns: 1,
              inactiveConns: 1,
              connections: 40,
              packetsIn: 400,
              packetsOut: 0,
              bytesIn: 30000,
              bytesOut: 0,
              share: 1,
            }],
          }],
        },
      },
      {
        id: "c",
        name: "c1",
        role: "cache",
        state: "alive",
        admin: "127.0.0.1:9302",
        reachable: true,
        uptimeS: 69,
        cache: {
          requests: 40,
          hits: 30,
          misses: 10,
          hitRatio: 0.75,
          objects: 10,
          bytes: 2048,
          requestRate: 12,
          icpQueries: 10,
          siblingHits: 2,
          ownerFetches: 0,
          topUrls: [],
        },
      },
      {
        id: "x",
        name: "c2",
        role: "cache",
        state: "suspect",
        admin: "127.0.0.1:9303",
        reachable: false,
        error: "timed out",
      },
    ],
    totals: {
      members: 3,
      healthy: 2,
      caches: 2,
      directors: 1,
      requests: 40,
      hits: 30,
      misses: 10,
      hitRatio: 0.75,
      requestRate: 12,
      recentHitRatio: 0.8,
      objects: 10,
      bytes: 2048,
      icpQueries: 10,
      siblingHits: 2,
      ownerFetches: 0,
    },
    topUrls: [{ url: "/obj/1", requests: 9 }],
  };
  const text = renderClusterStatus(doc);
  assertStringIncludes(text, "3 members (2 healthy), 1 directors, 2 caches");
  assertStringIncludes(text, "array: 40 requests  12.0 req/s, hit ratio 75.0% (recent 80.0%)");
  assertStringIncludes(text, "c2    cache     suspect!");
  assertStringIncludes(text, "! c2: timed out");
  assertStringIncludes(text, "d1: TCP  10.0.0.100:80 wlc persistent 300s (3 templates)  [web]");
  assertStringIncludes(text, "-> 10.0.0.11:3128 (c1)");
  assertStringIncludes(text, "/obj/1");
});
