/**
 * `cluster:` — SWIM membership gossip between all nodes (directors and caches).
 *
 * Timing defaults follow memberlist's LAN profile where the issue does not set them.
 *
 * @module
 */
import { z } from "zod";
import { parseHostPort } from "../core/addr.ts";
import { count, durationMs, hostPort, ipv4, MAX_TIMER_MS, port } from "./_types.ts";

/** Schema of the `cluster` section. */
export const ClusterSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).default("webcache").describe(
    "Cluster name, bound into every message: two clusters with different names never merge. Reload: no.",
  ),
  nodeName: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/).optional().describe(
    "This node's name; default the host name (plus role and port when several nodes share a host). Reload: no.",
  ),
  gossipListen: z.string().superRefine((v, ctx) => {
    try {
      parseHostPort(v.replace(/:0$/, ":1"));
    } catch (e) {
      ctx.addIssue({ code: "custom", message: `"${v}" is not HOST:PORT: ${(e as Error).message}` });
    }
  }).default("0.0.0.0:7946").describe(
    "UDP and TCP address for gossip (one port for both). Default port 7946 (as memberlist/serf); port 0 picks a " +
      "free port (tests). Reload: no.",
  ),
  advertise: hostPort().optional().describe(
    "Address other nodes use to reach this one; default the listen address, or the first non-loopback address.",
  ),
  peers: z.union([z.literal("auto"), z.array(hostPort())]).default([]).describe(
    "Seeds to join (HOST:PORT list) or auto (find the cluster by multicast on cluster.discovery). Empty: start alone.",
  ),
  secretKey: z.string().optional().describe(
    "Base64 AES key (16, 24 or 32 bytes) that authenticates and encrypts every message. Prefer keyFile or the " +
      "WEBCACHE_CLUSTER_KEY environment variable. Reload: no.",
  ),
  keyFile: z.string().optional().describe("File holding the base64 key (and older keys, one per line, for rotation)."),
  keyRing: z.array(z.string()).default([]).describe(
    "Older base64 keys still accepted on receive, for rotation; messages are sent with secretKey.",
  ),
  insecure: z.boolean().default(false).describe(
    "Allow running without a key (messages in clear, unauthenticated). Never in production. Reload: no.",
  ),
  replayWindowMs: durationMs(0).max(86_400_000).default(120_000).describe(
    "Replay protection of sealed gossip: a message whose sender clock is more than this many milliseconds from ours " +
      "is dropped (reason stale), and so is a second copy of one already accepted (reason replay). Nodes' clocks " +
      "must agree within it (NTP). 0 turns the checks off. Reload: no.",
  ),
  probeIntervalMs: durationMs(10).default(1000).describe(
    "Milliseconds between failure-detection probes. Lower detects failures faster at more traffic. Reload: no.",
  ),
  probeTimeoutMs: durationMs(5).default(500).describe("Milliseconds to wait for a direct ack before indirect probes."),
  indirectProbes: count(0).max(64).default(3).describe("Members asked to probe a target that missed its direct ack."),
  suspectAfterProbes: count(1).max(5).default(2).describe(
    "Probe rounds in a row that must fail (direct ping sent twice, indirect probes, TCP ping) before a member is " +
      "suspected; after a failed round the same member is probed again in the next probe interval. 1 is " +
      "memberlist's behaviour. 2 delays a real failure's detection by one probe interval and, on a lossy network, " +
      "turns the per-round false-suspicion probability p into p^2 (at 20 % loss: ~4 % to ~0.2 % before the in-round " +
      "retry), which keeps gossip from saturating in clusters of hundreds of nodes. Reload: no.",
  ),
  suspicionMult: count(1).max(100).default(4).describe(
    "Suspect time is mult × log10(max(1,n)) × probe interval (memberlist); higher means fewer false deaths, slower failover.",
  ),
  suspicionMaxTimeoutMult: count(1).max(100).default(6).describe(
    "Lifeguard: an unconfirmed suspicion lasts up to this × the minimum suspect time; confirmations shrink it.",
  ),
  retransmitMult: count(1).max(100).default(4).describe(
    "Each update is piggybacked retransmitMult × log10(n+1) times (memberlist's lambda).",
  ),
  gossipIntervalMs: durationMs(10).default(200).describe("Milliseconds between gossip rounds to gossipNodes members."),
  gossipNodes: count(1).max(64).default(3).describe("Members sent queued updates each gossip round."),
  pushPullIntervalMs: durationMs(0).default(30000).describe(
    "Milliseconds between full-state TCP exchanges with one member (anti-entropy); 0 disables.",
  ),
  deadReclaimMs: durationMs(0).default(30000).describe(
    "Milliseconds a dead or left member is remembered, then forgotten.",
  ),
  discovery: z.strictObject({
    group: ipv4().default("239.255.77.46").describe(
      "Multicast group for --peers auto announcements (organisation-local scope, RFC 2365).",
    ),
    port: port().default(7947).describe("UDP port of the discovery group."),
    intervalMs: durationMs(100).default(1000).describe("Milliseconds between announcements while looking for peers."),
    interface: z.string().optional().describe("IPv4 address of the interface to join on; default any."),
    ttl: count(0).max(255).default(1).describe("Multicast TTL of announcements; 1 keeps them on the local link."),
  }).prefault({}),
  configSync: z.boolean().default(false).describe(
    "Share the cluster-wide part of appliance.yaml: a node whose file was edited publishes it on SIGHUP as a new " +
      "version (a counter kept in <file>.version plus a hash); the others fetch the newest version sealed with the " +
      "cluster key, keep their node-local keys (cluster/config_hash.ts NODE_LOCAL_KEYS), validate it, apply the " +
      "keys that may change at run time (log.* everywhere, director.* on a director as SIGHUP does) and write it " +
      "over --config; other changed keys are logged and listed in /status cluster.restartNeeded. A version a node " +
      "cannot run is refused there (old config kept, reason gossiped and shown by webcache members). Needs a " +
      "cluster key. Reload: no.",
  ),
}).superRefine((c, ctx) => {
  // The longest suspicion timer: suspicionMaxTimeoutMult × suspicionMult × log10(n) × probeIntervalMs,
  // with log10(n) up to 5 (100,000 members), must be a timer the runtime can arm.
  const longest = c.suspicionMaxTimeoutMult * c.suspicionMult * 5 * c.probeIntervalMs;
  // (A probeIntervalMs above the limit by itself is reported by its own check.)
  if (longest > MAX_TIMER_MS && c.probeIntervalMs <= MAX_TIMER_MS) {
    ctx.addIssue({
      code: "custom",
      path: ["probeIntervalMs"],
      message: `${c.probeIntervalMs} ms with suspicionMult ${c.suspicionMult} and suspicionMaxTimeoutMult ` +
        `${c.suspicionMaxTimeoutMult} gives suspicion timers up to ${longest} ms, above ${MAX_TIMER_MS} (2^31-1 ms), ` +
        `the longest timer`,
    });
  }
}).prefault({});
