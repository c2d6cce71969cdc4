/**
 * `webcache status` (the bundle) against admin endpoints on loopback: text, `--json`, the token
 * from WEBCACHE_ADMIN_TOKEN, and a clear error for an unreachable node.
 */
import { assert, assertEquals, assertStringIncludes } from "../_assert.ts";
import { runWebcache, spawnWebcache } from "../_bin.ts";
import { registerDashboard } from "../../admin/dashboard.ts";
import { configureLogging } from "../../core/log.ts";
import { type FakeNode, recordOf, serveMembers, startFakeNode } from "../../status/_fake_nodes.ts";

configureLogging({ level: "error" });

const TOKEN = "status-cli-token-0123456789";

function cluster(access: { allow?: string[]; token?: string } = {}) {
  const caches = [1, 2].map((i) =>
    startFakeNode(`cache-${i}`, "cache", {
      ...access,
      section: { requests: 100 * i, hits: 60 * i, misses: 40 * i, objects: 10 * i, bytes: 4096 * i },
      extra: { icp: { queriesSent: 40 * i, siblingHits: 5 * i } },
    })
  );
  const director = startFakeNode("director-1", "director", {
    ...access,
    section: {
      connections: 1,
      services: [{
        name: "web",
        address: "127.0.0.1:8080",
        scheduler: "wlc",
        servers: caches.map((c, i) => ({
          address: `127.0.0.1:${3128 + i}`,
          node: c.name,
          method: "proxy",
          weight: 1,
          health: "up",
          connections: 5,
        })),
      }],
    },
  });
  const nodes: FakeNode[] = [director, ...caches];
  serveMembers(director, () => nodes.map((n) => recordOf(n)));
  registerDashboard(director.admin, { node: "director-1", token: access.token });
  return {
    director,
    caches,
    stop: async () => {
      for (const n of nodes) await n.stop().catch(() => {});
    },
  };
}

Deno.test("webcache status prints the cluster as a table and as JSON", async () => {
  const c = cluster();
  try {
    const text = await runWebcache(["status", "--admin", c.director.addr]);
    assertEquals(text.code, 0, text.stderr);
    assertStringIncludes(text.stdout, "3 members (3 healthy), 1 directors, 2 caches");
    assertStringIncludes(text.stdout, "array: 300 requests  0.0 req/s, hit ratio 60.0%");
    assertStringIncludes(text.stdout, "ICP queries 120, sibling hits 15");
    assertStringIncludes(text.stdout, "director-1: TCP  127.0.0.1:8080 wlc  [web]");
    assert(
      /cache-2\s+cache\s+alive\s+127\.0\.0\.1:\d+\s+\S+\s+0\.0\s+60\.0%\s+20\s+8\.0 KiB\s+80\s+10/.test(text.stdout),
      text.stdout,
    );

    const json = await runWebcache(["status", "--admin", c.director.addr, "--json"]);
    assertEquals(json.code, 0, json.stderr);
    const doc = JSON.parse(json.stdout);
    assertEquals([doc.askedNode, doc.totals.members, doc.totals.requests, doc.totals.siblingHits], [
      "director-1",
      3,
      300,
      15,
    ]);
    assertEquals(doc.members.map((m: { name: string }) => m.name), ["director-1", "cache-1", "cache-2"]);
  } finally {
    await c.stop();
  }
});

Deno.test("webcache status takes the admin token from WEBCACHE_ADMIN_TOKEN and explains a refusal", async () => {
  const c = cluster({ allow: ["10.77.0.0/16"], token: TOKEN });
  try {
    const refused = await runWebcache(["status", "--admin", c.director.addr]);
    assertEquals(refused.code, 1);
    assertStringIncludes(refused.stderr, "refused (HTTP 403); give the admin.token");
    const ok = await runWebcache(["status", "--admin", c.director.addr, "--json"], {
      env: { WEBCACHE_ADMIN_TOKEN: TOKEN },
    });
    assertEquals(ok.code, 0, ok.stderr);
    assertEquals(JSON.parse(ok.stdout).totals.healthy, 3);
  } finally {
    await c.stop();
  }
});

Deno.test("webcache status fails clearly when the node cannot be reached", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  const r = await runWebcache(["status", "--admin", `127.0.0.1:${port}`]);
  assertEquals(r.code, 1);
  assertStringIncludes(r.stderr, `Cannot reach the admin endpoint at 127.0.0.1:${port}`);
});

Deno.test("webcache status --watch refreshes until interrupted", async () => {
  const c = cluster();
  const child = await spawnWebcache(["status", "--admin", c.director.addr, "--watch", "0.5", "--json"]);
  try {
    const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let text = "";
    while (text.split("\n").filter(Boolean).length < 3) {
      const { value, done } = await reader.read();
      if (done) break;
      text += value;
    }
    const docs = text.split("\n").filter(Boolean).slice(0, 3).map((l) => JSON.parse(l));
    assertEquals(docs.map((d) => d.totals.members), [3, 3, 3]);
    assert(new Set(docs.map((d) => d.at)).size >= 2, "each refresh is a new sample");
    assert(docs.slice(1).some((d) => d.sampleIntervalMs !== undefined), "later samples have rates");
    child.kill("SIGINT");
    assertEquals((await child.status).code, 0);
    await reader.cancel();
  } finally {
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
    await child.stderr.cancel().catch(() => {});
    await c.stop();
  }
});
