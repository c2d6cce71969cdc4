/**
 * `icp:` — Internet Cache Protocol v2 (RFC 2186/2187) between caches.
 *
 * @module
 */
import { z } from "zod";
import { cidr, count, ipv4, port } from "./_types.ts";

/** Schema of the `icp` section. */
export const IcpSchema = z.strictObject({
  enabled: z.boolean().default(true).describe("Run the ICP server and query siblings on a miss. Reload: no."),
  port: port().default(3130).describe("UDP port of the ICP server (Squid's icp_port). Reload: no."),
  listen: z.string().default("0.0.0.0").describe("Address the ICP server binds. Reload: no."),
  acl: z.array(cidr()).optional().describe(
    "Networks allowed to query; others get DENIED. Default: known peers only (configured and cluster members).",
  ),
  timeoutMs: count(10).default(2000).describe(
    "Upper bound of the adaptive query timeout (about 2 × recent peer round trip). Squid: icp_query_timeout.",
  ),
  deadPeerMs: count(100).default(10000).describe(
    "A peer that answered nothing for this long is dead (not queried) until it answers again. Squid: dead_peer_timeout.",
  ),
  multicast: z.strictObject({
    group: ipv4().optional().describe("Multicast group to send queries to and join; unset disables multicast."),
    ttl: count(0).default(1).describe("TTL of multicast queries; 1 keeps them on the local link."),
    interface: z.string().optional().describe("IPv4 address of the interface to send and join on."),
  }).prefault({}),
}).prefault({});
