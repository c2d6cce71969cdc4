/**
 * `webcache demo` from start to end: choose the mode, start the cluster, serve a dashboard for it,
 * drive the Zipf load through the VIP with a progress bar, print the summary, stay up until Ctrl-C
 * (or `durationS`, or not at all with `once`), then remove everything it made.
 *
 * @module
 */
import { AdminServer } from "../admin/server.ts";
import { registerDashboard } from "../admin/dashboard.ts";
import { printErr, printOut } from "../core/log.ts";
import { ClusterAggregator } from "../status/aggregator.ts";
import type { ClusterStatus } from "../status/cluster_status.ts";
import type { DemoCluster, DemoClusterOptions } from "./demo_cluster.ts";
import { freeTcpPort } from "./free_port.ts";
import { LoopbackCluster } from "./loopback_cluster.ts";
import { NetnsCluster } from "./netns_cluster.ts";
import { ProgressBar } from "./progress.ts";
import { buildSummary, type DemoMode, type DemoSummary, renderSummary } from "./summary.ts";

/** Options of {@link runDemo}. */
export interface DemoOptions extends DemoClusterOptions {
  /** Forwarding method; default dr as root (network namespaces), else proxy on loopback. */
  method?: "proxy" | "dr" | "tun";
  /** Client requests to send; default 10,000 (ends earlier at `loadSeconds`). */
  requests?: number;
  /** Upper bound of the load phase in seconds; default 60. */
  loadSeconds?: number;
  /** Requests in flight; default 16. */
  concurrency?: number;
  /** Zipf exponent; default 0.8. */
  zipf?: number;
  /** Print the summary as JSON (with the nodes' addresses) instead of text. */
  json?: boolean;
  /** Exit right after the summary. */
  once?: boolean;
  /** Stay up this many seconds after the summary, then exit (default: until Ctrl-C). */
  durationS?: number;
  /** Whether this process runs as root; default from the effective uid. */
  root?: boolean;
}

/** What `--json` prints. */
export interface DemoJson {
  /** The summary. */
  summary: DemoSummary;
  /** Where each node's admin endpoint is, for checking the summary against them. */
  nodes: { name: string; role: string; admin: string; http?: string; pid: number }[];
  /** The folder with configs and logs (removed when the demo ends). */
  workDir: string;
  /** Namespaced mode: the prefix of every namespace and link it made. */
  netnsPrefix?: string;
  /** Base URL of the origin. */
  originUrl: string;
  /** `HOST:PORT` clients used. */
  vip: string;
  /** URL of the demo's dashboard. */
  dashboard: string;
  /** `--directors 2`: the MASTER crashed mid-load and who took over how fast. */
  takeover?: { killed: string; master: string; takeoverMs: number; atRequest: number };
}

/**
 * Decides the demo's mode (pure).
 *
 * @param requested the `--method` flag
 * @param env whether the process runs as root, and whether `ip netns` works here
 * @returns the mode, or an error message when the request cannot be met
 */
export function chooseMode(
  requested: DemoOptions["method"],
  env: { root: boolean; netns: boolean },
): DemoMode | { error: string } {
  if (requested === "dr" || requested === "tun") {
    if (!env.root) {
      return {
        error: `--method ${requested} needs root (network namespaces, raw sockets); without root use --method proxy`,
      };
    }
    if (!env.netns) {
      return { error: `--method ${requested} needs network namespaces ('ip netns' from iproute2), which fail here` };
    }
    return {
      method: requested,
      network: "netns",
      reason: `--method ${requested} asked for; the director and caches run in network namespaces`,
    };
  }
  if (requested === "proxy") return { method: "proxy", network: "loopback", reason: "--method proxy asked for" };
  if (env.root && env.netns) {
    return {
      method: "dr",
      network: "netns",
      reason: "running as root, so the director and caches run in network namespaces and the caches answer " +
        "clients directly (--method tun for IP-in-IP, --method proxy for loopback)",
    };
  }
  return {
    method: "proxy",
    network: "loopback",
    reason: env.root
      ? "running as root, but 'ip netns' does not work here (is iproute2 installed?), so everything runs on " +
        "127.0.0.1 and the director proxies TCP"
      : "not running as root: DR/TUN need network namespaces and raw sockets, so everything runs on " +
        "127.0.0.1 and the director proxies TCP",
  };
}

async function netnsWorks(): Promise<boolean> {
  try {
    const out = await new Deno.Command("ip", { args: ["netns", "list"], stdout: "null", stderr: "null" }).output();
    return out.success;
  } catch {
    return false;
  }
}

function directorConnections(doc: ClusterStatus): number {
  return doc.members.reduce(
    (n, m) =>
      n + (m.director?.services ?? []).reduce((k, s) => k + s.servers.reduce((j, r) => j + r.connections, 0), 0),
    0,
  );
}

