/**
 * `deno task bench:cluster`: simulates SWIM + Lifeguard clusters of 10, 100, 500 and 1,000 nodes on
 * an in-memory network with 0 %, 5 % and 20 % datagram loss, using the default timing of
 * `config/cluster_schema.ts` (memberlist's LAN profile: probe 1 s, ack timeout 500 ms, 3 indirect
 * probes, suspicionMult 4, suspicionMaxTimeoutMult 6, retransmitMult 4, gossip 200 ms × 3; and
 * suspectAfterProbes 2).
 *
 * For each case it joins all nodes, lets the cluster run for `WARM_S` simulated seconds, then
 * `QUIET_S` more (the false-death window, `--quiet`, default 600 s; one trial), kills one node (no
 * leave), and measures:
 * - join: time until every node sees every other alive;
 * - convergence: time until every live node marks the killed node dead;
 * - false deaths: deaths declared about nodes that were running, after the join, and their rate per
 *   simulated hour of running cluster;
 * - suspect events: times any node learned a suspicion about a running node (refuted, but they
 *   cost traffic and show how close the cluster came to a false death).
 * Beside them it prints memberlist's suspicion bounds for n: min = mult × log10(n) × interval and
 * max = maxMult × min (the time from first suspicion to death without / with no confirmations).
 *
 * Usage: `deno run -A bench/cluster_sim.ts [--trials N] [--sizes 10,100,500] [--loss 0,0.05,0.2]`
 *
 * @module
 */
import { SimCluster } from "../cluster/sim/sim_cluster.ts";
import { suspicionTimeoutMs } from "../cluster/suspicion.ts";
import type { SwimOptions } from "../cluster/swim.ts";
import { ClusterSchema } from "../config/cluster_schema.ts";
import { printOut } from "../core/log.ts";

const arg = (name: string, def: string) => {
  const i = Deno.args.indexOf(`--${name}`);
  return i >= 0 ? Deno.args[i + 1] : def;
};
const TRIALS = Number(arg("trials", "3"));
const SIZES = arg("sizes", "10,100,500,1000").split(",").map(Number);
const LOSSES = arg("loss", "0,0.05,0.2").split(",").map(Number);
const WARM_S = Number(arg("warm", "30"));
const AFTER_S = 30;
const QUIET_S = Number(arg("quiet", "600"));

const d = ClusterSchema.parse({});
const opts: SwimOptions = {
  probeIntervalMs: d.probeIntervalMs,
  probeTimeoutMs: d.probeTimeoutMs,
  indirectProbes: d.indirectProbes,
  suspectAfterProbes: d.suspectAfterProbes,
  suspicionMult: d.suspicionMult,
  suspicionMaxTimeoutMult: d.suspicionMaxTimeoutMult,
  retransmitMult: d.retransmitMult,
  gossipIntervalMs: d.gossipIntervalMs,
  gossipNodes: d.gossipNodes,
  pushPullIntervalMs: d.pushPullIntervalMs,
  deadReclaimMs: d.deadReclaimMs,
};

interface Row {
  n: number;
  loss: number;
  conv: number[];
  failed: number;
  joinMs: number[];
  /** False deaths after the join, and the simulated seconds they were counted over. */
  falseDeaths: number;
  countedS: number;
  joinFalseDeaths: number;
  falseSuspicions: number;
  simS: number;
  cpuMs: number;
  packets: number;
}

const fmtS = (ms: number) => (ms / 1000).toFixed(1);
const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? s[Math.floor((s.length - 1) / 2)] : NaN;
};

