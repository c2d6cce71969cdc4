/**
 * The demo cluster as root: one or two directors and three caches, each in its own network namespace on one
 * bridge ({@link NetnsTopology}), with DR (or TUN) forwarding, so the caches answer clients
 * directly and the director only sees client-to-VIP packets. The origin, the client load and the
 * dashboard run in the demo process, on the root namespace's address on the bridge.
 *
 * Each cache runs `webcache cache --vip VIP --forwarding dr|tun`, which puts the VIP on its
 * loopback with arp_ignore/arp_announce (and, for TUN, decapsulates IP-in-IP); the director runs
 * `webcache director` with the service's method and `director.interface: eth0`, answering ARP for
 * the VIP from user space. With `directors: 2` a second director (NET.3) runs director HA active-backup with
 * the first: director-1 MASTER, director-2 BACKUP with connection sync; {@link NetnsCluster.killMaster} crashes
 * the MASTER to show the takeover.
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
        // TUN: the caches accept IP-in-IP from every director (director-2 is .3).
        if (mode.method === "tun") {
          args.push("--director", director.ip);
          if ((opts.directors ?? 1) > 1) args.push("--director", `${topo.net}.3`);
        }
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
      const count = opts.directors ?? 1;
      const haKey = count > 1 ? (plan.kind === "membership" ? plan.keyFile : await writeClusterKey(workDir)) : "";
      const directorHosts = [director];
      if (count > 1) directorHosts.push(await topo.addHost("dir2", 3));
      for (const [i, host] of directorHosts.entries()) {
        const name = `director-${i + 1}`;
        const peer = directorHosts[1 - i];
        const dcfg = directorConfig({
          name,
          admin: `0.0.0.0:${ADMIN_PORT}`,
          adminAllow: admin.allow,
          gossip: `${host.ip}:7946`,
          ip: host.ip,
          vip: cluster.vip.hostname,
          port: HTTP_PORT,
          method: mode.method,
          interface: "eth0",
          scheduler: opts.scheduler ?? "wlc",
          persistenceS: opts.persistenceS ?? 0,
          // Static plan only: with membership the director takes the live caches (and their MACs) as
          // real servers from gossip.
          reals: specs.map((c) => c.self),
          // Two directors: director-1 first (priority 200) becomes MASTER, director-2 its BACKUP.
          ...(peer ? { ha: { priority: i === 0 ? 200 : 100, peer: peer.ip, keyFile: haKey } } : {}),
        }, { logLevel, plan });
        const dfile = `${workDir}/${name}.yaml`;
        await Deno.writeTextFile(dfile, stringify(dcfg));
        const dproc = await NodeProcess.spawn({
          name,
          args: ["director", "--config", dfile],
          logFile: `${workDir}/${name}.log`,
          wrap: topo.wrap(host),
        });
        const dnode: DemoNode = { name, role: "director", admin: `${host.ip}:${ADMIN_PORT}`, proc: dproc };
        cluster.nodes.splice(i, 0, dnode);
        await waitHealthy(dnode.admin, { proc: dproc });
        await waitRealsUp(dnode.admin, n);
        if (peer) await waitHaRole(dnode.admin, i === 0 ? "MASTER" : "BACKUP");
        step(
          `${name} ${host.ip} in ${host.ns}: ${cluster.vip.hostname}:${HTTP_PORT} -> ${n} caches ` +
            `(${mode.method.toUpperCase()}, ${opts.scheduler ?? "wlc"})` +
            (peer ? `, HA ${i === 0 ? "MASTER (priority 200)" : "BACKUP (priority 100)"}` : ""),
        );
      }
      return cluster;
    } catch (e) {
      throw await cluster.failed(e);
    }
  }

  /**
   * Director HA demo: kills the MASTER director with SIGKILL (a crash) and waits until another director
   * reports MASTER.
   *
   * @returns who was killed, who took over, and the ms from the kill to the new MASTER's status saying so
   * @throws {Error} without two directors, or when no director takes over within 10 s
   */
  async killMaster(): Promise<{ killed: string; master: string; takeoverMs: number }> {
    const directors = this.nodes.filter((n) => n.role === "director" && !n.proc.exited);
    if (directors.length < 2) throw new Error("Cannot show a takeover: it needs two directors (--directors 2)");
    let master: DemoNode | undefined;
    for (const d of directors) if ((await haRole(d.admin)) === "MASTER") master = d;
    if (!master) throw new Error("Cannot show a takeover: no director is MASTER");
    const t0 = performance.now();
    master.proc.kill();
    await master.proc.status;
    const deadline = t0 + 10_000;
    while (performance.now() < deadline) {
      for (const d of directors) {
        if (d !== master && (await haRole(d.admin)) === "MASTER") {
          return { killed: master.name, master: d.name, takeoverMs: Math.round(performance.now() - t0) };
        }
      }
      await new Promise((r) => setTimeout(r, 20));
    }
    throw new Error(`No director took over within 10 s after ${master.name} was killed`);
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

/** The HA role a director's `/director/status` reports, or undefined (no HA, unreachable). */
async function haRole(admin: string): Promise<string | undefined> {
  try {
    const res = await fetch(`http://${admin}/director/status`, { signal: AbortSignal.timeout(1000) });
    if (!res.ok) {
      await res.body?.cancel();
      return undefined;
    }
    return (await res.json()).ha?.role;
  } catch {
    return undefined;
  }
}

async function waitHaRole(admin: string, role: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let seen: string | undefined;
  while (Date.now() < deadline) {
    seen = await haRole(admin);
    if (seen === role) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`Director at ${admin} is ${seen ?? "not reporting a role"}, not ${role}, after ${timeoutMs} ms`);
}
