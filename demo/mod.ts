/**
 * `demo/`: everything `webcache demo` needs besides the roles themselves: the origin with its
 * objects ({@link DemoOrigin}), the seeded Zipf workload ({@link ZipfSampler}), the closed-loop load
 * client with its progress bar, the summary, and the orchestration that starts and removes a whole
 * cluster on one machine.
 *
 * @module
 */
export {
  DemoOrigin,
  MAX_OBJECT_BYTES,
  objectSizes,
  ORIGIN_STATS_PATH,
  type OriginOptions,
  type OriginStats,
} from "./origin.ts";
export { type Random, seededRandom } from "./random.ts";
export { type ZipfOptions, ZipfSampler } from "./zipf.ts";
export { type CacheVerdict, cacheVerdict, lastViaNode, parseXCache, type XCacheEntry } from "./cache_header.ts";
export { type LoadOptions, type LoadProgress, type LoadReport, type NodeLoad, quantile, runLoad } from "./load.ts";
export { ProgressBar, type ProgressOptions, renderBar } from "./progress.ts";
export {
  buildSummary,
  type CacheSummary,
  type DemoMode,
  type DemoSummary,
  renderSummary,
  type SummaryInput,
} from "./summary.ts";
export { chooseMode, type DemoJson, type DemoOptions, runDemo } from "./run_demo.ts";
export {
  type DemoCluster,
  demoClusterName,
  type DemoClusterOptions,
  type DemoNode,
  writeClusterKey,
} from "./demo_cluster.ts";
export { LoopbackCluster, waitRealsUp } from "./loopback_cluster.ts";
export { NetnsCluster } from "./netns_cluster.ts";
export { NetnsTopology, type NsHost, pickSubnet } from "./netns_topology.ts";
export { NodeProcess, type NodeSpawnOptions, waitHealthy, webcacheArgv } from "./node_process.ts";
export { freePorts, freeTcpPort, freeUdpPort } from "./free_port.ts";
export {
  cacheConfig,
  type CacheSpec,
  type ClusterPlan,
  DEMO_SERVICE,
  directorConfig,
  type DirectorSpec,
} from "./node_config.ts";
