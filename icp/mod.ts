/**
 * ICP, the Internet Cache Protocol version 2 (RFC 2186, RFC 2187), between caches of the array and
 * with Squid:
 *
 * - `opcode.ts`: wire opcodes (with Squid's reserved gaps);
 * - `message.ts`: the pure codec (byte diagrams there);
 * - `server.ts`: the UDP endpoint that answers queries (HIT / MISS / MISS_NOFETCH / DENIED / ERR)
 *   and carries our own queries;
 * - `client.ts`: lookups on a miss over unicast and multicast, adaptive timeout, dead peers;
 * - `peer_select.ts`: the pure decision rules (first HIT, first parent MISS, timeout formula);
 * - `metrics.ts`: `webcache_icp_*`.
 *
 * The cache's peer selection (ICP, URL-hash ownership) lives in `cache/peering/`.
 *
 * @module
 */
export * from "./opcode.ts";
export * from "./message.ts";
export * from "./peer_select.ts";
export * from "./server.ts";
export * from "./client.ts";
export * from "./metrics.ts";
