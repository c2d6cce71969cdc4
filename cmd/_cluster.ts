/**
 * Cluster flags shared by the role subcommands (`webcache cache`, `webcache director`):
 * `--gossip-listen ADDR:PORT`, `--node-name NAME` and `--cluster-key-file FILE` (`--peers` is in
 * `_common.ts`). The key itself is never a flag: process lists are visible to every user, so it
 * comes from a file or the `WEBCACHE_CLUSTER_KEY` environment variable.
 *
 * Wiring in a role:
 *
 * ```ts
 * addClusterOptions(addSharedOptions(cmd)).action(async (opts) => {
 *   const cfg = await loadOrExit(opts.config, [...sharedOverrides(opts), ...clusterOverrides(opts)]);
 *   // ... start the role and its AdminServer ...
 *   const membership = await startRoleMembership(cfg, opts, { role: "cache", record: { weight, service, addrs }, admin });
 *   membership?.onChange((members) => useMembers(members));
 *   const stop = async () => { await membership?.leave(); await membership?.stop(); ...; Deno.exit(0); };
 * });
 * ```
 *
 * @module
 */
import type { Command } from "commander";
import type { AdminServer } from "../admin/server.ts";
import {
  diffConfig,
  isReloadable,
  liveMembers,
  type LocalRecord,
  Membership,
  type NodeRecord,
  type NodeRole,
} from "../cluster/mod.ts";
import { intToIpv4, isIPv4, parseHostPort } from "../core/addr.ts";
import type { Appliance, ConfigOverride } from "../config/mod.ts";
import { configureLogging, getLogger, printErr } from "../core/log.ts";
import { interfaceInfo, interfaceMac } from "../netctl/interface_info.ts";
import { EXIT_CONFIG } from "./_common.ts";

const log = getLogger("cluster");

/** The cluster flags as commander parses them. */
export interface ClusterOptions {
  /** `--gossip-listen` */
  gossipListen?: string;
  /** `--node-name` */
  nodeName?: string;
  /** `--cluster-key-file` */
  clusterKeyFile?: string;
}

/** Adds the cluster flags to a role command. */
export function addClusterOptions(cmd: Command): Command {
  return cmd
    .option("--gossip-listen <addr:port>", "UDP+TCP address for membership gossip (default 0.0.0.0:7946)")
    .option("--node-name <name>", "this node's name in the cluster (default the host name)")
    .option(
      "--cluster-key-file <file>",
      "file with the base64 cluster key (first line; older keys on later lines); or set WEBCACHE_CLUSTER_KEY",
    );
}

/** Turns the cluster flags into config overrides (the key file is passed to `Membership.start`). */
export function clusterOverrides(opts: ClusterOptions): ConfigOverride[] {
  const out: ConfigOverride[] = [];
  if (opts.gossipListen !== undefined) {
    out.push({ path: ["cluster", "gossipListen"], value: opts.gossipListen, flag: "--gossip-listen" });
  }
  if (opts.nodeName !== undefined) {
    out.push({ path: ["cluster", "nodeName"], value: opts.nodeName, flag: "--node-name" });
  }
  return out;
}

/** What a role tells {@link startRoleMembership}. */
export interface RoleMembership {
  /** The role this node runs. */
  role: NodeRole;
  /** The role's part of the record: weight, service, addresses (http, icp, admin), vip, mac... */
  record?: Partial<Omit<LocalRecord, "role">>;
  /** Gets `/members` and a `cluster` status section. */
  admin?: AdminServer;
  /** Aborting it stops membership. */
  signal?: AbortSignal;
  /**
   * `cluster.configSync`: what the role changes at run time besides `log.*`. `handles` says which
   * `Reload: yes` key paths `apply` puts into effect; every other changed key is reported as
   * needing a restart.
   */
  reload?: {
    /** Whether `apply` puts the key at this dotted path into effect. */
    handles: (path: string) => boolean;
    /**
     * Applies a peer's config before this node adopts it (e.g. the director's services). Throwing
     * refuses the config: the running one stays and the refusal is gossiped with its reason.
     */
    apply: (next: Appliance) => Promise<void>;
  };
}

/**
 * The changed keys a synced config cannot put into effect in this process: those that differ
 * from the config the process started with and are either `Reload: no` or not applied by the role
 * (`log.*` is applied by every role).
 *
 * @param boot the config the process started with
 * @param next the config in effect now
 * @param handles whether the role applies a reloadable key at run time
 */
export function restartNeededKeys(boot: Appliance, next: Appliance, handles?: (path: string) => boolean): string[] {
  return diffConfig(boot, next).filter((k) => !(isReloadable(k) && (k.startsWith("log.") || handles?.(k))));
}

