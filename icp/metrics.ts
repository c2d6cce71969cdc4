/**
 * Metrics of the ICP server and client, on the shared registry.
 *
 * @module
 */
import { Counter, Gauge, Histogram, registry } from "../core/metrics.ts";

/** ICP datagrams decoded, by opcode name (`QUERY`, `HIT`...). Counter. */
export const icpMessagesReceived = new Counter({
  name: "webcache_icp_messages_received_total",
  help: "ICP messages received and decoded, by opcode.",
  labelNames: ["opcode"],
  registers: [registry],
});

/** ICP datagrams sent, by opcode name. Counter. */
export const icpMessagesSent = new Counter({
  name: "webcache_icp_messages_sent_total",
  help: "ICP messages sent, by opcode.",
  labelNames: ["opcode"],
  registers: [registry],
});

/**
 * Datagrams dropped without an answer, by reason: the decoder's reasons (`short`, `version`,
 * `length`, `opcode`, `hit_obj`, `no_nul`, `empty_url`, `url_too_long`, `bad_url`) and `own` (our own
 * multicast query looped back), `unknown_peer` (a reply from a host that is no peer),
 * `unexpected_reply` (a reply to no outstanding query: late or forged), `url_mismatch`,
 * `secho` (source echo: we send no source pings), `decho_sibling` (DECHO claims a sibling),
 * `send_failed`.
 */
export const icpMessagesDropped = new Counter({
  name: "webcache_icp_messages_dropped_total",
  help: "ICP datagrams dropped without an answer, by reason.",
  labelNames: ["reason"],
  registers: [registry],
});

/** Queries sent by the client, by destination peer (`HOST:ICP_PORT` or the multicast group). Counter. */
export const icpQueriesSent = new Counter({
  name: "webcache_icp_queries_sent_total",
  help: "ICP queries sent to peers (one per peer or multicast group per miss).",
  labelNames: ["peer"],
  registers: [registry],
});

/** Outcomes of client lookups: `hit`, `parent`, `none` (all MISS), `timeout`, `no_peers`. Counter. */
export const icpLookups = new Counter({
  name: "webcache_icp_lookups_total",
  help: "Peer lookups by outcome: hit (a sibling or parent has it), parent (fetch the miss via a parent), " +
    "none (every answer was a miss), timeout (not all peers answered in time), no_peers.",
  labelNames: ["outcome"],
  registers: [registry],
});

/** Round trip of answered queries, seconds. Histogram. */
export const icpRttSeconds = new Histogram({
  name: "webcache_icp_query_rtt_seconds",
  help: "Round trip of ICP queries that were answered, in seconds.",
  buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2],
  registers: [registry],
});

/** 1 when a peer is considered alive, 0 when dead. Gauge. */
export const icpPeerUp = new Gauge({
  name: "webcache_icp_peer_up",
  help: "1 when the peer answered ICP recently (within icp.deadPeerMs of our last query), 0 when dead.",
  labelNames: ["peer"],
  registers: [registry],
});

/** Smoothed ICP round trip per peer, seconds. Gauge. */
export const icpPeerRttSeconds = new Gauge({
  name: "webcache_icp_peer_rtt_seconds",
  help: "Smoothed ICP round trip per peer (EWMA, weight 1/8), in seconds.",
  labelNames: ["peer"],
  registers: [registry],
});

/** Members answering multicast probes (running average, as Squid's mcast peer counting). Gauge. */
export const icpMulticastMembers = new Gauge({
  name: "webcache_icp_multicast_members",
  help: "Average number of group members answering a multicast ICP probe (replies expected per multicast query).",
  registers: [registry],
});
