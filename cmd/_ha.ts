/**
 * Starts director HA (`director.ha.mode: active-backup`) for `webcache director`: the cluster key,
 * the peers (`director.ha.peers`, else the director members of the cluster), the bind address
 * (`director.interface`'s) and the {@link HaNode} driving the DR/TUN data plane. The membership
 * record of this director then carries its HA role and, as MASTER, its VIPs (`webcache members`).
 *
 * `active-active` needs none of that: every director forwards (its data plane started non-standby and
 * quiet on ARP, `lb/dataplane/dataplane_forwarder.ts`), so this only checks there is a DR/TUN service and
 * publishes the role `ACTIVE` with the VIPs in the membership record.
 *
 * @module
 */
import type { Appliance } from "../config/mod.ts";
import { formatHostPort, isIPv4, parseHostPort } from "../core/addr.ts";
import { getLogger } from "../core/log.ts";
import { Keyring, resolveClusterKeys } from "../cluster/keyring.ts";
import type { Membership } from "../cluster/membership.ts";
import type { Director } from "../lb/director.ts";
import { HaNode } from "../lb/ha/ha_node.ts";
import { bindHaMetrics } from "../lb/ha/metrics.ts";
import { directorTunnelSource } from "./_cluster.ts";

const log = getLogger("lb.ha");

/** A configuration problem that stops the director (exit status 2). */
export class HaConfigError extends Error {
  override name = "HaConfigError";
}

/**
 * Starts HA when configured.
 *
 * @param cfg the validated config
 * @param director the started director (its DR/TUN data plane in standby)
 * @param membership cluster membership, if any (peers and the record's HA role)
 * @param keyFile `--cluster-key-file`
 * @returns the node, or undefined when `director.ha.mode` is none
 * @throws {HaConfigError} without a DR/TUN service, or without a key and `cluster.insecure`
 * @throws {Deno.errors.AddrInUse} when `director.ha.listen` is taken
 */
export async function startDirectorHa(
  cfg: Appliance,
  director: Director,
  membership: Membership | undefined,
  keyFile: string | undefined,
): Promise<HaNode | undefined> {
  const ha = cfg.director.ha;
  if (ha.mode === "none") return undefined;
  if (ha.mode === "active-active") {
    startActiveActive(cfg, director, membership);
    return undefined;
  }
  const dataplane = director.haDataplane();
  if (!dataplane) {
    throw new HaConfigError(
      `director.ha.mode "${ha.mode}" needs a dr or tun service: the VIP moves with the DR/TUN data plane`,
    );
  }
  const c = cfg.cluster;
  const keys = await resolveClusterKeys({
    keyFileFlag: keyFile,
    keyFile: c.keyFile,
    secretKey: c.secretKey,
    keyRing: c.keyRing,
    env: Deno.env.get("WEBCACHE_CLUSTER_KEY") || undefined,
  });
  if (keys.length === 0 && !c.insecure) {
    throw new HaConfigError(
      "director.ha needs the cluster key to authenticate heartbeats: set cluster.keyFile, --cluster-key-file, " +
        "cluster.secretKey or WEBCACHE_CLUSTER_KEY (or cluster.insecure: true, never in production)",
    );
  }
  const keyring = await Keyring.create(keys, c.name, { replayWindowMs: c.replayWindowMs });
  const nodeId = c.nodeName ?? Deno.hostname();
  const bindAddress = directorTunnelSource(cfg.director.interface) ?? "0.0.0.0";
  const explicit = ha.peers;
  const peers = () => {
    if (explicit.length) return explicit;
    const out: string[] = [];
    for (const m of membership?.members() ?? []) {
      if (m.role !== "director" || m.name === nodeId || m.state === "dead" || m.state === "left") continue;
      let host = m.addrs.tunnel;
      if (!host) {
        try {
          host = parseHostPort(m.addrs.gossip).host;
        } catch {
          continue;
        }
      }
      if (isIPv4(host) && host !== "0.0.0.0") out.push(formatHostPort({ host, port: ha.listen }));
    }
    return out;
  };
  const node = new HaNode({ config: ha, nodeId, keyring, bindAddress, peers, dataplane });
  director.setHa(node);
  bindHaMetrics(() => node.status());
  node.start();
  if (membership) {
    // The record shows the role and, as MASTER, the VIPs held (`webcache members`).
    const vips = [...new Set(cfg.director.services.filter((s) => s.vip).map((s) => s.vip!))].join(",");
    let last = "";
    const publish = () => {
      const role = node.role;
      if (role === last) return;
      last = role;
      membership.update({ ha: { group: ha.vipGroup, role, vips: role === "MASTER" ? vips : undefined } });
    };
    publish();
    const timer = setInterval(publish, 200);
    node.onStop(() => clearInterval(timer));
  }
  if (peers().length === 0) log.warn("Director HA has no peers yet", { group: ha.vipGroup });
  return node;
}

/**
 * `director.ha.mode: active-active`: publishes this director as ACTIVE for all its VIPs.
 *
 * @throws {HaConfigError} without a DR or TUN service (the router's multipath route needs the DR/TUN data plane)
 */
function startActiveActive(cfg: Appliance, director: Director, membership: Membership | undefined): void {
  const d = cfg.director;
  const packet = (m: string | undefined) => m === "dr" || m === "tun";
  if (!d.services.some((s) => packet(s.method) || s.reals.some((r) => packet(r.method)))) {
    throw new HaConfigError(
      'director.ha.mode "active-active" needs a dr or tun service: the router sends the VIP to the DR/TUN data plane',
    );
  }
  const vips = [...new Set(d.services.filter((s) => s.vip).map((s) => s.vip!))].join(",");
  membership?.update({ ha: { group: d.ha.vipGroup, role: "ACTIVE", vips } });
  director.setActiveActive({ group: d.ha.vipGroup, node: cfg.cluster.nodeName ?? Deno.hostname() });
  log.info("Director HA active-active: forwarding for every VIP, no ARP for them", { group: d.ha.vipGroup, vips });
}
