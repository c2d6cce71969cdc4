/**
 * Attaching the in-kernel DR/TUN fast path (`director.fastPath`, default auto) for the forwarding loop:
 * tried once, at the first configuration that has a DR or TUN server; when the kernel refuses it
 * (logged) every packet takes the user-space loop, as before.
 *
 * @module
 */
import { getLogger } from "../../core/log.ts";
import { DrFastPath } from "../../netctl/dr_fast_path.ts";
import { vethPeerInOtherNamespace } from "../../netctl/veth_peer.ts";
import type { DataplaneConfig } from "./config.ts";
import { type ControlBlock, MAX_REALS } from "./control.ts";
import { FastPathOffload } from "./fast_path_offload.ts";

const log = getLogger("lb.dataplane");

/**
 * True when a configuration forwards anything by DR or TUN (the fast path has work to do).
 *
 * @param cfg the configuration
 */
export function wantsFastPath(cfg: DataplaneConfig): boolean {
  const packet = (m: string | undefined) => m === "dr" || m === "tun";
  return cfg.services.some((s) => packet(s.method) || s.reals.some((r) => packet(r.method)));
}

/**
 * Loads and attaches the fast path at tcx ingress of the interface.
 *
 * @param cfg the configuration (its connection limit sizes the flow map)
 * @param link the interface name, index and MAC, the shared counters, and whether the flow map is preallocated
 * @returns the offload, or undefined when the kernel refused it (logged)
 */
export function attachFastPath(
  cfg: DataplaneConfig,
  link: { ifname: string; ifindex: number; mac: Uint8Array; ctl: ControlBlock; preallocate?: boolean },
): FastPathOffload | undefined {
  try {
    // A veth whose peer is in another namespace (a container's interface): frames go straight into the peer's
    // receive path, without a second trip through the CPU's backlog.
    const redirectPeer = vethPeerInOtherNamespace(link.ifname);
    const fp = DrFastPath.open({
      interface: link.ifname,
      maxFlows: cfg.maxConnections,
      maxReals: MAX_REALS,
      preallocate: link.preallocate,
      redirectPeer,
    });
    const offload = new FastPathOffload(fp, link.ctl, { srcMac: link.mac, ifindex: link.ifindex });
    log.info("DR fast path attached at tcx ingress", {
      iface: link.ifname,
      maxFlows: cfg.maxConnections,
      preallocated: link.preallocate === true,
      redirect: redirectPeer ? "veth peer" : "egress",
    });
    return offload;
  } catch (e) {
    log.warn("DR fast path unavailable: every packet takes the user-space loop", {
      iface: link.ifname,
      error: (e as Error).message,
    });
    return undefined;
  }
}