/**
 * Starts cluster membership for a role, or nothing when the node is standalone (no `cluster.peers`
 * and no key configured). Exits with status 2 on a key problem (no key while peers are set and
 * `cluster.insecure` is off, unreadable key file, malformed key) and 1 when the gossip port cannot
 * be bound.
 *
 * @param cfg the validated config (with `clusterOverrides` applied)
 * @param opts the parsed flags (`--cluster-key-file`, `--config` for the config stamp and sync)
 */
export async function startRoleMembership(
  cfg: Appliance,
  opts: ClusterOptions & { config?: string },
  role: RoleMembership,
): Promise<Membership | undefined> {
  const c = cfg.cluster;
  const env = Deno.env.get("WEBCACHE_CLUSTER_KEY") || undefined;
  const anyKey = opts.clusterKeyFile ?? c.keyFile ?? c.secretKey ?? env ?? (c.keyRing.length ? "ring" : undefined);
  const wantsCluster = c.peers === "auto" || c.peers.length > 0;
  if (!wantsCluster && !anyKey && !c.insecure) {
    log.info("Cluster membership off: no cluster.peers and no key (standalone node)");
    return undefined;
  }
  const reload = role.reload;
  try {
    const m = await Membership.start({
      cfg,
      record: { weight: 100, ...role.record, role: role.role },
      keyFile: opts.clusterKeyFile,
      configFile: opts.config,
      signal: role.signal,
      // cluster.configSync: the role applies its keys before the config is adopted; if it cannot,
      // the config is refused and the running one stays.
      accept: reload
        ? async ({ cfg: next, reloadable }) => {
          if (reloadable.some(reload.handles)) await reload.apply(next);
        }
        : undefined,
    });
    if (role.admin) m.registerAdmin(role.admin);
    // Log levels apply everywhere at once; the rest is logged once and shown as
    // cluster.restartNeeded in /status.
    m.onConfig(({ cfg: next, reloadable, from }) => {
      if (reloadable.some((k) => k.startsWith("log."))) {
        configureLogging({ level: next.log.level, components: next.log.components, format: next.log.format });
      }
      const pending = restartNeededKeys(cfg, next, reload?.handles);
      const fresh = pending.filter((k) => !m.restartNeeded.includes(k));
      m.restartNeeded = pending;
      if (fresh.length) {
        log.warn("Synced config changes keys that need a restart", { peer: from, keys: fresh.join(",") });
      }
    });
    if (c.configSync && opts.config) publishOnHangup(m, role.signal);
    return m;
  } catch (e) {
    const msg = (e as Error).message;
    printErr(`Cannot start cluster membership: ${msg}`);
    // A socket that cannot be bound (or a group that cannot be joined) is a start failure, not a config error.
    const socket = e instanceof Deno.errors.AddrInUse || e instanceof Deno.errors.AddrNotAvailable ||
      e instanceof Deno.errors.PermissionDenied || /^Cannot (listen on|join discovery group)/.test(msg);
    if (socket) Deno.exit(1);
    Deno.exit(EXIT_CONFIG);
  }
}

/**
 * `cluster.configSync`: SIGHUP publishes a change of this node's config file as a new cluster-wide
 * version (the director also reloads its own services on SIGHUP). The listener goes when `signal`
 * aborts.
 */
function publishOnHangup(m: Membership, signal?: AbortSignal): void {
  const onHup = () => {
    m.publishConfig().then(
      (v) => log.info("Config file reread on SIGHUP", { configVersion: v.version, configHash: v.hash }),
      (e) => log.error("Cannot publish the changed config; the running one stays", { error: (e as Error).message }),
    );
  };
  Deno.addSignalListener("SIGHUP", onHup);
  signal?.addEventListener("abort", () => Deno.removeSignalListener("SIGHUP", onHup), { once: true });
}

/** A sibling cache as the peering code takes it (structurally `PeeringPeer` of `cache/peering/`). */
export interface SiblingPeer {
  /** Host of its HTTP address. */
  host: string;
  /** Its HTTP port. */
  httpPort: number;
  /** 0: the member runs no ICP server. */
  icpPort: number;
  /** Always a sibling: cluster caches do not fetch misses for each other. */
  type: "sibling";
  /** Node name. */
  name: string;
  /** Advertised weight (hash share). */
  weight: number;
}

/**
 * The live caches other than this node, as ICP/hash siblings: the cache role passes this to its
 * peering on every membership change.
 *
 * @example
 * ```ts
 * membership.onChange((members) => peering.setPeers(siblingPeers(members, membership.local.id)));
 * ```
 */
export function siblingPeers(members: readonly NodeRecord[], selfId: string): SiblingPeer[] {
  return liveMembers(members, { role: "cache", exclude: selfId }).flatMap((m) => {
    if (!m.addrs.http) return [];
    const http = parseHostPort(m.addrs.http);
    const icpPort = m.addrs.icp ? parseHostPort(m.addrs.icp).port : 0;
    return [{
      host: http.host,
      httpPort: http.port,
      icpPort,
      type: "sibling" as const,
      name: m.name,
      weight: m.weight,
    }];
  });
}

