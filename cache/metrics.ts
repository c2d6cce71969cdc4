/**
 * Cache metrics. The hot path counts into a plain {@link CacheCounters} object (no label lookups
 * per request); the Prometheus metrics read the sums of every worker's counters when scraped, so
 * `/metrics` of the main process covers all workers.
 *
 * | metric | type | labels |
 * |---|---|---|
 * | `webcache_cache_requests_total` | counter | `result`: hit, stale, revalidated, miss, pass, tunnel, purge, denied, error, only_if_cached |
 * | `webcache_cache_client_bytes_total` | counter | bytes sent to clients |
 * | `webcache_cache_origin_bytes_total` | counter | body bytes received from origins and peers |
 * | `webcache_cache_collapsed_requests_total` | counter | requests served by another request's origin fetch |
 * | `webcache_cache_origin_failures_total` | counter | `reason`: connect, refused, timeout, reset, protocol, tls |
 * | `webcache_cache_origin_latency_seconds` | histogram | time to the origin's response head |
 * | `webcache_cache_stored_objects` / `webcache_cache_stored_bytes` | gauge | memory tier contents |
 * | `webcache_cache_worker_copies_total` | counter | `result`: copied, absent, timeout, invalidated (objects pulled from another worker) |
 * | `webcache_cache_purges_total` | counter | `kind`: url, prefix, regex; `source`: local (received here), peer (from another cache) |
 * | `webcache_cache_purge_acks_total` | counter | `result`: ok, failed (other caches' acknowledgements of purges sent from here) |
 * | `webcache_cache_bans` | gauge | bans held by the main process (`cache/ban_list.ts`) |
 * | `webcache_cache_ban_lazy_deletes_total` | counter | objects a lookup found banned and deleted |
 *
 * Other counters and histograms that workers update (this histogram, peering choices, disk
 * counters) reach `/metrics` as each worker's registry snapshot, sent with its statistics every
 * second and summed by the main process (`renderMetrics` in `core/metrics.ts`).
 *
 * @module
 */
import { Counter, Gauge, Histogram, registry } from "../core/metrics.ts";

/** Request results, the `result` label values (and `/status` keys). */
export const RESULTS: readonly [
  "hit",
  "stale",
  "revalidated",
  "miss",
  "pass",
  "tunnel",
  "purge",
  "denied",
  "error",
  "only_if_cached",
] = [
  "hit",
  "stale",
  "revalidated",
  "miss",
  "pass",
  "tunnel",
  "purge",
  "denied",
  "error",
  "only_if_cached",
] as const;
/** A request result. */
export type CacheResult = typeof RESULTS[number];

/** Plain counters of one worker. */
export interface CacheCounters {
  /** Requests by result (`hit`, `miss`, ...). */
  requests: Record<string, number>;
  /** Bytes written to clients. */
  clientBytes: number;
  /** Body bytes received from origins and peers. */
  originBytes: number;
  /** Requests served from another request's fetch. */
  collapsed: number;
  /** Origin failures by reason. */
  originFailures: Record<string, number>;
  /** Objects in the memory tier. */
  storedObjects: number;
  /** Bytes in the memory tier. */
  storedBytes: number;
}

/** Creates zeroed counters. */
export function newCounters(): CacheCounters {
  return {
    requests: {},
    clientBytes: 0,
    originBytes: 0,
    collapsed: 0,
    originFailures: {},
    storedObjects: 0,
    storedBytes: 0,
  };
}

/** This worker's counters. */
export const counters: CacheCounters = newCounters();

let sources: () => CacheCounters[] = () => [counters];

/**
 * Sets where the Prometheus collectors read counters from (the main process adds its workers').
 *
 * @param fn returns every worker's latest counters
 */
export function setCounterSources(fn: () => CacheCounters[]): void {
  sources = fn;
}

/** Sums counters of several workers. */
export function sumCounters(list: CacheCounters[]): CacheCounters {
  const out = newCounters();
  for (const c of list) {
    for (const [k, v] of Object.entries(c.requests)) out.requests[k] = (out.requests[k] ?? 0) + v;
    for (const [k, v] of Object.entries(c.originFailures)) out.originFailures[k] = (out.originFailures[k] ?? 0) + v;
    out.clientBytes += c.clientBytes;
    out.originBytes += c.originBytes;
    out.collapsed += c.collapsed;
    out.storedObjects += c.storedObjects;
    out.storedBytes += c.storedBytes;
  }
  return out;
}

/**
 * Metrics the main process sums from every worker's {@link CacheCounters} itself; workers leave
 * them out of the snapshots the main process adds to its registry (`threadMetricsSnapshot`).
 */
export const SUMMED_IN_MAIN: ReadonlySet<string> = new Set([
  "webcache_cache_requests_total",
  "webcache_cache_client_bytes_total",
  "webcache_cache_origin_bytes_total",
  "webcache_cache_collapsed_requests_total",
  "webcache_cache_origin_failures_total",
]);

