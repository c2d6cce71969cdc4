/**
 * `status/`: one view of the whole cluster, shared by `webcache status`, the admin endpoint's
 * `/cluster/status` and the dashboard.
 *
 * | file                | what                                                                 |
 * |---------------------|----------------------------------------------------------------------|
 * | `cluster_status.ts` | the aggregated document ({@link ClusterStatus})                       |
 * | `members.ts`        | where the members come from: gossip records or admin addresses       |
 * | `aggregator.ts`     | asks every member's `/status` (and `/metrics`, `/director/status`)    |
 * | `client.ts`         | asks one node for `/cluster/status`, or aggregates itself             |
 * | `render.ts`         | the terminal tables of `webcache status`                              |
 * | `top_urls.ts`       | a cache's most requested URLs in bounded memory (Space-Saving)        |
 * | `_extract.ts`       | the one place that knows the roles' `/status` field names            |
 * | `_prom.ts`          | reading counters from Prometheus text                                |
 *
 * @module
 */
export { type AggregatorOptions, ClusterAggregator } from "./aggregator.ts";
export { CLUSTER_STATUS_PATH, ClusterStatusClient } from "./client.ts";
export {
  type ArrayTotals,
  type CacheFigures,
  CLUSTER_STATUS_VERSION,
  type ClusterStatus,
  type DirectorFigures,
  type HistoryPoint,
  type MemberStatus,
  type ServerRow,
  type ServiceRow,
  type TopUrl,
} from "./cluster_status.ts";
export {
  adminMembers,
  type MemberRef,
  memberRefsFromAddresses,
  memberRefsFromRecords,
  type MemberSource,
  staticMembers,
} from "./members.ts";
export { formatBytes, formatDuration, formatPercent, renderClusterStatus, table } from "./render.ts";
export {
  MAX_TRACKED_URL_BYTES,
  mergeTopUrls,
  type RequestLog,
  type TopUrlCount,
  TopUrls,
  trackTopUrls,
} from "./top_urls.ts";
