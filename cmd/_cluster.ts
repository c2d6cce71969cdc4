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
 *   const membership = await Membership.start({ cfg, record, keyFile: opts.clusterKeyFile, signal });
 *   membership.registerAdmin(admin);
 *   Deno.addSignalListener("SIGTERM", async () => { await membership.leave(); ...; Deno.exit(0); });
 * });
 * ```
 *
 * @module
 */
import type { Command } from "commander";
import type { ConfigOverride } from "../config/mod.ts";

/** The cluster flags as commander parses them. */
export interface ClusterOptions {
  gossipListen?: string;
  nodeName?: string;
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