/**
 * The host other nodes should use for a service bound to `listenHost`: the host itself when it is
 * specific, else `cluster.advertise`, else the gossip listen host when specific, else the first
 * non-loopback IPv4 address, else 127.0.0.1.
 */
export function advertiseHost(listenHost: string, cfg: Appliance): string {
  if (listenHost !== "0.0.0.0" && listenHost !== "::") return listenHost;
  const c = cfg.cluster;
  if (c.advertise) return parseHostPort(c.advertise).host;
  const gossipHost = c.gossipListen.slice(0, c.gossipListen.lastIndexOf(":")).replace(/^\[|\]$/g, "");
  if (gossipHost && gossipHost !== "0.0.0.0" && gossipHost !== "::") return gossipHost;
  for (const i of Deno.networkInterfaces()) {
    if (i.family === "IPv4" && !i.address.startsWith("127.")) return i.address;
  }
  return "127.0.0.1";
}

/** The link a cache advertises for DR: the interface and its MAC address (`NodeRecord.iface`/`mac`). */
export interface AdvertisedLink {
  /** Interface name. */
  iface: string;
  /** Its MAC address, `xx:xx:xx:xx:xx:xx`. */
  mac: string;
}

/**
 * The interface and MAC a cache puts into its membership record so directors forward DR frames to
 * it without ARP: `cache.interface` when set; otherwise, with `cache.forwarding` dr or tun, the
 * interface that holds the advertised address `host` (a wildcard or loopback host, or an interface
 * without a hardware address, advertises nothing and the director falls back to ARP).
 *
 * @param cache `cache.interface` and `cache.forwarding`
 * @param host the advertised host of the cache's HTTP endpoint (see {@link advertiseHost})
 * @returns undefined when there is nothing to advertise
 * @throws {Error} when `cache.interface` names an interface that does not exist
 */
export function advertisedLink(
  cache: { interface?: string; forwarding?: "none" | "dr" | "tun" },
  host: string | undefined,
): AdvertisedLink | undefined {
  if (cache.interface) {
    try {
      return { iface: cache.interface, mac: interfaceMac(cache.interface) };
    } catch (e) {
      throw new Error(`Cannot read the MAC address of cache.interface "${cache.interface}": ${(e as Error).message}`);
    }
  }
  if (!cache.forwarding || cache.forwarding === "none" || !host) return undefined;
  const link = Deno.networkInterfaces().find((i) => i.address === host);
  if (!link || link.name === "lo") return undefined;
  try {
    const mac = interfaceMac(link.name);
    return mac === "00:00:00:00:00:00" ? undefined : { iface: link.name, mac };
  } catch (e) {
    log.warn("Cannot read the MAC address of the advertised interface", {
      iface: link.name,
      error: (e as Error).message,
    });
    return undefined;
  }
}

/**
 * The address a director's TUN forwarder sends IP-in-IP from (the outer source): the primary IPv4
 * address of `director.interface`. The director puts it into its membership record (`addrs.tunnel`)
 * so TUN caches can accept tunnelled packets from it alone.
 *
 * @param iface `director.interface`
 * @returns undefined without an interface, or when it has no IPv4 address or cannot be read
 */
export function directorTunnelSource(iface: string | undefined): string | undefined {
  if (!iface) return undefined;
  try {
    const a = interfaceInfo(iface).address;
    return a ? intToIpv4(a) : undefined;
  } catch (e) {
    log.warn("Cannot read the tunnel source address of the director's interface", {
      iface,
      error: (e as Error).message,
    });
    return undefined;
  }
}

/**
 * The outer sources a TUN cache accepts when its directors come from membership: of every director
 * member that is alive, suspect or draining (a suspected or draining director still sends packets of
 * its flows), the tunnel source it advertises (`addrs.tunnel`), or, for a director that advertises
 * none (an older version), the host of its gossip address when that is a specific IPv4 address.
 *
 * @param members the membership view
 * @returns the addresses, sorted and without duplicates
 * @example
 * ```ts
 * membership.onChange((members) => realServer.setDirectors(directorTunnelSources(members)));
 * ```
 */
export function directorTunnelSources(members: readonly NodeRecord[]): string[] {
  const out = new Set<string>();
  for (const m of liveMembers(members, { role: "director", states: ["alive", "suspect", "draining"] })) {
    let a = m.addrs.tunnel;
    if (!a) {
      try {
        a = parseHostPort(m.addrs.gossip).host;
      } catch {
        continue;
      }
    }
    if (isIPv4(a) && a !== "0.0.0.0") out.add(a);
  }
  return [...out].sort();
}
