import { assertEquals, assertStringIncludes } from "../tests/_assert.ts";
import {
  Counter,
  Histogram,
  registry,
  renderMetrics,
  setOtherThreadMetrics,
  threadMetricsSnapshot,
} from "./metrics.ts";

Deno.test("renderMetrics() adds other threads' counters and histograms to this registry's", async () => {
  const c = new Counter({ name: "webcache_test_things_total", help: "t", labelNames: ["kind"], registers: [registry] });
  const h = new Histogram({ name: "webcache_test_wait_seconds", help: "t", buckets: [0.1, 1], registers: [registry] });
  try {
    c.inc({ kind: "a" }, 2);
    h.observe(0.05);
    // What a worker would send: its own snapshot (here: this registry's, as if it were another thread).
    const worker = (await threadMetricsSnapshot(new Set(["webcache_test_things_total"]))).filter((m) =>
      m.name.startsWith("webcache_test_")
    );
    assertEquals(worker.map((m) => m.name), ["webcache_test_wait_seconds"], "excluded names and gauges are left out");
    setOtherThreadMetrics(() => [worker, worker]);
    const text = await renderMetrics();
    assertStringIncludes(text, 'webcache_test_things_total{kind="a"} 2\n');
    assertStringIncludes(text, "webcache_test_wait_seconds_count 3\n");
    assertStringIncludes(text, 'webcache_test_wait_seconds_bucket{le="0.1"} 3\n');
  } finally {
    setOtherThreadMetrics(() => []);
    registry.removeSingleMetric("webcache_test_things_total");
    registry.removeSingleMetric("webcache_test_wait_seconds");
  }
});
