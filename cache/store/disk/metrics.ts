/**
 * Metrics of the disk store, on the shared registry. Every series has a `dir` label (the cache
 * directory path).
 *
 * @module
 */
import { Counter, Gauge, registry } from "../../../core/metrics.ts";

/** Objects served from disk. */
export const diskHits = new Counter({
  name: "webcache_cache_disk_hits_total",
  help: "Lookups answered from a cache directory.",
  labelNames: ["dir"],
  registers: [registry],
});

/** Lookups that found nothing on disk. */
export const diskMisses = new Counter({
  name: "webcache_cache_disk_misses_total",
  help: "Lookups that found no object in a cache directory.",
  labelNames: ["dir"],
  registers: [registry],
});

/** Objects committed to disk. */
export const diskWrites = new Counter({
  name: "webcache_cache_disk_writes_total",
  help: "Objects written and renamed into place in a cache directory.",
  labelNames: ["dir"],
  registers: [registry],
});

/** Failed stores, by reason: nospace, io, toolarge, length. */
export const diskWriteFailures = new Counter({
  name: "webcache_cache_disk_write_failures_total",
  help: "Objects that could not be stored, by reason (nospace, io, toolarge, length).",
  labelNames: ["dir", "reason"],
  registers: [registry],
});

/** Files found damaged on load and deleted. */
export const diskDamaged = new Counter({
  name: "webcache_cache_disk_damaged_total",
  help: "Object files found damaged (bad header, length or checksum) and deleted; never served.",
  labelNames: ["dir"],
  registers: [registry],
});

/** Objects evicted to keep a directory under its watermarks. */
export const diskEvictions = new Counter({
  name: "webcache_cache_disk_evictions_total",
  help: "Objects evicted to keep a cache directory between its low and high watermarks.",
  labelNames: ["dir"],
  registers: [registry],
});

/** Bytes stored in a directory (as known to its evicting process). */
export const diskBytes = new Gauge({
  name: "webcache_cache_disk_bytes",
  help: "Bytes of object files in a cache directory, as known to the evicting process.",
  labelNames: ["dir"],
  registers: [registry],
});

/** Objects stored in a directory (as known to its evicting process). */
export const diskObjects = new Gauge({
  name: "webcache_cache_disk_objects",
  help: "Object files in a cache directory, as known to the evicting process.",
  labelNames: ["dir"],
  registers: [registry],
});