/**
 * Samples until the director's connection counters reach `want.connections` and the caches'
 * request counters have grown by `want.requests`, or both stay unchanged for three seconds (at
 * most 12 s): the DR/TUN data plane reports its counters to the director's main thread about once
 * a second, and each cache worker its counters to its main thread once a second, later when the
 * machine is busy.
 */
async function settled(
  sampler: ClusterAggregator,
  before: ClusterStatus,
  want: { connections: number; requests: number },
): Promise<ClusterStatus> {
  const short = (d: ClusterStatus) =>
    directorConnections(d) < want.connections || d.totals.requests - before.totals.requests < want.requests;
  let doc = await sampler.collect();
  let still = 0;
  for (let i = 0; i < 12 && short(doc) && still < 3; i++) {
    await new Promise((r) => setTimeout(r, 1000));
    const next = await sampler.collect();
    const same = directorConnections(next) === directorConnections(doc) &&
      next.totals.requests === doc.totals.requests;
    still = same ? still + 1 : 0;
    doc = next;
  }
  return doc;
}

function isRoot(): boolean {
  try {
    return Deno.uid() === 0;
  } catch {
    return false;
  }
}

const encoder = new TextEncoder();

/**
 * Runs the demo.
 *
 * @param opts see {@link DemoOptions}
 * @returns the exit status (0 ok, 1 failure, 2 bad usage)
 */
