/**
 * The demo cluster as root: a director and three caches, each in its own network namespace on one
 * bridge ({@link NetnsTopology}), with DR (or TUN) forwarding, so the caches answer clients
 * directly and the director only sees client-to-VIP packets. The origin, the client load and the
 * dashboard run in the demo process, on the root namespace's address on the bridge.
 *
 * Each cache runs `webcache cache --vip VIP --forwarding dr|tun`, which puts the VIP on its
 * loopback with arp_ignore/arp_announce (and, for TUN, decapsulates IP-in-IP); the director runs
 * `webcache director` with the service's method and `director.interface: eth0`, answering ARP for
 * the VIP from user space.
 *
 * @module
 */
import { stringify } from "yaml";
import { demoClusterName, type DemoClusterOptions, type DemoNode, writeClusterKey } from "./demo_cluster.ts";
import { freeTcpPort } from "./free_port.ts";
import { cacheConfig, type CacheSpec, type ClusterPlan, directorConfig } from "./node_config.ts";
import { type LoadOptions, type LoadReport, runLoad } from "./load.ts";
import { waitRealsUp } from "./loopback_cluster.ts";
import { NetnsTopology, type NsHost } from "./netns_topology.ts";
import { NodeProcess, waitHealthy } from "./node_process.ts";
import { NodeCluster } from "./node_cluster.ts";
import { DemoOrigin } from "./origin.ts";
import type { DemoMode } from "./summary.ts";

const HTTP_PORT = 80;
const ICP_PORT = 3130;
const ADMIN_PORT = 9090;

/** A namespaced demo cluster; build with {@link NetnsCluster.start}. */
export class NetnsCluster extends NodeCluster {
  readonly #topo: NetnsTopology;

  private constructor(mode: DemoMode, workDir: string, topo: NetnsTopology, origin: DemoOrigin) {
    super(mode, workDir, origin, topo.hostIp, { hostname: `${topo.net}.100`, port: HTTP_PORT });
    this.#topo = topo;
  }

  /** Prefix of the namespaces and links it made. */
  get prefix(): string {
    return this.#topo.prefix;
  }