const rows: Row[] = [];
for (const n of SIZES) {
  for (const loss of LOSSES) {
    const row: Row = {
      n,
      loss,
      conv: [],
      failed: 0,
      joinMs: [],
      falseDeaths: 0,
      countedS: 0,
      joinFalseDeaths: 0,
      falseSuspicions: 0,
      simS: 0,
      cpuMs: 0,
      packets: 0,
    };
    for (let t = 0; t < TRIALS; t++) {
      const cpu = performance.now();
      const c = new SimCluster({ n, loss, swim: opts, seed: 1000 * t + n + Math.round(loss * 100) });
      row.joinMs.push(c.joinAll(600_000));
      const joinDeaths = c.falseDeaths;
      const counted = c.clock.now();
      c.clock.advance(WARM_S * 1000);
      if (t === 0) c.clock.advance(QUIET_S * 1000);
      const victim = c.kill(1 + Math.floor(c.random() * (n - 1)));
      const ms = c.runUntilDead(victim, 300_000);
      if (ms === undefined) row.failed++;
      else row.conv.push(ms);
      c.clock.advance(AFTER_S * 1000);
      c.stop();
      row.joinFalseDeaths += joinDeaths;
      row.falseDeaths += c.falseDeaths - joinDeaths;
      row.countedS += (c.clock.now() - counted) / 1000;
      row.falseSuspicions += c.falseSuspicions;
      row.simS += c.clock.now() / 1000;
      row.cpuMs += performance.now() - cpu;
      row.packets += c.net.stats.packets;
    }
    rows.push(row);
    const minS = suspicionTimeoutMs(n, { mult: opts.suspicionMult, probeIntervalMs: opts.probeIntervalMs });
    printOut(
      `n=${n} loss=${loss * 100}%: convergence median ${fmtS(median(row.conv))} s ` +
        `(max ${fmtS(Math.max(...row.conv))} s, ${row.failed} not converged), join ${fmtS(median(row.joinMs))} s, ` +
        `false deaths ${row.falseDeaths} in ${
          row.countedS.toFixed(0)
        } sim-s (+${row.joinFalseDeaths} while joining), ` +
        `suspect events ${row.falseSuspicions}, memberlist suspicion ${fmtS(minS)}-${
          fmtS(opts.suspicionMaxTimeoutMult * minS)
        } s, ` +
        `${row.simS.toFixed(0)} sim-s in ${(row.cpuMs / 1000).toFixed(1)} CPU-s`,
    );
  }
}

printOut("");
printOut(`Failure convergence, ${TRIALS} trial(s) per cell, default timing (probe ${opts.probeIntervalMs} ms):`);
printOut("");
printOut(
  "| nodes | loss | join | convergence median (max) | not converged | false deaths (per sim hour) | " +
    "suspect events (live nodes) | memberlist bound: suspicion min–max | + probe + gossip |",
);
printOut(
  "|------:|-----:|-----:|-------------------------:|--------------:|-------------:|-----------------:|------:|------:|",
);
for (const r of rows) {
  const minS = suspicionTimeoutMs(r.n, { mult: opts.suspicionMult, probeIntervalMs: opts.probeIntervalMs });
  const maxS = opts.suspicionMaxTimeoutMult * minS;
  printOut(
    `| ${r.n} | ${r.loss * 100}% | ${fmtS(median(r.joinMs))} s | ${fmtS(median(r.conv))} s (${
      fmtS(Math.max(...r.conv))
    } s) | ${r.failed} | ` +
      `${r.falseDeaths} in ${(r.countedS / 3600).toFixed(2)} h (${
        (r.falseDeaths / (r.countedS / 3600)).toFixed(1)
      }/h)` +
      `${r.joinFalseDeaths ? `, +${r.joinFalseDeaths} joining` : ""} | ${r.falseSuspicions} | ${fmtS(minS)}–${
        fmtS(maxS)
      } s | ` +
      `≤ ${fmtS(maxS + opts.probeIntervalMs + 1000)} s |`,
  );
}

// Lifeguard: one overloaded node that reads its socket 1.25 probe intervals late, with and
// without local health awareness (awarenessMax 1 disables it), no loss, 120 simulated seconds.
if (!Deno.args.includes("--no-lifeguard")) {
  printOut("");
  printOut("Lifeguard local health awareness: one node reads its socket 1.25 × probe interval late, 120 s:");
  printOut("");
  printOut("| nodes | awareness | suspicions raised by the slow node | false deaths (any node) |");
  printOut("|------:|----------:|-----------------------------------:|------------------------:|");
  for (const n of SIZES.filter((x) => x <= 100)) {
    for (const awarenessMax of [1, 8]) {
      const c = new SimCluster({ n, loss: 0, swim: { ...opts, awarenessMax }, seed: 99 });
      c.joinAll(300_000);
      c.net.slow(c.nodes[1].addr, 1.25 * opts.probeIntervalMs);
      c.clock.advance(120_000);
      c.stop();
      printOut(
        `| ${n} | ${awarenessMax === 1 ? "off" : "on (max 8)"} | ${c.accusations.get("n1") ?? 0} | ${c.falseDeaths} |`,
      );
    }
  }
}
