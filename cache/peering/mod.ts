/**
 * The cache's peer selection on a miss: ICP sibling/parent queries (`icp/`), URL-hash ownership by
 * rendezvous hashing, and both (`cache.peering.mode`). `PeeringNode` wires it from the config;
 * `PeeringSelector` is the `PeerSelector` the miss path consults; `setPeers()` takes the cluster's
 * live caches for `--peers auto`. With several cache workers, the main process runs the
 * `PeeringNode` and each worker a selector over a `RemoteIcp` (`workerSelector()`): liveness from
 * the main process's view, ICP queries on the worker's own socket (`workerIcpClient()`).
 *
 * @module
 */
export * from "./rendezvous.ts";
export * from "./peering_selector.ts";
export * from "./peering_node.ts";
export * from "./peer_flag.ts";
export * from "./load_guard.ts";
export * from "./metrics.ts";
export * from "./members.ts";
export * from "./remote_icp.ts";
