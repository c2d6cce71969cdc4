/**
 * Cluster membership inside a private network namespace (prefix `wccl`): a partition made with
 * nftables heals, and `--peers auto` finds the cluster by multicast on the default group
 * 239.255.77.46:7947. Every namespace (and its nft table) is removed in `finally`.
 */
import assert from "node:assert/strict";
import { printOut } from "../../core/log.ts";
import {
  delNetns,
  FAST,
  makeNetns,
  type NodeProc,
  randomKey,
  sh,
  startNode,
  stopAll,
  until,
} from "./_cluster_harness.ts";
import { requires } from "../_requires.ts";

const alive = (n: NodeProc) => Object.values(n.view).filter((s) => s === "alive").length;

Deno.test({
  ...await requires("cluster: a partition made with nftables marks the other side dead, then heals", {
    netns: true,
    commands: ["nft"],
  }),
}, async () => {
  // Two namespaces joined by a veth pair: side A 10.77.0.1, side B 10.77.0.2.
  const nsA = await makeNetns();
  const nodes: NodeProc[] = [];
  let nsB: string | undefined;
  try {
    nsB = await makeNetns();
    const tag = nsA.slice(4, 10);
    await sh(
      "ip",
      "link",
      "add",
      `wccl${tag}a`,
      "netns",
      nsA,
      "type",
      "veth",
      "peer",
      "name",
      `wccl${tag}b`,
      "netns",
      nsB,
    );
    for (const [ns, dev, ip] of [[nsA, `wccl${tag}a`, "10.77.0.1/24"], [nsB, `wccl${tag}b`, "10.77.0.2/24"]]) {
      await sh("ip", "-n", ns, "addr", "add", ip, "dev", dev);
      await sh("ip", "-n", ns, "link", "set", dev, "up");
    }
    const key = randomKey();
    const cluster = { name: "p", ...FAST, deadReclaimMs: 120_000 };
    const a1 = await startNode({ name: "a1", cluster: { ...cluster, gossipListen: "10.77.0.1:0" }, key, netns: nsA });
    nodes.push(a1);
    const peers = [`10.77.0.1:${a1.gossip}`];
    nodes.push(
      ...await Promise.all([
        startNode({ name: "a2", cluster: { ...cluster, gossipListen: "10.77.0.1:0", peers }, key, netns: nsA }),
        startNode({ name: "b1", cluster: { ...cluster, gossipListen: "10.77.0.2:0", peers }, key, netns: nsB }),
        startNode({ name: "b2", cluster: { ...cluster, gossipListen: "10.77.0.2:0", peers }, key, netns: nsB }),
      ]),
    );
    await until("four alive everywhere", () => nodes.every((n) => alive(n) === 4), 10_000);

    // The partition: each namespace silently drops everything arriving from the other side.
    const table = `wccl${tag}`;
    for (const [ns, other] of [[nsA, "10.77.0.2"], [nsB, "10.77.0.1"]]) {
      await sh("ip", "netns", "exec", ns, "nft", "add", "table", "inet", table);
      await sh("ip", "netns", "exec", ns, "nft", `add chain inet ${table} in { type filter hook input priority 0 ; }`);
      await sh("ip", "netns", "exec", ns, "nft", `add rule inet ${table} in ip saddr ${other} drop`);
    }
    const [na1, na2, nb1, nb2] = nodes;
    await until(
      "each side marks the other dead",
      () =>
        [na1, na2].every((n) => n.view.b1 === "dead" && n.view.b2 === "dead") &&
        [nb1, nb2].every((n) => n.view.a1 === "dead" && n.view.a2 === "dead"),
      20_000,
    ).catch((e) => {
      throw new Error(`${e.message}: ${JSON.stringify(nodes.map((n) => [n.name, n.view]))}`);
    });
    assert.equal(na1.view.a2, "alive");
    assert.equal(nb1.view.b2, "alive");

    for (const ns of [nsA, nsB]) await sh("ip", "netns", "exec", ns, "nft", "delete", "table", "inet", table);
    const healed = await until("partition healed", () => nodes.every((n) => alive(n) === 4), 20_000);
    printOut(`    healed ${healed} ms after the nft rules were removed`);
  } finally {
    await stopAll(nodes);
    await delNetns(nsA);
    if (nsB) await delNetns(nsB);
  }
});

Deno.test({
  ...await requires("cluster: --peers auto finds the cluster by multicast on 239.255.77.46:7947", { netns: true }),
}, async () => {
  const ns = await makeNetns();
  const nodes: NodeProc[] = [];
  try {
    const key = randomKey();
    const cluster = { name: "auto", ...FAST, peers: "auto", discovery: { intervalMs: 200 } };
    nodes.push(
      ...await Promise.all([
        startNode({ name: "d1", cluster, key, netns: ns }),
        startNode({ name: "d2", cluster, key, netns: ns }),
        startNode({ name: "d3", cluster, key, netns: ns }),
      ]),
    );
    // A node of another key announcing on the same group is ignored.
    nodes.push(await startNode({ name: "stranger", cluster, key: randomKey(), netns: ns }));
    await until("three found each other", () => nodes.slice(0, 3).every((n) => alive(n) === 3), 10_000);
    await new Promise((r) => setTimeout(r, 1000));
    assert.deepEqual(Object.keys(nodes[0].view).sort(), ["d1", "d2", "d3"]);
    assert.deepEqual(Object.keys(nodes[3].view), ["stranger"]);
  } finally {
    await stopAll(nodes);
    await delNetns(ns);
  }
});
