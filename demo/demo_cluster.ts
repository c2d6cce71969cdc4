/**
 * What the demo needs from a running cluster, whichever way it was built (loopback processes or
 * network namespaces): its nodes, how to run the client load against the VIP, the origin's
 * counters, and a stop that removes everything.
 *
 * @module
 */
import type { MemberRef } from "../status/members.ts";
import type { LoadOptions, LoadReport } from "./load.ts";
import type { NodeProcess } from "./node_process.ts";
import type { OriginStats } from "./origin.ts";
import type { DemoMode } from "./summary.ts";

/** One webcache node of the demo. */
export interface DemoNode {
  /** Node name (`cache-1`, `director-1`). */
  name: string;
  /** Its role. */
  role: "cache" | "director";
  /** Admin endpoint `HOST:PORT` as the demo process reaches it. */
  admin: string;
  /** Cache: HTTP listener `HOST:PORT` (as the director knows it). */
  http?: string;
  /** Cache: ICP port. */
  icpPort?: number;
  /** Its process. */
  proc: NodeProcess;
}

/** A running demo cluster. */
export interface DemoCluster {
  /** How it forwards and where it runs. */
  readonly mode: DemoMode;
  /** The address clients use (the VIP, or the proxy listener on loopback). */
  readonly vip: { hostname: string; port: number };
  /** The origin's base URL as the caches reach it. */
  readonly originUrl: string;
  /** Every node, the director first. */
  readonly nodes: readonly DemoNode[];
  /** Folder holding configs and logs (removed by stop()). */
  readonly workDir: string;
  /** Members for the status aggregator. */
  members(): MemberRef[];
  /** The origin's counters now. */
  originStats(): Promise<OriginStats>;
  /** Runs the client load against the VIP (target and host are filled in). */
  runLoad(opts: Omit<LoadOptions, "target">): Promise<LoadReport>;
  /** Stops every process and removes everything the demo made. */
  stop(): Promise<void>;
}

/**
 * Writes a fresh random cluster key (base64, 32 bytes) to `dir/cluster.key`, readable by the owner
 * only, and returns its path.
 */
export async function writeClusterKey(dir: string): Promise<string> {
  const key = crypto.getRandomValues(new Uint8Array(32));
  const file = `${dir}/cluster.key`;
  await Deno.writeTextFile(file, btoa(String.fromCharCode(...key)) + "\n", { mode: 0o600 });
  return file;
}

/** A cluster name of this demo's own, so two demos (or a test cluster) on one network never merge. */
export function demoClusterName(): string {
  return `demo-${crypto.randomUUID().slice(0, 8)}`;
}

/** Common options of the cluster builders. */
export interface DemoClusterOptions {
  /** Number of caches; default 3. */
  caches?: number;
  /** Objects on the origin; default 3000. */
  objects?: number;
  /** Seed of object sizes; default 1. */
  seed?: number;
  /** Peering between the caches; default icp. */
  peering?: "icp" | "hash" | "hash+icp" | "none";
  /** Director scheduler; default wlc. */
  scheduler?: string;
  /** Persistence timeout, seconds; default 0 (off, so the connection split shows the scheduler). */
  persistenceS?: number;
  /** Log level of the nodes; default warn. */
  logLevel?: string;
  /**
   * Let the nodes find each other by gossip (`cluster.peers`, a fresh key, caches advertising the
   * service) instead of static lists. Needs roles that start cluster membership.
   */
  membership?: boolean;
  /** Called with progress messages while starting. */
  onStep?: (msg: string) => void;
  /**
   * Directors: 1 (default), or 2 in director HA active-backup (namespaced DR/TUN only): director-1 (priority
   * 200) is MASTER, director-2 its BACKUP with connection sync.
   */
  directors?: 1 | 2;
}
