/**
 * The process-wide Prometheus registry. Each folder declares its metrics in its own `metrics.ts`
 * on this registry, named `webcache_<component>_<thing>_<unit>`.
 *
 * @module
 */
import client from "prom-client";

/** The registry served at `/metrics`. */
export const registry: client.Registry = new client.Registry();

/** prom-client's metric classes, re-exported so folders need not import the package themselves. */
export const { Counter, Gauge, Histogram } = client;

/** One metric of one registry as plain data (`registry.getMetricsAsJSON()`), cloneable across workers. */
export type MetricSnapshot = client.MetricObjectWithValues<client.MetricValue<string>>;

let otherThreads: () => MetricSnapshot[][] = () => [];

/**
 * Sets where `/metrics` finds the metrics of other threads of this process (cache workers, each
 * with its own registry); they are added to this registry's by summing same-named series.
 *
 * @param fn returns one snapshot list per other thread (from {@link threadMetricsSnapshot})
 */
export function setOtherThreadMetrics(fn: () => MetricSnapshot[][]): void {
  otherThreads = fn;
}

/**
 * This thread's counters and histograms that have values, for the main thread to add to its own
 * (gauges stay with the main thread: they describe the process, or are summed there already).
 *
 * @param exclude names the main thread already sums itself
 */
export async function threadMetricsSnapshot(exclude: ReadonlySet<string>): Promise<MetricSnapshot[]> {
  return (await registry.getMetricsAsJSON()).filter((m) =>
    (String(m.type) === "counter" || String(m.type) === "histogram") && !exclude.has(m.name) &&
    m.values.some((v) => v.value !== 0)
  ) as MetricSnapshot[];
}

/**
 * The `/metrics` text: this registry plus the other threads' counters and histograms, summed
 * series by series (prom-client's `AggregatorRegistry.aggregate`).
 */
export async function renderMetrics(): Promise<string> {
  const others = otherThreads();
  if (others.length === 0) return await registry.metrics();
  return await client.AggregatorRegistry.aggregate([await registry.getMetricsAsJSON(), ...others]).metrics();
}

/** Process metrics shared by both roles. */
export const buildInfo = new client.Gauge({
  name: "webcache_build_info",
  help: "Always 1; labels carry the webcache version and role.",
  labelNames: ["version", "role"],
  registers: [registry],
});

export const processStart = new client.Gauge({
  name: "webcache_process_start_time_seconds",
  help: "Start time of the process since the Unix epoch, in seconds.",
  registers: [registry],
});
processStart.set(Date.now() / 1000);

export const processHeapBytes = new client.Gauge({
  name: "webcache_process_heap_used_bytes",
  help: "V8 heap in use, in bytes.",
  registers: [registry],
  collect() {
    this.set(Deno.memoryUsage().heapUsed);
  },
});

export const processRssBytes = new client.Gauge({
  name: "webcache_process_resident_memory_bytes",
  help: "Resident set size of the process, in bytes.",
  registers: [registry],
  collect() {
    this.set(Deno.memoryUsage().rss);
  },
});