/** Numeric (unlabelled) fields of {@link CacheCounters}, summed over every worker at scrape time. */
type SummedField = "clientBytes" | "originBytes" | "collapsed" | "storedObjects" | "storedBytes";

function summedCounter(name: string, help: string, field: SummedField) {
  return new Counter({
    name,
    help,
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sumCounters(sources())[field]);
    },
  });
}

function summedGauge(name: string, help: string, field: SummedField) {
  return new Gauge({
    name,
    help,
    registers: [registry],
    collect() {
      this.set(sumCounters(sources())[field]);
    },
  });
}

/** Counts one request result. */
export function countRequest(result: CacheResult): void {
  counters.requests[result] = (counters.requests[result] ?? 0) + 1;
}

/** Counts one origin failure. */
export function countOriginFailure(reason: string): void {
  counters.originFailures[reason] = (counters.originFailures[reason] ?? 0) + 1;
}

/** Records one origin latency (seconds); observed by the histogram of this process. */
export function observeOriginLatency(seconds: number): void {
  originLatency.observe(seconds);
}

/** Requests by result. */
export const requestsTotal = new Counter({
  name: "webcache_cache_requests_total",
  help: "Client requests by result (hit, stale, revalidated, miss, pass, tunnel, purge, denied, error).",
  labelNames: ["result"],
  registers: [registry],
  collect() {
    const s = sumCounters(sources());
    this.reset();
    for (const [k, v] of Object.entries(s.requests)) this.inc({ result: k }, v);
  },
});

/** Bytes to clients. */
export const clientBytesTotal = summedCounter(
  "webcache_cache_client_bytes_total",
  "Bytes written to clients (heads and bodies).",
  "clientBytes",
);

/** Body bytes from origins. */
export const originBytesTotal = summedCounter(
  "webcache_cache_origin_bytes_total",
  "Body bytes received from origin servers and peers.",
  "originBytes",
);

/** Collapsed requests. */
export const collapsedTotal = summedCounter(
  "webcache_cache_collapsed_requests_total",
  "Requests answered from another request's origin fetch (collapsed forwarding).",
  "collapsed",
);

/** Origin failures by reason. */
export const originFailuresTotal = new Counter({
  name: "webcache_cache_origin_failures_total",
  help: "Origin requests that failed, by reason (connect, refused, timeout, reset, protocol, tls).",
  labelNames: ["reason"],
  registers: [registry],
  collect() {
    const s = sumCounters(sources());
    this.reset();
    for (const [k, v] of Object.entries(s.originFailures)) this.inc({ reason: k }, v);
  },
});

/** Origin latency. */
export const originLatency = new Histogram({
  name: "webcache_cache_origin_latency_seconds",
  help: "Time from sending a request to an origin until its response head arrived, in seconds.",
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [registry],
});

/** Stored objects. */
export const storedObjects = summedGauge(
  "webcache_cache_stored_objects",
  "Objects in the memory tier (all workers).",
  "storedObjects",
);

/** Stored bytes. */
export const storedBytes = summedGauge(
  "webcache_cache_stored_bytes",
  "Bytes held by the memory tier (all workers), bodies plus headers and overhead.",
  "storedBytes",
);

/** Copies of objects pulled from another worker (`lazy_copy.ts`), by result. */
export const workerCopies = new Counter({
  name: "webcache_cache_worker_copies_total",
  help: "Objects a worker asked another worker for after a local miss, by result: copied, absent (the other " +
    "worker no longer had it), timeout, invalidated (a PURGE or unsafe method raced the copy; dropped).",
  labelNames: ["result"],
  registers: [registry],
});

/** Purges applied, by kind and by where they came from (main process). */
export const purgesTotal = new Counter({
  name: "webcache_cache_purges_total",
  help: "Purges applied, by kind (url, prefix, regex) and source (local: received here; peer: from another cache).",
  labelNames: ["kind", "source"],
  registers: [registry],
});

/** Acknowledgements of purges sent to other caches (main process). */
export const purgeAcksTotal = new Counter({
  name: "webcache_cache_purge_acks_total",
  help: "Other caches' answers to purges sent from here: ok, or failed (they converge by ban list sync).",
  labelNames: ["result"],
  registers: [registry],
});

/** Bans held by the main process. */
export const bansGauge = new Gauge({
  name: "webcache_cache_bans",
  help: "Purge bans held (url, prefix and regex; retired ones fold into the ban floor).",
  registers: [registry],
});

/** Objects deleted because a lookup met them under a ban (every worker). */
export const banLazyDeletesTotal = new Counter({
  name: "webcache_cache_ban_lazy_deletes_total",
  help: "Objects a lookup found covered by a purge ban (or the ban floor) and deleted.",
  registers: [registry],
});
