import { assert, assertEquals, assertRejects } from "../tests/_assert.ts";
import { quantile, runLoad } from "./load.ts";
import { DemoOrigin } from "./origin.ts";

/** A scripted two-node "array" on real sockets: odd ranks hit on c1, rank 2 is a sibling hit. */
function fakeCache(origin: DemoOrigin) {
  const seen = new Set<string>();
  let connections = 0;
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, async (req) => {
    connections++;
    const path = new URL(req.url).pathname;
    const upstream = await fetch(`http://127.0.0.1:${origin.addr.port}${path}`);
    const headers = new Headers(upstream.headers);
    if (path === "/obj/2") {
      headers.append("x-cache", "HIT from c2");
      headers.append("x-cache", "MISS from c1");
    } else {
      headers.set("x-cache", `${seen.has(path) ? "HIT" : "MISS"} from c1`);
    }
    seen.add(path);
    return new Response(upstream.body, { status: upstream.status, headers });
  });
  return { server, connections: () => connections };
}

Deno.test("runLoad() drives Zipf requests on new connections and counts X-Cache per node", async () => {
  const origin = new DemoOrigin({ objects: 20, seed: 2 }).start();
  const cache = fakeCache(origin);
  try {
    const seenProgress: number[] = [];
    const report = await runLoad({
      target: { hostname: "127.0.0.1", port: cache.server.addr.port },
      objects: 20,
      requests: 200,
      concurrency: 4,
      seed: 5,
      onProgress: (p) => seenProgress.push(p.fraction),
    });
    assertEquals(report.requests, 200);
    assertEquals(report.responses, 200);
    assertEquals(report.errors, {});
    assertEquals(report.byStatus, { "200": 200 });
    assertEquals(cache.connections(), 200, "one connection per request");
    assertEquals(Object.keys(report.byNode), ["c1"]);
    const c1 = report.byNode.c1;
    assertEquals(c1.responses, 200);
    assertEquals(report.hits, c1.hits);
    assertEquals((report.byResult.HIT ?? 0) + (report.byResult.MISS ?? 0), 200);
    // Every distinct URL but /obj/2 misses exactly once.
    const distinct = origin.stats().distinctObjects;
    assertEquals(report.byResult.MISS, distinct - 1 + report.siblingHits);
    assert(report.siblingHits > 0, "Zipf rank 2 is drawn often");
    assertEquals(c1.siblingHits, report.siblingHits);
    assertEquals(report.hits + report.byResult.MISS, 200);
    assert(report.bytes > 0 && report.latencyMs.p50 > 0 && report.latencyMs.max >= report.latencyMs.p99);
    assertEquals(seenProgress.length, 200);
    assertEquals(seenProgress.at(-1), 1);
  } finally {
    await cache.server.shutdown();
    await origin.stop();
  }
});

Deno.test("runLoad() counts refused connections and stops after its duration", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const report = await runLoad({
    target: { hostname: "127.0.0.1", port },
    objects: 5,
    durationMs: 150,
    concurrency: 2,
  });
  assertEquals(report.responses, 0);
  assert((report.errors.refused ?? 0) > 0 && report.errors.refused === report.requests, JSON.stringify(report.errors));
  assert(report.elapsedMs < 2000, `${report.elapsedMs} ms`);
});

Deno.test("runLoad() rejects a load with no limit", async () => {
  await assertRejects(
    () => runLoad({ target: { hostname: "127.0.0.1", port: 1 }, objects: 5 }),
    RangeError,
    "give a request count or a duration",
  );
});

Deno.test("quantile() picks the nearest rank", () => {
  const xs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
  assertEquals([quantile(xs, 0.5), quantile(xs, 0.9), quantile(xs, 0.99), quantile([], 0.5)], [5, 9, 10, 0]);
});
