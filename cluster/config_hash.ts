/**
 * The config hash gossiped in every node record, so that `webcache members` can show which nodes
 * run a different `appliance.yaml`.
 *
 * Normalisation: the validated config (defaults filled in) as JSON with keys sorted, minus the
 * keys that legitimately differ per node because they are usually set by flags
 * ({@link NODE_LOCAL_KEYS}) and minus key material. Two nodes started from the same file with
 * different `--node-name`, `--gossip-listen` or `--admin` have the same hash.
 *
 * @module
 */
import type { Appliance } from "../config/mod.ts";

/** Key paths left out of the hash (per-node or secret). */
export const NODE_LOCAL_KEYS: readonly string[] = [
  "cluster.nodeName",
  "cluster.gossipListen",
  "cluster.advertise",
  "cluster.peers",
  "cluster.secretKey",
  "cluster.keyFile",
  "cluster.keyRing",
  "admin.listen",
  "admin.token",
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
