/**
 * `deno run -A bench/gossip_processes.ts [--nodes 50] [--kill 5]`: the membership layer as real
 * processes on 127.0.0.1. Starts N gossip-only nodes (`tests/integration/_gossip_node.ts`: a
 * {@link Membership} with its admin endpoint, over real UDP/TCP with the cluster key) with the
 * default timing of `config/cluster_schema.ts`, waits until every node sees every other alive,
 * reads each process's resident memory, kills K of them with SIGKILL (no leave), and measures how
 * long until every survivor marks every victim dead, beside memberlist's bound for N
 * (suspicion min–max = suspicionMult × log10(N) × probe interval × [1, suspicionMaxTimeoutMult],
 * plus a probe interval per `suspectAfterProbes` round and gossip).
 *
 * @module
 */
import { randomKey, startNode, stopAll, until } from "../tests/integration/_cluster_harness.ts";
import type { NodeProc } from "../tests/integration/_cluster_harness.ts";
import { suspicionTimeoutMs } from "../cluster/suspicion.ts";
import { ClusterSchema } from "../config/cluster_schema.ts";
import { printOut } from "../core/log.ts";

const arg = (name: string, def: string) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : def;
};
const N = Number(arg("nodes", "50"));
const K = Number(arg("kill", "5"));
const d = ClusterSchema.parse({});
const key = randomKey();
const timing = {
  probeIntervalMs: d.probeIntervalMs,
  probeTimeoutMs: d.probeTimeoutMs,
  indirectProbes: d.indirectProbes,
  suspectAfterProbes: d.suspectAfterProbes,
  suspicionMult: d.suspicionMult,
  suspicionMaxTimeoutMult: d.suspicionMaxTimeoutMult,
  gossipIntervalMs: d.gossipIntervalMs,
  pushPullIntervalMs: d.pushPullIntervalMs,
};

function rssKiB(pid: number): number {
  const status = Deno.readTextFileSync(`/proc/${pid}/status`);
  return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
}

const pct = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * (s.length - 1)))];
};

const nodes: NodeProc[] = [];
try {
  const t0 = performance.now();
  nodes.push(await startNode({ name: "g0", key, cluster: { ...timing, name: "bench", peers: [] } }));
  const seed = `127.0.0.1:${nodes[0].gossip}`;
  const started = await Promise.all(
    Array.from(
      { length: N - 1 },
      (_, i) => startNode({ name: `g${i + 1}`, key, cluster: { ...timing, name: "bench", peers: [seed] } }),
    ),
  );
  nodes.push(...started);
  const allAlive = (n: NodeProc) => Object.values(n.view).filter((s) => s === "alive").length >= N;
  const joinMs = await until(`all ${N} nodes see ${N} alive`, () => nodes.every(allAlive), 180_000);
  printOut(
    `${N} processes started in ${((performance.now() - t0) / 1000).toFixed(1)} s; all see all alive ${
      (joinMs / 1000).toFixed(1)
    } s later`,
  );
  await new Promise((r) => setTimeout(r, 10_000)); // settle, then read memory
  const rss = nodes.map((n) => rssKiB(n.proc.pid) / 1024);
  printOut(`resident memory per node: median ${pct(rss, 0.5).toFixed(1)} MiB, max ${pct(rss, 1).toFixed(1)} MiB`);

  const victims = nodes.slice(1).sort(() => Math.random() - 0.5).slice(0, K);
  const survivors = nodes.filter((n) => !victims.includes(n));
  const killedAt = performance.now();
  for (const v of victims) v.kill();
  const seenDead = new Map<string, number>();
  await until(`every survivor marks the ${K} victims dead`, () => {
    for (const v of victims) {
      if (seenDead.has(v.name)) continue;
      if (survivors.every((s) => s.view[v.name] === "dead" || s.view[v.name] === undefined)) {
        seenDead.set(v.name, performance.now() - killedAt);
      }
    }
    return seenDead.size === K;
  }, 180_000);
  const minMs = suspicionTimeoutMs(N, { mult: timing.suspicionMult, probeIntervalMs: timing.probeIntervalMs });
  const times = [...seenDead.values()];
  printOut(
    `kill -9 of ${K}: all ${survivors.length} survivors agree after median ${(pct(times, 0.5) / 1000).toFixed(1)} s, ` +
      `max ${(pct(times, 1) / 1000).toFixed(1)} s; memberlist bound: suspicion ${(minMs / 1000).toFixed(1)}–${
        (timing.suspicionMaxTimeoutMult * minMs / 1000).toFixed(1)
      } s (+ ${timing.suspectAfterProbes} probe interval(s) and gossip)`,
  );
  const falseDeaths = survivors.flatMap((s) =>
    survivors.filter((o) => o !== s && s.view[o.name] === "dead").map((o) => `${s.name}→${o.name}`)
  );
  printOut(
    `false deaths among survivors: ${falseDeaths.length}${falseDeaths.length ? ` (${falseDeaths.join(", ")})` : ""}`,
  );
} finally {
  await stopAll(nodes);
}