export async function runDemo(opts: DemoOptions = {}): Promise<number> {
  // In JSON mode stdout carries only the document; people's messages go to stderr.
  const say = opts.json ? printErr : printOut;
  const root = opts.root ?? isRoot();
  const mode = chooseMode(opts.method, { root, netns: root && await netnsWorks() });
  if ("error" in mode) {
    printErr(mode.error);
    return 2;
  }
  if ((opts.directors ?? 1) > 1 && mode.network !== "netns") {
    printErr(
      "--directors 2: director HA needs --method dr or tun (root, network namespaces); it cannot run on loopback",
    );
    return 2;
  }
  say(`webcache demo: ${mode.method.toUpperCase()} forwarding on ${mode.network}: ${mode.reason}.`);
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  Deno.addSignalListener("SIGINT", onSignal);
  Deno.addSignalListener("SIGTERM", onSignal);
  let cluster: DemoCluster | undefined;
  let dashboard: AdminServer | undefined;
  let poller: ReturnType<typeof setInterval> | undefined;
  try {
    const clusterOpts = { ...opts, membership: opts.membership ?? true, onStep: (m: string) => say(`  started ${m}`) };
    if (clusterOpts.membership) {
      say(
        mode.network === "netns"
          ? "  the caches and the director find each other by gossip (cluster.peers: auto, a fresh key)"
          : "  the nodes find each other by gossip (seed: cache-1; multicast discovery needs a route on lo)",
      );
    }
    cluster = mode.network === "netns"
      ? await NetnsCluster.start(mode, clusterOpts)
      : await LoopbackCluster.start(mode, clusterOpts);
    if (stop.signal.aborted) return 130;
    // Asked on every collection, so a node that exits shows as dead.
    const running = cluster;
    const members = () => Promise.resolve(running.members());
    // A dashboard for the whole demo cluster, served by the demo process on its own admin port.
    dashboard = new AdminServer({
      hostname: "127.0.0.1",
      port: freeTcpPort(),
      allow: ["127.0.0.0/8", "::1/128"],
      node: "demo",
      role: "demo",
    });
    const live = registerDashboard(dashboard, { node: "demo", members });
    dashboard.start();
    const dashboardUrl = `http://127.0.0.1:${dashboard.addr.port}/dashboard`;
    // Sample every 2 s so the charts have history from the start.
    poller = setInterval(() => live.collect().catch(() => {}), 2000);
    say(`  dashboard ${dashboardUrl}`);

    const sampler = new ClusterAggregator({ members, minIntervalMs: 0 });
    const before = await sampler.collect();
    const originBefore = await cluster.originStats();
    const requests = opts.requests ?? 10_000;
    say(
      `\nLoad: ${requests.toLocaleString("en-US")} requests for ${(opts.objects ?? 3000).toLocaleString("en-US")} ` +
        `objects (Zipf s=${opts.zipf ?? 0.8}), ${opts.concurrency ?? 16} at a time, each on a new connection to ` +
        `${cluster.vip.hostname}:${cluster.vip.port}`,
    );
    const bar = new ProgressBar({
      label: "load",
      tty: opts.json ? Deno.stderr.isTerminal() : Deno.stdout.isTerminal(),
      write: opts.json ? (t) => Deno.stderr.writeSync(encoder.encode(t)) : undefined,
    });
    const detail = (p: { done: number; hits: number; errors: number; elapsedMs: number }) =>
      `${p.done.toLocaleString("en-US")}/${requests.toLocaleString("en-US")}  ` +
      `${Math.round(p.done / Math.max(0.001, p.elapsedMs / 1000))} req/s  ` +
      `hit ${p.done ? ((p.hits / p.done) * 100).toFixed(1) : "0.0"}%` + (p.errors ? `  ${p.errors} errors` : "");
    let last = { done: 0, hits: 0, errors: 0, elapsedMs: 0, fraction: 0 };
    // --directors 2: crash the MASTER director a third of the way through; the BACKUP takes the VIP over.
    let takeover: DemoJson["takeover"];
    let takeoverRun: Promise<void> | undefined;
    const ha = cluster instanceof NetnsCluster && (opts.directors ?? 1) > 1 ? cluster : undefined;
    if (ha) say("  a third of the way through, the MASTER director is killed (SIGKILL): watch the takeover");
    const load = await cluster.runLoad({
      objects: opts.objects ?? 3000,
      exponent: opts.zipf ?? 0.8,
      seed: opts.seed ?? 1,
      requests,
      durationMs: (opts.loadSeconds ?? 60) * 1000,
      concurrency: opts.concurrency ?? 16,
      signal: stop.signal,
      onProgress: (p) => {
        last = p;
        bar.update(p.fraction, detail(p));
        if (ha && !takeoverRun && p.fraction >= 1 / 3) {
          const atRequest = p.done;
          takeoverRun = ha.killMaster().then((t) => {
            takeover = { ...t, atRequest };
            say(
              `\n  takeover: ${t.killed} (MASTER) killed at request ${atRequest.toLocaleString("en-US")}; ` +
                `${t.master} is MASTER ${t.takeoverMs} ms later and forwards for the VIP (errors so far: ${last.errors})`,
            );
          }, (e) => say(`\n  takeover failed: ${(e as Error).message}`));
        }
      },
    });
    await takeoverRun;
    bar.done(last.fraction, detail(last));
    // The director's data plane and the caches' workers hand their counters to their main
    // threads every second or so: wait until they stop moving, so the summary counts everything.
    const after = await settled(sampler, before, {
      connections: load.requests - (load.errors.refused ?? 0),
      requests: load.responses,
    });
    const originAfter = await cluster.originStats();
    const summary = buildSummary({ mode, load, before, after, originBefore, originAfter }, {
      cacheAddress: (name) => cluster?.nodes.find((n) => n.name === name)?.http,
    });
    if (opts.json) {
      const doc: DemoJson = {
        summary,
        nodes: cluster.nodes.map((n) => ({
          name: n.name,
          role: n.role,
          admin: n.admin,
          http: n.http,
          pid: n.proc.pid,
        })),
        workDir: cluster.workDir,
        netnsPrefix: cluster instanceof NetnsCluster ? cluster.prefix : undefined,
        originUrl: cluster.originUrl,
        vip: `${cluster.vip.hostname}:${cluster.vip.port}`,
        dashboard: dashboardUrl,
        takeover,
      };
      printOut(JSON.stringify(doc));
    } else {
      printOut("\n" + renderSummary(summary));
      if (takeover) {
        printOut(
          `Director takeover: ${takeover.killed} killed at request ${takeover.atRequest}, ${takeover.master} MASTER ` +
            `after ${takeover.takeoverMs} ms; ${
              Object.values(load.errors).reduce((a, b) => a + b, 0)
            } requests failed in the whole run.`,
        );
      }
    }
    if (!opts.once && !stop.signal.aborted) {
      const director = cluster.nodes.find((n) => n.role === "director" && !n.proc.exited);
      say(
        `\nThe cluster stays up ${opts.durationS !== undefined ? `for ${opts.durationS} s` : "until Ctrl-C"}. Try:\n` +
          `  open ${dashboardUrl}\n` +
          `  curl -si http://${cluster.vip.hostname}:${cluster.vip.port}/obj/1 | grep -i x-cache\n` +
          `  webcache status --admin 127.0.0.1:${dashboard.addr.port}      (the whole cluster, as the dashboard sees it)\n` +
          (director ? `  webcache director status --stats --admin ${director.admin}\n` : ""),
      );
      await new Promise<void>((resolve) => {
        const t = opts.durationS !== undefined ? setTimeout(resolve, opts.durationS * 1000) : undefined;
        stop.signal.addEventListener("abort", () => {
          clearTimeout(t);
          resolve();
        }, { once: true });
      });
    }
    return 0;
  } catch (e) {
    printErr(`webcache demo failed: ${(e as Error).message}`);
    return 1;
  } finally {
    clearInterval(poller);
    Deno.removeSignalListener("SIGINT", onSignal);
    Deno.removeSignalListener("SIGTERM", onSignal);
    if (cluster) say("Stopping the cluster and removing what the demo made...");
    await dashboard?.stop();
    await cluster?.stop();
    if (cluster) say(`Removed ${cluster.workDir} and stopped ${cluster.nodes.length} nodes and the origin.`);
  }
}
