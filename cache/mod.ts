/**
 * The cache role: an HTTP/1.1 caching proxy in the spirit of Squid, with RFC 9111 semantics
 * (`semantics/`), a memory tier (`store/memory_store.ts`; the disk tier lives in `store/disk*`),
 * request collapsing, streaming, PURGE, the Squid access log and `webcache_cache_*` metrics.
 *
 * | file | what |
 * |---|---|
 * | `cache_handler.ts` | the entry: the fast hit path, then dispatch (PURGE, CONNECT, pass, state machine) |
 * | `request_fsm.ts` | the request state machine of GET/HEAD (lookup → hit / stale / revalidate / miss / pass) |
 * | `fetch_stage.ts` | the origin side: collapsing leadership, streaming a response into the store |
 * | `stored_update.ts` | stored headers updated from a 304 (every selected variant) or an inbound HEAD |
 * | `upstream.ts` | where a forwarded request goes (peer or origin) and sending it |
 * | `fetch_plan.ts` | the request sent upstream and the client fields it forwards |
 * | `serve_stored.ts` | a stored object to a client (conditional 304/412, Range 206/416, HEAD) |
 * | `serve_inflight.ts` | a response being fetched to one client (leader or collapsed follower) |
 * | `pass.ts` | forwarding without storing (other methods, Range misses), request bodies |
 * | `purge.ts` | PURGE and the invalidation behind it (every worker, shared index fenced) |
 * | `interim.ts` | interim (1xx) responses relayed to the client that asked, never stored |
 * | `purge_request.ts` | a purge's kind and pattern (url, prefix, regex) as a ban; what the cluster answered |
 * | `purge_fanout.ts` | cluster-wide purges: to every cache over gossip's transport, ban list sync |
 * | `purge_admin_route.ts` | `POST /purge` on the admin endpoint (`webcache purge`) |
 * | `ban_list.ts` | purges as Varnish bans, checked on lookup; retirement into the ban floor |
 * | `banned_store.ts` | a store seen through the ban list: banned objects absent, deleted when met |
 * | `ban_file.ts` | the ban list of a disk cache kept across restarts (`bans.bin`) |
 * | `connect.ts` | CONNECT on forward listeners (port ACL, then a tunnel) |
 * | `client_reply.ts` | responses the cache writes itself (errors, 502/504), client body framing |
 * | `exchange.ts` | what the stages share: the context, one request in progress, its access-log outcome |
 * | `cache_service.ts` | one worker: store, origin pool, handler, listeners |
 * | `worker_pool.ts` | more workers on the same ports (SO_REUSEPORT), invalidation between them, their channels |
 * | `shared_index.ts` | which worker holds which object: a table in shared memory (also answers ICP) |
 * | `lazy_copy.ts` | an object copied from the worker holding it when another worker misses it |
 * | `replica_batch.ts` | the codec of objects sent between workers (bodies in one transferred buffer) |
 * | `route.ts` | where a request goes per listener mode (accel, forward, transparent) |
 * | `inflight.ts` | a response being fetched, read by every collapsed client while it is stored |
 * | `shared_collapse.ts` | collapsing across workers: a claim table in shared memory |
 * | `response_head.ts` | client response heads; pre-serialised hits |
 * | `tunnel.ts` | CONNECT tunnels |
 * | `peer_selector.ts` | peering hooks: where a miss goes (ICP, `--peers auto`), local lookups for ICP |
 * | `access_log.ts` | Squid native access.log |
 * | `metrics.ts` | Prometheus metrics |
 *
 * ## Transparent proxying on a cache node
 *
 * A transparent listener takes origin-form requests that a firewall redirected to it and finds
 * the origin from `Host`. On the cache node (or the router in front of it), redirect port 80 to
 * the transparent listener with nftables, e.g. for `cache.listen: [{address: "0.0.0.0:3128",
 * mode: transparent}]`:
 *
 * ```
 * nft -f - <<'EOF'
 * table ip webcache {
 *   chain prerouting {
 *     type nat hook prerouting priority dstnat; policy accept;
 *     tcp dport 80 redirect to :3128
 *   }
 * }
 * EOF
 * ```
 *
 * Add `iifname "eth1"` (the client-facing interface) before `tcp dport` to limit it to clients,
 * and list the client networks in `cache.acl.forward` (default loopback only, so a redirected
 * client from elsewhere gets 403 until it is listed). Traffic the cache node sends itself does not
 * pass `prerouting`, so its own origin fetches to port 80 are not redirected back.
 * `tests/integration/cache_transparent_netns_test.ts` exercises exactly this rule in a namespace.
 *
 * @module
 */
export { CacheHandler, type CacheHandlerOptions } from "./cache_handler.ts";
export type { CacheContext, CacheHandlerConfig, Exchange, Invalidator, Outcome } from "./exchange.ts";
export {
  FetchStage,
  type FetchStageOptions,
  type StartedFetch,
  type StartOptions,
  WHOLE_BODY_BYTES,
} from "./fetch_stage.ts";
export { RequestFsm } from "./request_fsm.ts";
export { type FetchSource, Upstream } from "./upstream.ts";
export type { FetchPlan } from "./fetch_plan.ts";
export { type CacheCounters, type CacheResult, RESULTS } from "./metrics.ts";
export type {
  EvictionPolicy,
  ObjectKey,
  Store,
  StoredMeta,
  StoredObject,
  StoreStats,
  StoreWriter,
} from "./store/store.ts";
export { CacheService, type CacheServiceOptions, statusSection, type WorkerStats } from "./cache_service.ts";
export {
  isWorkerContext,
  type PeeringHost,
  runWorker,
  type WorkerContext,
  type WorkerPeeringLink,
  WorkerPool,
  type WorkerPoolOptions,
} from "./worker_pool.ts";
export { type ListenerMode, resolveRoute, type Route, type RouteAccess, type RouteConfig } from "./route.ts";
export { Collapser, Inflight, type InflightHead } from "./inflight.ts";
export { keyHash, SharedCollapse, type SharedCollapseOptions } from "./shared_collapse.ts";
export { type IndexEntry, SharedIndex } from "./shared_index.ts";
export { COPY_TIMEOUT_MS, LazyCopy, type LazyCopyOptions } from "./lazy_copy.ts";
export { DIRECT, type ForwardChoice, type LocalLookup, type PeerRequest, type PeerSelector } from "./peer_selector.ts";
export { AccessLog, type AccessLogEntry, formatAccessLogLine } from "./access_log.ts";
export { MemoryStore } from "./store/memory_store.ts";