  /**
   * Builds the network, starts the origin, caches and director, and waits until the director sees
   * every cache healthy. On failure everything made so far is removed.
   *
   * @param mode method dr or tun, network netns
   * @param opts sizes and behaviour
   */
  static async start(mode: DemoMode, opts: DemoClusterOptions = {}): Promise<NetnsCluster> {
    if (mode.method === "proxy") throw new TypeError("Cannot build a namespaced demo for the proxy method");
    const step = opts.onStep ?? (() => {});
    const workDir = await Deno.makeTempDir({ prefix: "webcache-demo-" });
    let topo: NetnsTopology;
    try {
      topo = await NetnsTopology.create();
    } catch (e) {
      await Deno.remove(workDir, { recursive: true });
      throw e;
    }
    let origin: DemoOrigin;
    try {
      origin = new DemoOrigin({
        hostname: topo.hostIp,
        port: freeTcpPort(topo.hostIp),
        objects: opts.objects ?? 3000,
        seed: opts.seed ?? 1,
      }).start();
    } catch (e) {
      await topo.destroy();
      await Deno.remove(workDir, { recursive: true });
      throw e;
    }
    const cluster = new NetnsCluster(mode, workDir, topo, origin);
    try {
      step(`network ${topo.prefix}-*: bridge ${topo.net}.0/24, this host ${topo.hostIp}, VIP ${cluster.vip.hostname}`);
      step(`origin  ${cluster.originUrl} with ${origin.objects} objects`);
      const n = opts.caches ?? 3;
      const director = await topo.addHost("dir", 2);
      const cacheHosts: NsHost[] = [];
      for (let i = 1; i <= n; i++) cacheHosts.push(await topo.addHost(`c${i}`, 10 + i));
      const logLevel = opts.logLevel ?? "warn";
      // The demo process (on hostIp) and the nodes (asking each other for the cluster view) read
      // the admin endpoints; nobody else may.
      const admin = { listen: `0.0.0.0:${ADMIN_PORT}`, allow: ["127.0.0.0/8", `${topo.net}.0/24`] };
      // Membership in namespaces: --peers auto, multicast discovery on the bridge.
      const plan: ClusterPlan = opts.membership
        ? { kind: "membership", name: demoClusterName(), keyFile: await writeClusterKey(workDir), peers: "auto" }
        : { kind: "static" };
      const peering = opts.peering ?? "icp";
      const specs: CacheSpec[] = cacheHosts.map((h, i) => ({
        name: `cache-${i + 1}`,
        admin: `0.0.0.0:${ADMIN_PORT}`,
        adminAllow: admin.allow,
        listen: `0.0.0.0:${HTTP_PORT}`,
        self: `${h.ip}:${HTTP_PORT}`,
        icpListen: h.ip,
        icpPort: ICP_PORT,
        gossip: `${h.ip}:7946`,
        vip: cluster.vip.hostname,
        forwarding: mode.method as "dr" | "tun",
      }));
      // One after the other: each sets up its VIP (and for TUN a decapsulator Worker) on start.
      for (const [i, h] of cacheHosts.entries()) {
        const name = specs[i].name;
        const cfg = cacheConfig(specs[i], specs, { originUrl: cluster.originUrl, peering, logLevel, plan });
        const file = `${workDir}/${name}.yaml`;
        await Deno.writeTextFile(file, stringify(cfg));
        const args = ["cache", "--config", file];
        if (mode.method === "tun") args.push("--director", director.ip);
        const proc = await NodeProcess.spawn({ name, args, logFile: `${workDir}/${name}.log`, wrap: topo.wrap(h) });
        const node: DemoNode = {
          name,
          role: "cache",
          admin: `${h.ip}:${ADMIN_PORT}`,
          http: `${h.ip}:${HTTP_PORT}`,
          icpPort: ICP_PORT,
          proc,
        };
        cluster.nodes.push(node);
        await waitHealthy(node.admin, { proc });
        step(`${name} ${h.ip}:${HTTP_PORT} in ${h.ns}, VIP on lo (${mode.method}), ICP udp/${ICP_PORT}`);
      }
      const dcfg = directorConfig({
        admin: `0.0.0.0:${ADMIN_PORT}`,
        adminAllow: admin.allow,
        gossip: `${director.ip}:7946`,
        ip: director.ip,
        vip: cluster.vip.hostname,
        port: HTTP_PORT,
        method: mode.method,
        interface: "eth0",
        scheduler: opts.scheduler ?? "wlc",
        persistenceS: opts.persistenceS ?? 0,
        // Static plan only: with membership the director takes the live caches (and their MACs) as
        // real servers from gossip.
        reals: specs.map((c) => c.self),
      }, { logLevel, plan });
      const dfile = `${workDir}/director-1.yaml`;
      await Deno.writeTextFile(dfile, stringify(dcfg));
      const dproc = await NodeProcess.spawn({
        name: "director-1",
        args: ["director", "--config", dfile],
        logFile: `${workDir}/director-1.log`,
        wrap: topo.wrap(director),
      });
      const dnode: DemoNode = {
        name: "director-1",
        role: "director",
        admin: `${director.ip}:${ADMIN_PORT}`,
        proc: dproc,
      };
      cluster.nodes.unshift(dnode);
      await waitHealthy(dnode.admin, { proc: dproc });
      await waitRealsUp(dnode.admin, n);
      step(
        `director-1 ${director.ip} in ${director.ns}: ${cluster.vip.hostname}:${HTTP_PORT} -> ${n} caches ` +
          `(${mode.method.toUpperCase()}, ${opts.scheduler ?? "wlc"})`,
      );
      return cluster;
    } catch (e) {
      throw await cluster.failed(e);
    }
  }

  /** Runs the load from this host to the VIP. */
  runLoad(opts: Omit<LoadOptions, "target">): Promise<LoadReport> {
    return runLoad({ ...opts, target: this.vip, host: this.vip.hostname });
  }

  /** Deletes the network (after the caches undid their VIP set-up). */
  protected override cleanup(): Promise<void> {
    return this.#topo.destroy();
  }
}
