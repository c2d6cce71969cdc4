/**
 * The config hash gossiped in every node record, so that `webcache members` can show which nodes
 * run a different `appliance.yaml`.
 *
 * Normalisation: the validated config (defaults filled in) as JSON with keys sorted, minus the
 * node-local keys ({@link NODE_LOCAL_KEYS}: names, listen addresses, interfaces, VIP set-up, cache
 * directories, key material). So the hash covers exactly the cluster-wide part: two nodes started
 * from the same file with different `--node-name`, `--gossip-listen` or `--admin` have the same
 * hash. With `cluster.configSync` it is half of the config version (`config_version.ts`).
 *
 * @module
 */
import type { Appliance } from "../config/mod.ts";

/**
 * The node-local keys: settings of this host that are never taken from a peer and are left out of
 * the hash, so nodes with different local settings agree on the cluster-wide version. Everything
 * else in appliance.yaml is cluster-wide. Grouped as: identity and keys, listen addresses,
 * interfaces and VIP set-up on this host, disk and files, and per-host capacity.
 */
export const NODE_LOCAL_KEYS: readonly string[] = [
  // identity, seeds and key material
  "cluster.nodeName",
  "cluster.advertise",
  "cluster.peers",
  "cluster.secretKey",
  "cluster.keyFile",
  "cluster.keyRing",
  "admin.token",
  // listen addresses
  "cluster.gossipListen",
  "admin.listen",
  "cache.listen",
  "cache.peering.self",
  "icp.listen",
  // interfaces and VIP set-up on this host
  "cluster.discovery.interface",
  "icp.multicast.interface",
  "director.interface",
  "director.vipMode",
  "director.fastPath",
  "director.ha.priority",
  "director.ha.peers",
  "cache.interface",
  "cache.vip",
  "cache.forwarding",
  // disk and files on this host
  "cache.store.dirs",
  "cache.accessLog",
  "director.stateFile",
  // per-host capacity
  "cache.workers",
  "cache.weight",
];

function normalise(v: unknown, path: string): unknown {
  if (Array.isArray(v)) return v.map((x, i) => normalise(x, `${path}[${i}]`));
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const p = path ? `${path}.${k}` : k;
      if (NODE_LOCAL_KEYS.includes(p)) continue;
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = normalise(x, p);
    }
    return out;
  }
  return v;
}

/** The normalised JSON text that {@link configHash} hashes. */
export function normalisedConfig(cfg: Appliance | Record<string, unknown>): string {
  return JSON.stringify(normalise(cfg, ""));
}

/**
 * SHA-256 of the normalised config, as the first 16 hex characters.
 *
 * @example
 * ```ts
 * const h = await configHash(cfg); // "3f2a9c0e1b7d4a55"
 * ```
 */
export async function configHash(cfg: Appliance | Record<string, unknown>): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(normalisedConfig(cfg)));
  return [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("").slice(0, 16);
}
