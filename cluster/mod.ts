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
 * | `keyring.ts`          | AES-GCM envelopes, key ring, key sources                           |
 * | `transport.ts`        | UDP + TCP on one port                                              |
 * | `discovery.ts`        | `--peers auto` by multicast (239.255.77.46:7947 by default)        |
 * | `config_hash.ts`      | the config hash gossiped in records                                |
 * | `metrics.ts`          | `webcache_cluster_*` metrics                                       |
 * | `sim/`                | in-memory network and fake clock for the simulator                 |
 *
 * @module
 */
export type { NodeRecord, NodeRole, NodeState } from "./node.ts";
export {
  type ConfigEventDetail,
  type LocalRecord,
  type MembersDocument,
  Membership,
  type MembershipOptions,
} from "./membership.ts";
export { acceptConfig, classifyChanges, type ConfigChanges, diffConfig, isReloadable } from "./config_sync.ts";
export { configHash, NODE_LOCAL_KEYS, normalisedConfig } from "./config_hash.ts";
export { loadOrCreateNodeId } from "./node_id.ts";
export { decodeKey, Keyring, parseKeyFile, resolveClusterKeys } from "./keyring.ts";
export { suspicionTimeoutMs } from "./suspicion.ts";
export { retransmitLimit } from "./broadcast_queue.ts";
