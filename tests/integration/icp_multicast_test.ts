/**
 * ICP over multicast for real: three caches in their own network namespaces on one bridge join one
 * group; a miss on one is answered by the sibling that holds the object; the origin sees one
 * request.
 */
import assert from "node:assert/strict";
import { CacheNode, curlIn, NetnsLan, sh } from "./_icp_nodes.ts";
import { requires } from "../_requires.ts";

const HOST = "www.icp-mcast.test";

// deno-lint-ignore no-explicit-any
async function status(ns: string): Promise<Record<string, any>> {
  return JSON.parse(
    await sh("ip", "netns", "exec", ns, "curl", "-s", "--max-time", "5", "http://127.0.0.1:9090/status"),
  );
}

Deno.test({
  ...await requires(
    "ICP multicast: a miss on one cache is served from the sibling holding the object; the origin sees one request",
    { netns: true, commands: ["curl"] },
  ),
  sanitizeResources: true,
  async fn() {
    const lan = await NetnsLan.create(3);
    const nodes: CacheNode[] = [];
    const seen: string[] = [];
    const origin = Deno.serve({ hostname: lan.addr(254), port: 0, onListen() {} }, (req) => {
      seen.push(new URL(req.url).pathname);
      return new Response(`object ${new URL(req.url).pathname}\n`, {
        headers: { "cache-control": "max-age=600", "content-type": "text/plain" },
      });
    });
    const group = `239.255.${Math.floor(Math.random() * 250)}.${1 + Math.floor(Math.random() * 250)}`;
    try {
      // Start the three caches in parallel (each in its namespace); keep every one that started.
      const started = await Promise.allSettled([1, 2, 3].map((i) => {
        const peers = [1, 2, 3].filter((j) => j !== i).map((j) => ({
          host: lan.addr(j),
          httpPort: 3128,
          icpPort: 3130,
          type: "sibling",
          multicastResponder: true,
        }));
        return CacheNode.start(`cache${i}`, {
          cluster: { nodeName: `cache${i}` },
          log: { level: "info" },
          admin: { listen: "127.0.0.1:9090" },
          cache: {
            listen: [{ address: `${lan.addr(i)}:3128`, mode: "accel" }],
            defaultOrigin: `http://${lan.addr(254)}:${origin.addr.port}`,
            workers: 2,
            peers,
            peering: { mode: "icp" },
          },
          icp: {
            port: 3130,
            listen: "0.0.0.0",
            timeoutMs: 1500,
            minTimeoutMs: 200,
            multicast: { group, ttl: 1, interface: lan.addr(i), probeIntervalMs: 2000 },
          },
        }, { netns: lan.nodes[i - 1] });
      }));
      for (const r of started) if (r.status === "fulfilled") nodes.push(r.value);
      for (const r of started) if (r.status === "rejected") throw r.reason;
      // Wait until cache2 has counted the group's members (Squid-style multicast probe).
      let members = 0;
      for (let k = 0; k < 60 && members < 2; k++) {
        await new Promise((r) => setTimeout(r, 250));
        members = (await status(lan.nodes[1])).peering?.multicastMembers ?? 0;
      }
      assert.ok(members >= 1.5, `cache2 counted ${members} multicast members`);

      const first = await curlIn(undefined, `http://${lan.addr(1)}:3128/obj`, { host: HOST });
      assert.equal(first.status, 200);
      assert.equal(first.body, "object /obj\n");
      assert.deepEqual(seen, ["/obj"]);

      const second = await curlIn(undefined, `http://${lan.addr(2)}:3128/obj`, { host: HOST });
      assert.equal(second.status, 200);
      assert.equal(second.body, "object /obj\n");
      assert.deepEqual(seen, ["/obj"], "the origin saw one request: cache2 got the object from cache1");

      const st = await status(lan.nodes[1]);
      const up = (st.peering.icp as { up: boolean; replies: number }[]).filter((p) => p.up && p.replies > 0);
      assert.equal(up.length, 2, JSON.stringify(st.peering));

      // Nobody holds this one: every member answers MISS and cache3 goes to the origin.
      const third = await curlIn(undefined, `http://${lan.addr(3)}:3128/other`, { host: HOST });
      assert.equal(third.status, 200);
      assert.deepEqual(seen, ["/obj", "/other"]);
    } finally {
      for (const n of nodes) await n.stop();
      await origin.shutdown();
      await lan.destroy();
    }
  },
});
