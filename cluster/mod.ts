/**
 * Cluster membership: who is alive, each node's role, addresses, weight and config version,
 * by SWIM gossip with the Lifeguard refinements, authenticated and encrypted with AES-GCM.
 * After HashiCorp memberlist:
 *
 * | file                  | what                                                               |
 * |-----------------------|--------------------------------------------------------------------|
 * | `node.ts`             | the `NodeRecord` every node gossips                                |
 * | `membership.ts`       | `Membership`: the API the roles use                                |
 * | `swim.ts`             | the SWIM/Lifeguard state machine (transport- and clock-agnostic)   |
 * | `suspicion.ts`        | Lifeguard suspicion timers                                         |
 * | `awareness.ts`        | Lifeguard local health awareness                                   |
 * | `broadcast_queue.ts`  | piggybacked updates with a retransmit limit                        |
 * | `codec.ts`            | pure wire codec (byte diagrams there)                              |
 * | `ban_codec.ts`        | pure codec of purge bans (gossip `purge`/`bans`, `bans.bin`)       |
 * | `keyring.ts`          | AES-GCM envelopes, key ring, key sources                           |
 * | `transport.ts`        | UDP + TCP on one port                                              |
 * | `discovery.ts`        | `--peers auto` by multicast (239.255.77.46:7947 by default)        |
 * | `config_hash.ts`      | the config hash and the node-local keys it leaves out              |
 * | `config_version.ts`   | config versions (counter + hash), their order and version file     |
 * | `config_syncer.ts`    | `cluster.configSync` at run time: pull, refuse, publish            |
 * | `select.ts`           | live members for a role (siblings, real servers)                   |
 * | `config_sync.ts`      | `cluster.configSync`: checking and classifying a peer's config     |
 * | `node_id.ts`          | the stable node id file                                            |
 * | `clock.ts`            | real time, or simulated time for `sim/`                            |
 * | `metrics.ts`          | `webcache_cluster_*` metrics                                       |
 * | `sim/`                | in-memory network and fake clock for the simulator                 |
 *
 * ## Operating it
 *
 * - Key: `head -c 32 /dev/urandom | base64 > /etc/webcache/cluster.key` (mode 0600), then
 *   `cluster.keyFile` or `--cluster-key-file`, or the `WEBCACHE_CLUSTER_KEY` environment variable;
 *   never a key on a command line. Without a key a node with peers refuses to start unless
 *   `cluster.insecure: true`.
 * - Rotation without a split (three rolling restarts, like `serf keys`): (1) append the new key
 *   as a second line of the key file on every node; (2) move it to the first line (primary) on
 *   every node; (3) remove the old line.
 * - Ports: UDP and TCP `cluster.gossipListen` (default 7946) between all nodes; UDP 7947 to the
 *   multicast group 239.255.77.46 for `--peers auto` (TTL 1: one link).
 * - Failure detection time ≈ one probe interval + the suspicion time: `suspicionMult ×
 *   max(1, log10 n) × probeIntervalMs` with enough independent confirmations, up to
 *   `suspicionMaxTimeoutMult` times that with none (4 s to 24 s for 10 nodes at the defaults).
 * - `webcache members` lists the cluster as one node sees it with each node's config version;
 *   `*` marks other config hashes, `!` a node that refused a newer version (the reason below).
 *
 * @module
 */
export type { ConfigRefusal, NodeRecord, NodeRole, NodeState } from "./node.ts";
export {
  type ConfigEventDetail,
  type LocalRecord,
  type MembersDocument,
  Membership,
  type MembershipOptions,
} from "./membership.ts";
export {
  acceptConfig,
  classifyChanges,
  type ConfigChanges,
  ConfigHashMismatchError,
  diffConfig,
  isReloadable,
  mergeNodeLocal,
  mergeNodeLocalText,
  type ReceivedConfig,
} from "./config_sync.ts";
export {
  compareVersions,
  type ConfigVersion,
  isNewerConfig,
  nextVersion,
  readVersionFile,
  startupVersion,
  versionFileOf,
  writeVersionFile,
} from "./config_version.ts";
export { CONFIG_RETRY_MS, ConfigSyncer, type ConfigUpdate } from "./config_syncer.ts";
export { configHash, NODE_LOCAL_KEYS, normalisedConfig } from "./config_hash.ts";
export { loadOrCreateNodeId } from "./node_id.ts";
export {
  decodeKey,
  EnvelopeError,
  Keyring,
  type KeySources,
  type OpenReason,
  parseKeyFile,
  resolveClusterKeys,
} from "./keyring.ts";
export {
  type MemberInfo,
  type ProbeResult,
  Swim,
  type SwimHooks,
  type SwimOptions,
  type SwimState,
  type SwimTransport,
} from "./swim.ts";
export { type Clock, realClock, type TimerHandle } from "./clock.ts";
export * from "./codec.ts";
export * from "./ban_codec.ts";
export { suspicionTimeoutMs } from "./suspicion.ts";
export { retransmitLimit } from "./broadcast_queue.ts";
export { liveMembers, type MemberFilter } from "./select.ts";
