/**
 * The `appliance.yaml` documents the demo writes for its nodes (pure functions, so a test can
 * check them against the schema). Two ways for the nodes to find each other:
 *
 * - static (default): each cache lists the other caches in `cache.peers` (ICP siblings) and the
 *   director lists the caches in `director.services[].reals`;
 * - membership: every node gossips (`cluster.*` with a random key in a file and a cluster name of
 *   its own, so two demos never merge); caches advertise `cache.service: web`, the director's
 *   service takes live caches as real servers (`fromMembership`), and caches take live siblings
 *   from the cluster. Needs roles that start cluster membership.
 *
 * @module
 */

/** Name of the demo's virtual service (and the service caches advertise). */
export const DEMO_SERVICE = "web";

/** How the nodes find each other. */
export type ClusterPlan =
  | { kind: "static" }
  | {
    kind: "membership";
    /** Cluster name (bound into every gossip message). */
    name: string;
    /** File with the base64 key. */
    keyFile: string;
    /** Seeds (`HOST:PORT` gossip addresses) or `auto` (multicast discovery). */
    peers: string[] | "auto";
  };

/** One cache's part of the plan. */
export interface CacheSpec {
  /** Node name. */
  name: string;
  /** Admin `HOST:PORT` and the networks admitted without a token. */
  admin: string;
  /** Networks admitted without a token; default admin.allow's. */
  adminAllow?: string[];
  /** HTTP listener `HOST:PORT`. */
  listen: string;
  /** `HOST:PORT` the others reach it at (its peering id). */
  self: string;
  /** ICP address to bind and port. */
  icpListen: string;
  /** ICP port. */
  icpPort: number;
  /** Gossip `HOST:PORT` (membership plan). */
  gossip?: string;
  /** DR/TUN: the VIP and how packets arrive. */
  vip?: string;
  /** How packets for the VIP arrive. */
  forwarding?: "dr" | "tun";
}

function clusterSection(name: string, plan: ClusterPlan, gossip?: string, discoveryInterface?: string) {
  if (plan.kind === "static") return { nodeName: name };
  return {
    name: plan.name,
    nodeName: name,
    keyFile: plan.keyFile,
    gossipListen: gossip,
    peers: plan.peers,
    ...(plan.peers === "auto" && discoveryInterface ? { discovery: { interface: discoveryInterface } } : {}),
  };
}

function hostOf(hostPort: string): string {
  return hostPort.slice(0, hostPort.lastIndexOf(":"));
}

/**
 * The config of one cache.
 *
 * @param c this cache
 * @param all every cache (its static siblings are the others)
 * @param opts origin URL, peering mode, log level, and how nodes find each other
 */
export function cacheConfig(
  c: CacheSpec,
  all: readonly CacheSpec[],
  opts: { originUrl: string; peering: "icp" | "hash" | "hash+icp" | "none"; logLevel: string; plan: ClusterPlan },
): Record<string, unknown> {
  const peers = opts.peering === "none" || opts.plan.kind === "membership"
    ? []
    : all.filter((p) => p !== c).map((p) => ({
      host: hostOf(p.self),
      httpPort: Number(p.self.slice(p.self.lastIndexOf(":") + 1)),
      icpPort: p.icpPort,
      type: "sibling",
    }));
  return {
    cluster: clusterSection(c.name, opts.plan, c.gossip, c.vip ? hostOf(c.self) : undefined),
    admin: { listen: c.admin, ...(c.adminAllow ? { allow: c.adminAllow } : {}) },
    log: { level: opts.logLevel },
    cache: {
      listen: [{ address: c.listen, mode: "accel" }],
      workers: 1,
      defaultOrigin: opts.originUrl,
      ...(c.vip ? { vip: c.vip, forwarding: c.forwarding } : {}),
      service: DEMO_SERVICE,
      peers,
      peering: { mode: opts.peering === "none" ? "none" : opts.peering, self: c.self },
    },
    icp: { enabled: opts.peering !== "none", port: c.icpPort, listen: c.icpListen },
  };
}

/** The director's part of the plan. */
export interface DirectorSpec {
  /** Admin `HOST:PORT`. */
  admin: string;
  /** Networks admitted without a token. */
  adminAllow?: string[];
  /** Gossip `HOST:PORT` (membership plan). */
  gossip?: string;
  /** Its own address (discovery interface in namespaces). */
  ip?: string;
  /** The VIP (proxy: an address to name the service by). */
  vip: string;
  /** Virtual port. */
  port: number;
  /** Forwarding method. */
  method: "proxy" | "dr" | "tun";
  /** proxy: local address to accept on. */
  listen?: string;
  /** DR/TUN: packet interface. */
  interface?: string;
  /** Scheduler name. */
  scheduler: string;
  /** Persistence timeout, seconds (0 off). */
  persistenceS: number;
  /** Real servers as `HOST:PORT` (static plan, or when `realsFromMembership` is false). */
  reals: string[];
  /** Membership plan: take the live caches as real servers (default true). */
  realsFromMembership?: boolean;
  /** Node name (default `director-1`). */
  name?: string;
  /**
   * Director HA active-backup with one peer director: this one's priority, the peer's address, and the cluster
   * key file that authenticates the heartbeats.
   */
  ha?: { priority: number; peer: string; keyFile: string };
}

/**
 * The config of the director.
 *
 * @param d the director
 * @param opts log level and how nodes find each other
 */
export function directorConfig(
  d: DirectorSpec,
  opts: { logLevel: string; plan: ClusterPlan },
): Record<string, unknown> {
  const fromMembership = opts.plan.kind === "membership" && d.realsFromMembership !== false;
  const cluster: Record<string, unknown> = clusterSection(d.name ?? "director-1", opts.plan, d.gossip, d.ip);
  if (d.ha) cluster.keyFile ??= d.ha.keyFile;
  return {
    cluster,
    admin: { listen: d.admin, ...(d.adminAllow ? { allow: d.adminAllow } : {}) },
    log: { level: opts.logLevel },
    director: {
      ...(d.interface ? { interface: d.interface } : {}),
      services: [{
        name: DEMO_SERVICE,
        vip: d.vip,
        port: d.port,
        ...(d.listen ? { listen: d.listen } : {}),
        method: d.method,
        scheduler: d.scheduler,
        persistence: { timeoutS: d.persistenceS },
        // TCP connects: the caches' counters then count only client traffic.
        health: { type: "tcp", intervalMs: 500, timeoutMs: 500, rise: 1, fall: 2 },
        fromMembership,
        reals: fromMembership ? [] : d.reals.map((r) => {
          const i = r.lastIndexOf(":");
          return d.method === "proxy"
            ? { address: r.slice(0, i), port: Number(r.slice(i + 1)) }
            : { address: r.slice(0, i) };
        }),
      }],
      ...(d.ha
        ? {
          ha: {
            mode: "active-backup",
            vipGroup: "demo",
            priority: d.ha.priority,
            peers: [`${d.ha.peer}:7948`],
            // A returning director-1 would take the VIPs back; in the demo it does not return.
            preempt: false,
          },
        }
        : {}),
    },
  };
}
