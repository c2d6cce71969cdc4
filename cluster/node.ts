/**
 * The membership record every node gossips about itself: identity, role, addresses, weight,
 * state and config hash. Directors build real-server lists and caches build sibling lists from
 * these records.
 *
 * @module
 */

/** Roles a node can run. */
export type NodeRole = "director" | "cache";

/** Membership states (SWIM plus the operator's `draining`). */
export type NodeState = "alive" | "suspect" | "dead" | "left" | "draining";

/** A config version a node refused, as gossiped in its record. */
export interface ConfigRefusal {
  /** The refused version's counter. */
  version: number;
  /** Its hash. */
  hash: string;
  /** Why, at most {@link MAX_REFUSAL_REASON_CHARS} characters. */
  reason: string;
}

/** A refusal reason is cut to this length: the record must fit in a UDP packet (codec.ts). */
export const MAX_REFUSAL_REASON_CHARS = 200;

/** What a node advertises about itself. */
export interface NodeRecord {
  /** Stable id (random, kept across restarts and address changes). */
  id: string;
  /** Human name (`--node-name`). */
  name: string;
  /** The role it runs. */
  role: NodeRole;
  /** Endpoints as `HOST:PORT`; absent when the node does not serve that protocol. */
  addrs: {
    gossip: string;
    http?: string;
    icp?: string;
    admin?: string;
    /**
     * Directors: the IPv4 address their TUN forwarder sends IP-in-IP from (the outer source, the
     * address of `director.interface`); TUN caches accept tunnelled packets from these only.
     */
    tunnel?: string;
  };
  /** For DR: the MAC address and interface the director should send to. */
  mac?: string;
  /** For DR: the interface on the cache that holds the VIP. */
  iface?: string;
  /** Director service name this cache serves (`cache.service`). */
  service?: string;
  /** VIP this cache accepts (DR/TUN), and how it expects packets. */
  vip?: string;
  /** How the director reaches it: none (proxy), dr or tun. */
  forwarding?: "none" | "dr" | "tun";
  /** Weight offered to directors. */
  weight: number;
  /**
   * Directors with `director.ha`: the VIP group, this director's role in it, and the VIPs it holds
   * (comma-separated, only while MASTER). Optional, so older records stay valid.
   */
  ha?: { group: string; role: string; vips?: string };
  /** SWIM state as this node sees it; a node declares only `alive` or `draining` itself. */
  state: NodeState;
  /** SHA-256 (hex, first 16 chars) of the normalised appliance.yaml this node runs. */
  configHash: string;
  /**
   * Counter of that config's version (`config_version.ts`): with `cluster.configSync` the highest
   * (counter, hash) wins; 0 means never published. Optional, so older records stay valid.
   */
  configVersion?: number;
  /**
   * The newest config version this node refused (it did not validate here, or the role could not
   * apply it) and why; it keeps running its own version. Cleared when it adopts or publishes a
   * newer one.
   */
  configRefused?: ConfigRefusal;
  /**
   * Caches: digest of the node's purge ban list (`cache/ban_list.ts`); a cache whose digest differs
   * from a peer's exchanges ban lists with it (`bans` messages), so a missed purge converges.
   */
  bans?: string;
  /** SWIM incarnation number; only the node itself raises it. */
  incarnation: number;
}
