/**
 * `cluster.configSync` with config versions, on ten gossip processes over 127.0.0.1 (issue #21
 * item 2): a director service weight changed in one node's file (SIGHUP publishes it) reaches every
 * node within seconds while each keeps its own name and addresses in its file; then a config one
 * node cannot run (HA on a node whose node-local `director.vipMode` is nft) is refused there, with
 * the reason in `webcache members --json` and the table, while the node keeps running its version
 * and the nine others adopt it. Runs the bundle for `webcache members` (tests/_bin.ts).
 */
import assert from "node:assert/strict";
import { parseYaml } from "../../config/load.ts";
import { runWebcache } from "../_bin.ts";
import { FAST, type NodeProc, randomKey, startNode, stopAll, until } from "./_cluster_harness.ts";

const N = 10;
const REFUSER = 7;
const PUBLISHER = 3;

/**
 * A port free for both TCP and UDP (gossip binds both), taken below the kernel's ephemeral range
 * so that outgoing connections of other processes cannot take it between this check and the bind.
 */
function freeGossipPort(): number {
  for (let tries = 0; tries < 200; tries++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    try {
      const l = Deno.listen({ hostname: "127.0.0.1", port });
      try {
        Deno.listenDatagram({ hostname: "127.0.0.1", port, transport: "udp" }).close();
        return port;
      } finally {
        l.close();
      }
    } catch {
      // taken: try another
    }
  }
  throw new Error("No port free for both TCP and UDP");
}

interface MemberRecord {
  name: string;
  configVersion?: number;
  configHash: string;
  configRefused?: { version: number; hash: string; reason: string };
}

