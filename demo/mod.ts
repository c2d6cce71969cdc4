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
