/**
 * Director high availability (`director.ha.mode: active-backup`): keepalived's VRRP and the IPVS
 * sync daemon, built into the director.
 *
 * - `election.ts`: the pure MASTER election of a VIP group (priority, preempt / nopreempt, preempt
 *   delay, release, FAULT), fed heartbeats and time.
 * - `message.ts`: the channel's pure codec (heartbeat, sync batch) with its byte diagram;
 *   `replay_guard.ts`: epoch + sequence replay check on top of the cluster key's AES-GCM envelope.
 * - `ha_node.ts`: the runtime on the main thread: UDP heartbeats to the peers, the election's timers,
 *   switching the data plane (`ha_dataplane.ts`) between forwarding and standby, the release on a
 *   clean stop, sending the MASTER's connection changes and receiving the peers'.
 * - Connection sync in the data-plane Worker (`loop_hook.ts`): the MASTER's journal of table changes
 *   (`conn_change_log.ts`, fed by the dispatcher's `ConnChangeLog` hook), batches built by key
 *   (`conn_state_builder.ts`) and split for datagrams (`sync_chunks.ts`); a BACKUP applies them
 *   (`sync_apply.ts`) from the shared-memory inbox (`sync_inbox.ts`).
 * - `sync_gap_tracker.ts`: a BACKUP's pure bookkeeping of the MASTER's numbered sync batches (gaps,
 *   late and duplicate batches, full-table repair) that decides when to ask for a resync.
 * - `status_lines.ts` and `metrics.ts`: `webcache director status` and `webcache_director_ha_*`.
 *
 * @module
 */
export { Election, type ElectionOptions, type ElectionOutput, type HaRole, type Heartbeat } from "./election.ts";
export {
  decodeHaMessage,
  encodeHeartbeat,
  encodeResync,
  encodeSync,
  HaDecodeError,
  type HaHeartbeat,
  type HaMessage,
  type HaResync,
  type HaSync,
} from "./message.ts";
export { ReplayGuard } from "./replay_guard.ts";
export { HaNode, type HaNodeOptions, type HaStatus } from "./ha_node.ts";
export type { HaDataplane, SyncCounters } from "./ha_dataplane.ts";
export { ConnChangeJournal } from "./conn_change_log.ts";
export { applySyncBatch, type SyncApplySummary } from "./sync_apply.ts";
export { chunkConnState } from "./sync_chunks.ts";
export { type ResyncDue, type SyncGapOptions, SyncGapTracker } from "./sync_gap_tracker.ts";
export { SyncInbox } from "./sync_inbox.ts";
export { HaLoopHook, type HaLoopInit, type HaSyncMessage } from "./loop_hook.ts";
export { formatHaStatus } from "./status_lines.ts";