/** The node's own record from its /members (undefined while it does not answer). */
async function self(n: NodeProc): Promise<MemberRecord | undefined> {
  try {
    const res = await fetch(`http://127.0.0.1:${n.admin}/members`, { signal: AbortSignal.timeout(2000) });
    return res.ok ? (await res.json()).members[0] : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Polls every node's /members until its own record runs `version`.
 *
 * @returns per node, milliseconds from `t0` until it was first seen at `version`
 */
async function reachVersion(list: NodeProc[], version: number, t0: number, ms: number): Promise<number[]> {
  const at: number[] = new Array(list.length).fill(0);
  while (at.some((t) => t === 0)) {
    if (Date.now() - t0 > ms) {
      const late = list.filter((_, i) => !at[i]).map((n) => n.name);
      throw new Error(`Timed out after ${ms} ms waiting for version ${version} on ${late.join(", ")}`);
    }
    await Promise.all(list.map(async (n, i) => {
      if (!at[i] && (await self(n))?.configVersion === version) at[i] = Date.now() - t0;
    }));
    await new Promise((r) => setTimeout(r, 50));
  }
  return at;
}

type Service = { reals: { weight: number }[] };
type FileDoc = {
  cluster: { nodeName: string; gossipListen: string; peers?: string[] };
  admin: { listen: string };
  director: { vipMode?: string; ha?: { mode?: string }; services: Service[] };
};

Deno.test("configSync: a weight change reaches 10 nodes in seconds, local keys stay; a node refuses what it cannot run", async () => {
  const key = randomKey();
  const dir = await Deno.makeTempDir({ prefix: "wccl-cfgver-" });
  const nodes: NodeProc[] = [];
  try {
    const service = (weight: number) => ({
      name: "web",
      vip: "127.0.0.1",
      port: 8080,
      method: "proxy",
      health: { type: "none" },
      reals: [{ address: "127.0.0.1", port: 9001, weight }],
    });
    const gossip: number[] = [];
    while (gossip.length < N) {
      const port = freeGossipPort();
      if (!gossip.includes(port)) gossip.push(port);
    }
    const file = (i: number) => `${dir}/n${i}.yaml`;
    const start = (i: number) =>
      startNode({
        name: `n${i}`,
        key,
        cluster: {
          name: "cv",
          configSync: true,
          gossipListen: `127.0.0.1:${gossip[i]}`,
          ...(i === 0 ? {} : { peers: [`127.0.0.1:${gossip[0]}`] }),
          ...FAST,
        },
        config: {
          admin: { listen: `127.0.0.1:${19_000 + i}` }, // node-local: only checked in the file
          director: { ...(i === REFUSER ? { vipMode: "nft" } : {}), services: [service(1)] },
        },
        configFile: file(i),
        configVersion: 1, // the cluster runs version 1
      });
    nodes.push(await start(0));
    nodes.push(...await Promise.all(Array.from({ length: N - 1 }, (_, i) => start(i + 1))));
    await until(
      "ten nodes together",
      () => nodes.every((n) => Object.values(n.view).filter((s) => s === "alive").length === N),
      30_000,
      nodes,
    );
    const before = await Promise.all(nodes.map(self));
    assert.ok(before.every((r) => r?.configVersion === 1 && r.configHash === before[0]!.configHash), "one version");

    // 1. The operator raises the weight in one node's file and sends it SIGHUP.
    const readFile = async (i: number) => parseYaml(await Deno.readTextFile(file(i)), file(i)) as FileDoc;
    const edited = await readFile(PUBLISHER);
    edited.director.services = [service(5)] as unknown as Service[];
    await Deno.writeTextFile(file(PUBLISHER), JSON.stringify(edited));
    const t0 = Date.now();
    nodes[PUBLISHER].hup();
    const at2 = await reachVersion(nodes, 2, t0, 20_000);
    const spread = Math.max(...at2);
    console.log(`config version 2 on all ${N} nodes after ${spread} ms (per node: ${at2.join(", ")} ms)`);
    assert.ok(spread < 10_000, `all nodes adopt within seconds (took ${spread} ms)`);
    for (let i = 0; i < N; i++) {
      const f = await readFile(i);
      assert.equal(f.director.services[0].reals[0].weight, 5, `n${i} runs the new weight`);
      assert.equal(f.cluster.nodeName, `n${i}`, `n${i} keeps its name`);
      assert.equal(f.cluster.gossipListen, `127.0.0.1:${gossip[i]}`, `n${i} keeps its gossip address`);
      assert.deepEqual(f.cluster.peers, i === 0 ? undefined : [`127.0.0.1:${gossip[0]}`], `n${i} keeps its seeds`);
      assert.equal(f.admin.listen, `127.0.0.1:${19_000 + i}`, `n${i} keeps its admin address`);
      assert.equal(f.director.vipMode, i === REFUSER ? "nft" : undefined, `n${i} keeps its VIP set-up`);
    }

    // 2. A config the REFUSER cannot run: director HA needs vipMode arp, and it has nft.
    const ha = await readFile(PUBLISHER);
    ha.director = { ...ha.director, ha: { mode: "active-backup" }, services: [service(6)] as unknown as Service[] };
    await Deno.writeTextFile(file(PUBLISHER), JSON.stringify(ha));
    const t1 = Date.now();
    nodes[PUBLISHER].hup();
    const others = nodes.filter((_, i) => i !== REFUSER);
    const at3 = await reachVersion(others, 3, t1, 20_000);
    console.log(`config version 3 on the ${N - 1} other nodes after ${Math.max(...at3)} ms`);
    let doc: { members: MemberRecord[] } | undefined;
    for (const end = Date.now() + 10_000; Date.now() < end;) {
      const r = await runWebcache(["members", "--admin", `127.0.0.1:${nodes[0].admin}`, "--json"]);
      assert.equal(r.code, 0, r.stderr);
      doc = JSON.parse(r.stdout);
      if (doc!.members.find((m) => m.name === `n${REFUSER}`)?.configRefused) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const refuser = doc!.members.find((m) => m.name === `n${REFUSER}`)!;
    assert.equal(refuser.configVersion, 2, "the refusing node keeps running version 2");
    assert.equal(refuser.configRefused?.version, 3);
    assert.match(refuser.configRefused!.reason, /director\.ha\.mode.*needs director\.vipMode arp/);
    for (const m of doc!.members.filter((m) => m.name !== `n${REFUSER}`)) {
      assert.equal(m.configVersion, 3, `${m.name} adopted version 3`);
      assert.equal(m.configRefused, undefined);
    }
    const table = await runWebcache(["members", "--admin", `127.0.0.1:${nodes[0].admin}`]);
    assert.match(table.stdout, new RegExp(`^n${REFUSER}\\s.*v2 [0-9a-f]{16} \\* !$`, "m"));
    assert.match(table.stdout, new RegExp(`^! n${REFUSER} refused config v3 [0-9a-f]{16}: .*vipMode`, "m"));

    // It keeps running: it answers, gossips (all ten alive in its view), and its file and version
    // file are still version 2; and it does not retry the refused version in a loop.
    const metric = async () => {
      const text = await (await fetch(`http://127.0.0.1:${nodes[REFUSER].admin}/metrics`)).text();
      return Number(/webcache_cluster_config_syncs_total\{result="refused"\} (\d+)/.exec(text)?.[1] ?? 0);
    };
    assert.equal(await metric(), 1);
    await new Promise((r) => setTimeout(r, 3000));
    assert.equal(await metric(), 1, "one refusal, not one per gossip round");
    assert.equal((await self(nodes[REFUSER]))?.configVersion, 2);
    assert.equal(Object.values(nodes[REFUSER].view).filter((s) => s === "alive").length, N);
    const f = await readFile(REFUSER);
    assert.equal(f.director.services[0].reals[0].weight, 5);
    assert.equal(f.director.ha, undefined);
    const ver = JSON.parse(await Deno.readTextFile(`${file(REFUSER)}.version`));
    assert.equal(ver.version, 2);
  } finally {
    await stopAll(nodes);
    await Deno.remove(dir, { recursive: true });
  }
});
