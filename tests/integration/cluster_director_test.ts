/**
 * `webcache director` (the bundle) with cluster membership: caches that gossip `service: web`
 * and their HTTP address become the real servers of the `fromMembership` service, and a cache
 * killed with -9 leaves the pool once the cluster marks it dead.
 */
import assert from "node:assert/strict";
import { spawnWebcache } from "../_bin.ts";
import { FAST, type NodeProc, randomKey, startNode, stopAll, until } from "./_cluster_harness.ts";

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = (l.addr as Deno.NetAddr).port;
  l.close();
  return p;
}

Deno.test("director: live caches of a fromMembership service become real servers; a killed one leaves", async () => {
  const key = randomKey();
  const backends = ["one", "two"].map((name) =>
    Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, () => new Response(name))
  );
  const nodes: NodeProc[] = [];
  const dir = await Deno.makeTempDir({ prefix: "wccl-director-" });
  let director: Deno.ChildProcess | undefined;
  try {
    const seed = await startNode({ name: "seed", cluster: { name: "d", ...FAST }, key, record: { role: "cache" } });
    nodes.push(seed);
    const peers = [`127.0.0.1:${seed.gossip}`];
    nodes.push(
      ...await Promise.all(backends.map((b, i) =>
        startNode({
          name: `cache-${i}`,
          cluster: { name: "d", peers, ...FAST },
          key,
          record: { role: "cache", service: "web", addrs: { http: `127.0.0.1:${b.addr.port}` } },
        })
      )),
    );
    const vport = freePort();
    const adminPort = freePort();
    const cfg = {
      cluster: { name: "d", gossipListen: "127.0.0.1:0", nodeName: "lb", peers, ...FAST },
      admin: { listen: `127.0.0.1:${adminPort}` },
      log: { level: "warn" },
      director: {
        services: [{
          name: "web",
          vip: "127.0.0.1",
          port: vport,
          method: "proxy",
          scheduler: "rr",
          fromMembership: true,
          health: { type: "none" },
        }],
      },
    };
    await Deno.writeTextFile(`${dir}/appliance.yaml`, JSON.stringify(cfg)); // JSON is YAML
    director = await spawnWebcache(["director", "--config", `${dir}/appliance.yaml`], {
      env: { WEBCACHE_CLUSTER_KEY: key },
      stdout: "null",
    });
    const answers = async (n: number): Promise<Set<string>> => {
      const seen = new Set<string>();
      for (let i = 0; i < n; i++) {
        try {
          // One connection per request: the director balances connections, not requests.
          const res = await fetch(`http://127.0.0.1:${vport}/`, {
            headers: { connection: "close" },
            signal: AbortSignal.timeout(2000),
          });
          seen.add(await res.text());
        } catch {
          seen.add("error");
        }
      }
      return seen;
    };
    let last = new Set<string>();
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      last = await answers(6);
      if (last.has("one") && last.has("two") && !last.has("error")) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual([...last].sort(), ["one", "two"], "both caches serve through the director");

    // The director lists itself and the caches.
    const members = await (await fetch(`http://127.0.0.1:${adminPort}/members`)).json();
    assert.deepEqual(
      members.members.map((m: { name: string; role: string }) => `${m.name}/${m.role}`).sort(),
      ["cache-0/cache", "cache-1/cache", "lb/director", "seed/cache"],
    );

    nodes[2].kill(); // cache-1 ("two")
    await nodes[2].finished();
    await until("others mark cache-1 dead", () => seed.view["cache-1"] === "dead", 15_000, nodes);
    let after = new Set<string>();
    const end = Date.now() + 5_000;
    while (Date.now() < end) {
      after = await answers(6);
      if (after.size === 1 && after.has("one")) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.deepEqual([...after], ["one"], "the dead cache left the pool");
  } finally {
    if (director) {
      try {
        director.kill("SIGTERM");
      } catch { /* gone */ }
      const st = await director.status;
      await director.stderr.cancel();
      assert.ok(st.code === 0 || st.signal !== null, `director exit ${st.code}`);
    }
    await stopAll(nodes);
    for (const b of backends) await b.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});
