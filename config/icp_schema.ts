/**
 * `icp:` — Internet Cache Protocol v2 (RFC 2186/2187) between caches.
 *
 * @module
 */
import { z } from "zod";
import { cidr, count, durationMs, ipAddress, ipv4, port } from "./_types.ts";

/** Schema of the `icp` section. */
export const IcpSchema = z.strictObject({
  enabled: z.boolean().default(true).describe("Run the ICP server and query siblings on a miss. Reload: no."),
  port: port().default(3130).describe("UDP port of the ICP server (Squid's icp_port). Reload: no."),
  listen: ipAddress().default("0.0.0.0").describe("IP address the ICP server binds. Reload: no."),
  acl: z.array(cidr()).optional().describe(
    "Networks allowed to query; others get DENIED. Default: known peers only (configured and cluster members).",
  ),
  timeoutMs: durationMs(10).default(2000).describe(
    "Upper bound of the adaptive query timeout (about 2 × recent peer round trip). Squid: icp_query_timeout.",
  ),
  minTimeoutMs: durationMs(1).default(5).describe(
    "Lower bound of the adaptive query timeout, ms (Squid minimum_icp_query_timeout); raise it on loaded " +
      "hosts where 2 × RTT is too tight. Reload: no.",
  ),
  deadPeerMs: durationMs(100).default(10000).describe(
    "A peer that answered nothing for this long is dead (not queried) until it answers again. Squid: dead_peer_timeout.",
  ),
  multicast: z.strictObject({
    group: ipv4().optional().describe("Multicast group to send queries to and join; unset disables multicast."),
    ttl: count(0).max(255).default(1).describe("TTL of multicast queries; 1 keeps them on the local link."),
    interface: z.string().optional().describe("IPv4 address of the interface to send and join on."),
    probeIntervalMs: durationMs(1000).default(60000).describe(
      "How often to count the group's members with a probe query (Squid counts every 15 min); the average " +
        "is how many replies a multicast query waits for. Reload: no.",
    ),
  }).prefault({}),
}).superRefine((c, ctx) => {
  const first = Number(c.multicast.group?.split(".")[0]);
  if (c.multicast.group && !(first >= 224 && first <= 239)) {
    ctx.addIssue({
      code: "custom",
      path: ["multicast", "group"],
      message: `"${c.multicast.group}" is not a multicast address (224.0.0.0-239.255.255.255)`,
    });
  }
  if (c.multicast.group && c.listen !== "0.0.0.0") {
    ctx.addIssue({
      code: "custom",
      path: ["listen"],
      message: `"${c.listen}" cannot receive multicast: with icp.multicast.group set, icp.listen must be 0.0.0.0`,
    });
  }
}).prefault({});
