import { assertEquals, assertRejects } from "../tests/_assert.ts";
import { registerDashboard } from "../admin/dashboard.ts";
import { configureLogging } from "../core/log.ts";
import { ClusterStatusClient } from "./client.ts";
import { recordOf, serveMembers, startFakeNode } from "./_fake_nodes.ts";

configureLogging({ level: "error" });

Deno.test("ClusterStatusClient uses the node's /cluster/status when it serves one", async () => {
  const c1 = startFakeNode("c1", "cache", { section: { hits: 3, misses: 1, requests: 4 } });
  const d = startFakeNode("d1", "director", { section: { services: [] } });
  serveMembers(d, () => [recordOf(d), recordOf(c1)]);
  registerDashboard(d.admin, { node: "d1" });
  try {
    const client = new ClusterStatusClient(d.addr);
    const doc = await client.fetch({ history: true });
    assertEquals([client.aggregatingLocally, doc.askedNode, doc.totals.members, doc.totals.hits], [false, "d1", 2, 3]);
    assertEquals(doc.history, []);
  } finally {
    await c1.stop();
    await d.stop();
  }
});

Deno.test("ClusterStatusClient aggregates itself when the node has no /cluster/status", async () => {
  const c1 = startFakeNode("c1", "cache", { section: { hits: 1, misses: 1, requests: 2 } });
  const c2 = startFakeNode("c2", "cache", { section: { hits: 2, misses: 0, requests: 2 } });
  serveMembers(c1, () => [recordOf(c1), recordOf(c2)]);
  try {
    const client = new ClusterStatusClient(c1.addr);
    const doc = await client.fetch();
    assertEquals([client.aggregatingLocally, doc.totals.members, doc.totals.hits, doc.totals.hitRatio], [
      true,
      2,
      3,
      0.75,
    ]);
  } finally {
    await c1.stop();
    await c2.stop();
  }
});

Deno.test("ClusterStatusClient names admin.token when refused and the address when unreachable", async () => {
  const c1 = startFakeNode("c1", "cache", { allow: ["10.1.0.0/16"], token: "a-token-of-sixteen-chars" });
  try {
    await assertRejects(() => new ClusterStatusClient(c1.addr).fetch(), Error, "give the admin.token");
  } finally {
    await c1.stop();
  }
  await assertRejects(
    () => new ClusterStatusClient(c1.addr, { timeoutMs: 1000 }).fetch(),
    Error,
    `Cannot reach the admin endpoint at ${c1.addr}`,
  );
});
