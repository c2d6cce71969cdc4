/**
 * Metrics of cluster membership, on the shared registry:
 *
 * | name                                          | type    | labels  | meaning                                   |
 * |-----------------------------------------------|---------|---------|-------------------------------------------|
 * | `webcache_cluster_members`                    | gauge   | state   | members known, by state (self included)   |
 * | `webcache_cluster_probes_total`               | counter | result  | probes: ack, indirect, tcp, failed        |
 * | `webcache_cluster_suspicions_total`           | counter |         | members this node started to suspect      |
 * | `webcache_cluster_deaths_total`               | counter | how     | members marked dead (failed) or left      |
 * | `webcache_cluster_refutations_total`          | counter |         | suspicions about this node it refuted     |
 * | `webcache_cluster_messages_received_total`    | counter |         | gossip messages decoded                   |
 * | `webcache_cluster_messages_dropped_total`     | counter | reason  | input dropped: auth, short, garbled, ...  |
 * | `webcache_cluster_push_pulls_total`           | counter | result  | full-state exchanges: ok, failed          |
 * | `webcache_cluster_awareness_score`            | gauge   |         | Lifeguard health score (0 is healthy)     |
 * | `webcache_cluster_id_conflicts_total`         | counter |         | other nodes seen claiming this node's id  |
 * | `webcache_cluster_config_syncs_total`         | counter | result  | configSync: adopted, refused, failed, published |
 * | `webcache_cluster_config_version`             | gauge   |         | counter of the config version this node runs |
 *
 * @module
 */
import { Counter, Gauge, registry } from "../core/metrics.ts";

/** Members known, by state. */
export const membersGauge = new Gauge({
  name: "webcache_cluster_members",
  help: "Cluster members known to this node, by state (alive, suspect, dead, left, draining), self included.",
  labelNames: ["state"],
  registers: [registry],
});

/** Probe outcomes. */
export const probesTotal = new Counter({
  name: "webcache_cluster_probes_total",
  help: "Failure-detection probes by result: ack (direct), indirect, tcp (fallback), failed.",
  labelNames: ["result"],
  registers: [registry],
});

/** Suspicions started here. */
export const suspicionsTotal = new Counter({
  name: "webcache_cluster_suspicions_total",
  help: "Members this node learned to suspect (locally raised or gossiped).",
  registers: [registry],
});

/** Members marked dead or left. */
export const deathsTotal = new Counter({
  name: "webcache_cluster_deaths_total",
  help: "Members marked dead after a suspicion timeout (how=failed) or after announcing their leave (how=left).",
  labelNames: ["how"],
  registers: [registry],
});

/** Refutations. */
export const refutationsTotal = new Counter({
  name: "webcache_cluster_refutations_total",
  help: "Suspicions or death declarations about this node that it refuted by raising its incarnation.",
  registers: [registry],
});

/** Messages received and decoded. */
export const messagesReceivedTotal = new Counter({
  name: "webcache_cluster_messages_received_total",
  help: "Gossip messages received, authenticated and decoded.",
  registers: [registry],
});

/** Input dropped, by reason. */
export const messagesDroppedTotal = new Counter({
  name: "webcache_cluster_messages_dropped_total",
  help: "Gossip input dropped, by reason: auth, unencrypted, encrypted, cluster, short, oversized, version, type, " +
    "garbled, wrong-node, stale, replay, busy (too many unauthenticated TCP connections), timeout, error.",
  labelNames: ["reason"],
  registers: [registry],
});

/** Push-pull exchanges. */
export const pushPullsTotal = new Counter({
  name: "webcache_cluster_push_pulls_total",
  help: "Full-state TCP exchanges started by this node, by result (ok, failed).",
  labelNames: ["result"],
  registers: [registry],
});

/** Lifeguard awareness. */
export const awarenessGauge = new Gauge({
  name: "webcache_cluster_awareness_score",
  help: "Lifeguard local health score: 0 healthy; each step stretches probe intervals and timeouts by one more factor.",
  registers: [registry],
});

/** Id conflicts. */
export const conflictsTotal = new Counter({
  name: "webcache_cluster_id_conflicts_total",
  help: "Alive messages about this node's id from another address: two nodes share a name or an id file.",
  registers: [registry],
});

/** configSync outcomes. */
export const configSyncsTotal = new Counter({
  name: "webcache_cluster_config_syncs_total",
  help: "cluster.configSync: peer config versions adopted, refused (invalid on this node or the role could not " +
    "apply them; the old config stays), failed (fetch or hash problem, retried), and local changes published.",
  labelNames: ["result"],
  registers: [registry],
});

/** The config version counter this node runs. */
export const configVersionGauge = new Gauge({
  name: "webcache_cluster_config_version",
  help: "Counter of the cluster-wide config version this node runs (0: never published).",
  registers: [registry],
});
