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
