/**
 * ICP peering between two caches with two workers each (the bundle, on loopback): objects stored by
 * any worker of one cache are sibling hits for every worker of the other, and the peering choices
 * of every worker are counted in `/metrics`.
 */
import assert from "node:assert/strict";
import { CacheNode, curlIn, randomPort } from "./_icp_nodes.ts";

const HOST = "www.icp-workers.test";
const URLS = Array.from({ length: 24 }, (_, i) => `/w/${i}`);

// deno-lint-ignore no-explicit-any
async function status(admin: number): Promise<any> {
  return await (await fetch(`http://127.0.0.1:${admin}/status`)).json();
}

/** Waits until a cache's workers reported `n` requests; returns each worker's misses. */
async function workerMisses(admin: number, n: number): Promise<number[]> {
  for (let i = 0; i < 50; i++) {
    const per = (await status(admin)).cache.perWorker as { requests: number; misses: number }[];
    if (per.reduce((a, w) => a + w.requests, 0) >= n) return per.map((w) => w.misses);
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`cache on admin port ${admin} never reported ${n} requests`);
}

Deno.test("icp with 2 workers per cache: objects any worker stored are sibling hits for every worker of the sibling", async () => {
  const seen = new Map<string, number>();
  const origin = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const p = new URL(req.url).pathname;
    seen.set(p, (seen.get(p) ?? 0) + 1);
    return new Response(`body ${p}\n`, { headers: { "cache-control": "max-age=600" } });
  });
  const ports = [0, 1].map(() => ({ http: randomPort(), icp: randomPort(), admin: randomPort() }));
  const peers = ports.map((p) => ({ host: "127.0.0.1", httpPort: p.http, icpPort: p.icp, type: "sibling" }));
  const nodes: CacheNode[] = [];
  try {
    for (const [i, p] of ports.entries()) {
      nodes.push(
        await CacheNode.start(`icpw${i}`, {
          cluster: { nodeName: `icpw${i}` },
          admin: { listen: `127.0.0.1:${p.admin}` },
          cache: {
            listen: [{ address: `127.0.0.1:${p.http}`, mode: "accel" }],
            defaultOrigin: `http://127.0.0.1:${origin.addr.port}`,
            workers: 2,
            peers: peers.filter((_, j) => j !== i),
            peering: { mode: "icp" },
          },
          // A loaded test machine answers ICP in 1-5 ms at times: no adaptive 5 ms timeout here.
          icp: { port: p.icp, listen: "127.0.0.1", timeoutMs: 1000, minTimeoutMs: 300 },
        }),
      );
    }
    assert.equal((await status(ports[0].admin)).cache.workers, 2);
    // Cache 0 fetches every URL; each request is a new connection, so both workers take some.
    for (const path of URLS) {
      const r = await curlIn(undefined, `http://127.0.0.1:${ports[0].http}${path}`, { host: HOST });
      assert.equal(r.status, 200);
    }
    const stored = await workerMisses(ports[0].admin, URLS.length);
    assert.ok(stored[1] > 0, `cache 0's second worker stored some objects: ${stored}`);
    // Cache 1 gets each URL from cache 0 (ICP HIT, then HTTP only-if-cached), whichever of its
    // workers takes the request and whichever of cache 0's workers stored the object.
    for (const path of URLS) {
      const r = await curlIn(undefined, `http://127.0.0.1:${ports[1].http}${path}`, { host: HOST });
      assert.equal(r.status, 200);
      assert.equal(r.body, `body ${path}\n`);
    }
    assert.deepEqual([...seen].filter(([, n]) => n !== 1), [], "every URL came from the origin once");
    const asked = await workerMisses(ports[1].admin, URLS.length);
    assert.ok(asked.every((n) => n > 0), `both of cache 1's workers had misses: ${asked}`);
    const metrics = await (await fetch(`http://127.0.0.1:${ports[1].admin}/metrics`)).text();
    const line = metrics.split("\n").find((l) =>
      l.startsWith("webcache_cache_peering_choices_total") && l.includes('mode="icp"') && l.includes('choice="hit"')
    );
    assert.equal(Number(line?.split(" ").at(-1)), URLS.length, `sibling fetches of all workers counted: ${line}`);
  } finally {
    for (const n of nodes) await n.stop();
    await origin.shutdown();
  }
});
