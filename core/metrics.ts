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
