/**
 * The demo cluster without privileges: everything on 127.0.0.1 with free ports. The origin runs
 * in the demo process; three caches and a director run as webcache processes, each with its own
 * generated appliance.yaml in a temporary folder. The director uses the `proxy` method (a TCP
 * proxy on a local port stands in for the VIP), because DR and TUN need raw sockets and a network
 * the demo can shape, which only root has.
 *
 * The caches are each other's ICP siblings (`cache.peers`), and the director lists them as real
 * servers; health checks are TCP connects so the caches' counters count only client traffic.
 *
 * @module
 */
import { stringify } from "yaml";
import { demoClusterName, type DemoClusterOptions, type DemoNode, writeClusterKey } from "./demo_cluster.ts";
import { freePorts } from "./free_port.ts";
import { cacheConfig, type CacheSpec, type ClusterPlan, directorConfig } from "./node_config.ts";
import { type LoadOptions, type LoadReport, runLoad } from "./load.ts";
import { NodeProcess, waitHealthy } from "./node_process.ts";
import { NodeCluster } from "./node_cluster.ts";
import { DemoOrigin } from "./origin.ts";
import type { DemoMode } from "./summary.ts";

const HOST = "127.0.0.1";

/**
 * Waits until the director reports every real server up (its health checks passed).
 *
 * @param admin director admin `HOST:PORT`
 * @param want number of servers
 * @throws {Error} after `timeoutMs`
 */
export async function waitRealsUp(admin: string, want: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  for (;;) {
    try {
      const res = await fetch(`http://${admin}/director/status`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) {
        const doc = await res.json() as { services: { servers: { up: boolean; key: string }[] }[] };
        const servers = doc.services.flatMap((s) => s.servers);
        const up = servers.filter((s) => s.up).length;
        last = `${up} of ${servers.length} up`;
        if (up >= want) return;
      } else await res.body?.cancel();
    } catch (e) {
      last = (e as Error).message;
    }
    if (Date.now() > deadline) throw new Error(`Director's real servers not healthy within ${timeoutMs} ms (${last})`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A loopback demo cluster; build with {@link LoopbackCluster.start}. */
export class LoopbackCluster extends NodeCluster {
  private constructor(mode: DemoMode, workDir: string, origin: DemoOrigin, vipPort: number) {
    super(mode, workDir, origin, HOST, { hostname: HOST, port: vipPort });
  }

  /**
   * Starts the origin, the caches and the director, and waits until the director sees every cache
   * healthy. On failure everything started so far is stopped and removed.
   *
   * @param mode what to report as the mode (method proxy, network loopback, and why)
   * @param opts sizes and behaviour
   */
  static async start(mode: DemoMode, opts: DemoClusterOptions = {}): Promise<LoopbackCluster> {
    const step = opts.onStep ?? (() => {});
    const workDir = await Deno.makeTempDir({ prefix: "webcache-demo-" });
    const origin = new DemoOrigin({ hostname: HOST, objects: opts.objects ?? 3000, seed: opts.seed ?? 1 }).start();
    const n = opts.caches ?? 3;
    // Per cache: HTTP (and ICP, same number), admin. Director: service, admin.
    // Per node also a gossip port (UDP and TCP) when they find each other by membership.
    const ports = freePorts(2 * n + 2 + (opts.membership ? n + 1 : 0), HOST);
    const gossip = (i: number) => `${HOST}:${ports[2 * n + 2 + i]}`;
    const cluster = new LoopbackCluster(mode, workDir, origin, ports[2 * n]);
    try {
      step(`origin  http://${HOST}:${origin.addr.port} with ${origin.objects} objects`);
      const caches = Array.from({ length: n }, (_, i) => ({
        name: `cache-${i + 1}`,
        http: ports[2 * i],
        admin: ports[2 * i + 1],
      }));
      const logLevel = opts.logLevel ?? "warn";
      const specs: CacheSpec[] = caches.map((c, i) => ({
        name: c.name,
        admin: `${HOST}:${c.admin}`,
        listen: `${HOST}:${c.http}`,
        self: `${HOST}:${c.http}`,
        icpListen: HOST,
        icpPort: c.http,
        gossip: opts.membership ? gossip(i) : undefined,
      }));
      // Membership on loopback: everyone joins through the first cache (multicast discovery would
      // need a multicast route on lo).
      const plan: ClusterPlan = opts.membership
        ? { kind: "membership", name: demoClusterName(), keyFile: await writeClusterKey(workDir), peers: [gossip(0)] }
        : { kind: "static" };
      const peering = opts.peering ?? "icp";
      const starts = caches.map(async (c, i) => {
        const cfg = cacheConfig(specs[i], specs, { originUrl: cluster.originUrl, peering, logLevel, plan });
        const file = `${workDir}/${c.name}.yaml`;
        await Deno.writeTextFile(file, stringify(cfg));
        const proc = await NodeProcess.spawn({
          name: c.name,
          args: ["cache", "--config", file],
          logFile: `${workDir}/${c.name}.log`,
        });
        const node: DemoNode = {
          name: c.name,
          role: "cache",
          admin: `${HOST}:${c.admin}`,
          http: `${HOST}:${c.http}`,
          icpPort: c.http,
          proc,
        };
        cluster.nodes.push(node);
        await waitHealthy(node.admin, { proc });
        step(`${c.name} http://${node.http} (ICP udp/${c.http}, admin ${node.admin})`);
      });
      await Promise.all(starts);
      const dirAdmin = ports[2 * n + 1];
      const dcfg = directorConfig({
        admin: `${HOST}:${dirAdmin}`,
        vip: HOST,
        port: cluster.vip.port,
        listen: HOST,
        method: "proxy",
        scheduler: opts.scheduler ?? "wlc",
        persistenceS: opts.persistenceS ?? 0,
        reals: specs.map((c) => c.self),
        gossip: opts.membership ? gossip(n) : undefined,
      }, { logLevel, plan });
      const dfile = `${workDir}/director-1.yaml`;
      await Deno.writeTextFile(dfile, stringify(dcfg));
      const dproc = await NodeProcess.spawn({
        name: "director-1",
        args: ["director", "--config", dfile],
        logFile: `${workDir}/director-1.log`,
      });
      const director: DemoNode = { name: "director-1", role: "director", admin: `${HOST}:${dirAdmin}`, proc: dproc };
      cluster.nodes.unshift(director);
      await waitHealthy(director.admin, { proc: dproc });
      await waitRealsUp(director.admin, n);
      step(
        `director-1 proxy ${HOST}:${cluster.vip.port} -> ${n} caches (${
          opts.scheduler ?? "wlc"
        }), admin ${director.admin}`,
      );
      return cluster;
    } catch (e) {
      throw await cluster.failed(e);
    }
  }

  /** Runs the load against the director's proxy port. */
  runLoad(opts: Omit<LoadOptions, "target">): Promise<LoadReport> {
    return runLoad({ ...opts, target: this.vip });
  }
}
