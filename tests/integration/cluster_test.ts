/**
 * Cluster membership over real sockets with node processes on loopback: failure detection within
 * the configured bound after kill -9, rejoin after restart, wrong keys and foreign cluster names
 * kept out, graceful leave on SIGTERM.
 */
import assert from "node:assert/strict";
import { printOut } from "../../core/log.ts";
import { FAST, type NodeProc, randomKey, startNode, stopAll, until } from "./_cluster_harness.ts";

const alive = (n: NodeProc) => Object.values(n.view).filter((s) => s === "alive").length;

Deno.test("cluster: ten nodes; kill -9 one, all others mark it dead within the bound; restart rejoins", async () => {
  const key = randomKey();
  const nodes: (NodeProc | undefined)[] = [];
  try {
    const seed = await startNode({ name: "n0", cluster: { name: "ten", ...FAST }, key });
    nodes.push(seed);
    const peers = [`127.0.0.1:${seed.gossip}`];
    nodes.push(
      ...await Promise.all(
        Array.from(
          { length: 9 },
          (_, i) => startNode({ name: `n${i + 1}`, cluster: { name: "ten", peers, ...FAST }, key }),
        ),
      ),
    );
    const all = () => nodes.filter((n): n is NodeProc => n !== undefined);
    await until("ten alive everywhere", () => all().every((n) => alive(n) === 10), 30_000, nodes);

    const victim = nodes[4]!;
    const victimId = victim.id;
    victim.kill();
    await victim.finished();
    nodes[4] = undefined;
    // Bound: every node probes the victim within one round (n × interval), then the suspicion
    // runs at most suspicionMaxTimeoutMult × suspicionMult × max(1, log10 n) × interval,
    // plus a second for gossip.
    const n = 10;
    const bound = n * FAST.probeIntervalMs +
      FAST.suspicionMaxTimeoutMult * FAST.suspicionMult * Math.max(1, Math.log10(n)) * FAST.probeIntervalMs + 1000;
    const took = await until(
      "every other node marks n4 dead",
      () => all().every((x) => x.view.n4 === "dead"),
      bound,
      nodes,
    );
    printOut(`    kill -9 detected by all 9 nodes in ${took} ms (bound ${bound} ms)`);

    nodes[4] = await startNode({ name: "n4", cluster: { name: "ten", peers, ...FAST }, key, record: { id: victimId } });
    await until(
      "n4 alive again everywhere",
      () => all().every((x) => x.view.n4 === "alive" && alive(x) === 10),
      10_000,
    );
  } finally {
    await stopAll(nodes);
  }
});

Deno.test("cluster: a node with a wrong key never joins", async () => {
  const key = randomKey();
  const nodes: NodeProc[] = [];
  try {
    const a = await startNode({ name: "a", cluster: { name: "k", ...FAST }, key });
    nodes.push(a);
    const peers = [`127.0.0.1:${a.gossip}`];
    const [b, intruder] = await Promise.all([
      startNode({ name: "b", cluster: { name: "k", peers, ...FAST }, key }),
      startNode({ name: "intruder", cluster: { name: "k", peers, ...FAST }, key: randomKey() }),
    ]);
    nodes.push(b, intruder);
    await until("a and b together", () => alive(nodes[0]) === 2 && alive(nodes[1]) === 2, 5000);
    await new Promise((r) => setTimeout(r, 3 * FAST.pushPullIntervalMs));
    assert.deepEqual(Object.keys(nodes[0].view).sort(), ["a", "b"]);
    assert.deepEqual(Object.keys(nodes[1].view).sort(), ["a", "b"]);
    assert.deepEqual(Object.keys(intruder.view), ["intruder"]);
    const metrics = await (await fetch(`http://127.0.0.1:${nodes[0].admin}/metrics`)).text();
    const auth = /webcache_cluster_messages_dropped_total\{reason="auth"\} (\d+)/.exec(metrics);
    assert.ok(auth && Number(auth[1]) > 0, "auth drops not counted");
  } finally {
    await stopAll(nodes);
  }
});

Deno.test("cluster: two clusters with different names on one network stay apart", async () => {
  const key = randomKey(); // even with the same key
  const nodes: NodeProc[] = [];
  try {
    const [a1, b1] = await Promise.all([
      startNode({ name: "a1", cluster: { name: "red", ...FAST }, key }),
      startNode({ name: "b1", cluster: { name: "blue", ...FAST }, key }),
    ]);
    nodes.push(a1, b1);
    // Each second node is seeded with BOTH clusters' nodes.
    const peers = [`127.0.0.1:${a1.gossip}`, `127.0.0.1:${b1.gossip}`];
    nodes.push(
      ...await Promise.all([
        startNode({ name: "a2", cluster: { name: "red", peers, ...FAST }, key }),
        startNode({ name: "b2", cluster: { name: "blue", peers, ...FAST }, key }),
      ]),
    );
    await until("both pairs formed", () => nodes.every((n) => alive(n) === 2), 5000);
    await new Promise((r) => setTimeout(r, 3 * FAST.pushPullIntervalMs));
    assert.deepEqual(Object.keys(nodes[0].view).sort(), ["a1", "a2"]);
    assert.deepEqual(Object.keys(nodes[1].view).sort(), ["b1", "b2"]);
    assert.deepEqual(Object.keys(nodes[2].view).sort(), ["a1", "a2"]);
    assert.deepEqual(Object.keys(nodes[3].view).sort(), ["b1", "b2"]);
  } finally {
    await stopAll(nodes);
  }
});

Deno.test("cluster: SIGTERM announces the leave and the others see `left` at once", async () => {
  const key = randomKey();
  const nodes: NodeProc[] = [];
  try {
    const a = await startNode({ name: "a", cluster: { name: "l", ...FAST }, key });
    nodes.push(a);
    const peers = [`127.0.0.1:${a.gossip}`];
    nodes.push(
      ...await Promise.all([
        startNode({ name: "b", cluster: { name: "l", peers, ...FAST }, key }),
        startNode({ name: "c", cluster: { name: "l", peers, ...FAST }, key }),
      ]),
    );
    await until("three together", () => nodes.every((n) => alive(n) === 3), 5000);
    nodes[2].term();
    const status = await nodes[2].finished();
    assert.equal(status.code, 0);
    // Well under any failure-detection time: the leave is sent directly.
    await until("c left", () => a.view.c === "left" && nodes[1].view.c === "left", FAST.probeIntervalMs * 2);
  } finally {
    await stopAll(nodes);
  }
});
