/**
 * Metrics of the cache's peer selection.
 *
 * @module
 */
import { Counter, registry } from "../../core/metrics.ts";

/**
 * Peer selections on a miss, by mode and choice: `origin`, `hit` (fetch a peer's copy with
 * only-if-cached), `parent` (a parent fetches the miss for us), `owner` (hash mode: the owner fetches
 * and stores it).
 */
export const peeringChoices = new Counter({
  name: "webcache_cache_peering_choices_total",
  help: "Peer selections on a miss, by peering mode and choice (origin, hit, parent, owner).",
  labelNames: ["mode", "choice"],
  registers: [registry],
});
