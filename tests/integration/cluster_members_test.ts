/**
 * `webcache members` against running nodes: the table like `serf members`, `--json`, the config
 * hash mark, and the exit status when no node answers. Runs the bundle (tests/_bin.ts).
 */
import assert from "node:assert/strict";
import { runWebcache } from "../_bin.ts";
import { FAST, type NodeProc, randomKey, startNode, stopAll, until } from "./_cluster_harness.ts";

async function webcache(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  const r = await runWebcache(args);
  return { code: r.code, out: r.stdout, err: r.stderr };
}

Deno.test("webcache members lists the cluster and marks a node whose config differs", async () => {
  const key = randomKey();
  const nodes: NodeProc[] = [];
  try {
    const a = await startNode({ name: "alpha", cluster: { name: "m", ...FAST }, key, record: { role: "director" } });
    nodes.push(a);
    const peers = [`127.0.0.1:${a.gossip}`];
    nodes.push(
      ...await Promise.all([
        startNode({ name: "beta", cluster: { name: "m", peers, ...FAST }, key, record: { service: "web" } }),
        // Another config: a different probe timeout gives a different config hash.
        startNode({ name: "gamma", cluster: { name: "m", peers, ...FAST, probeTimeoutMs: 120 }, key }),
      ]),
    );
    await until(
      "three together",
      () => nodes.every((n) => Object.values(n.view).filter((s) => s === "alive").length === 3),
      5000,
    );

    const table = await webcache("members", "--admin", `127.0.0.1:${a.admin}`);
    assert.equal(table.code, 0, table.err);
    const lines = table.out.trim().split("\n");
    assert.match(lines[0], /^Node\s+Address\s+Role\s+Status\s+Weight\s+Service\s+Config$/);
    assert.match(lines[1], /^alpha\s+127\.0\.0\.1:\d+\s+director\s+alive\s+100\s+-\s+v0 [0-9a-f]{16}$/);
    assert.match(lines[2], /^beta\s+127\.0\.0\.1:\d+\s+cache\s+alive\s+100\s+web\s+v0 [0-9a-f]{16}$/);
    assert.match(lines[3], /^gamma\s+.*v0 [0-9a-f]{16} \*$/);
    assert.match(table.out, /\* config differs from alpha's \(v0 [0-9a-f]{16}\)/);

    const dir = await webcache("members", "--admin", `127.0.0.1:${a.admin}`, "--role", "director");
    assert.equal(dir.out.trim().split("\n").length, 2, dir.out);
    assert.match(dir.out, /alpha/);

    const json = await webcache("members", "--admin", `127.0.0.1:${a.admin}`, "--json");
    assert.equal(json.code, 0, json.err);
    const doc = JSON.parse(json.out);
    assert.equal(doc.cluster, "m");
    assert.deepEqual(doc.members.map((m: { name: string }) => m.name).sort(), ["alpha", "beta", "gamma"]);
    assert.deepEqual(
      doc.members.filter((m: { configDiffers: boolean }) => m.configDiffers).map((m: { name: string }) => m.name),
      [
        "gamma",
      ],
    );
  } finally {
    await stopAll(nodes);
  }
});

Deno.test("webcache members exits 1 with a clear message when no node answers", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close(); // a port nobody listens on
  const r = await webcache("members", "--admin", `127.0.0.1:${port}`);
  assert.equal(r.code, 1);
  assert.match(r.err, /Cannot list members: asking http:\/\/127\.0\.0\.1:\d+\/members failed/);
  const bad = await webcache("members", "--admin", "nonsense");
  assert.equal(bad.code, 2);
});
