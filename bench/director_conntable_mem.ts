/**
 * Bytes per connection-table entry: fills a Dispatcher with 1,000,000 connections (persistence
 * off) and reports heap growth (Deno.memoryUsage after GC) divided by the number of entries, plus
 * the typed-array bytes the table accounts for (those live outside the V8 heap, in
 * `external`). Target: 1M entries in under 200 MB.
 *
 * Run: deno run -A --v8-flags=--expose-gc bench/director_conntable_mem.ts [ENTRIES]
 */
import { Dispatcher } from "../lb/dispatcher.ts";
import { TCP_SYN } from "../lb/tcp_state.ts";

const n = Number(Deno.args[0] ?? 1_000_000);
const gc = (globalThis as { gc?: () => void }).gc;
const snap = () => {
  gc?.();
  gc?.();
  const m = Deno.memoryUsage();
  return { heap: m.heapUsed, external: m.external, rss: m.rss };
};
const before = snap();
const d = new Dispatcher({ maxConnections: n });
d.configure([{
  vip: "10.0.0.100",
  port: 80,
  scheduler: "wlc",
  reals: Array.from({ length: 8 }, (_, i) => ({ address: `10.0.1.${i + 1}` })),
}]);
const flow = { saddr: 0, sport: 0, daddr: 0x0a000064, dport: 80 };
const t0 = performance.now();
for (let i = 0; i < n; i++) {
  flow.saddr = 0x0b000000 + (i >>> 4);
  flow.sport = 1024 + (i & 0xf) * 4000 + (i % 4000);
  if (d.schedule(flow, TCP_SYN, 0) === undefined) throw new Error("not scheduled");
}
const ms = performance.now() - t0;
const after = snap();
const heap = after.heap - before.heap;
const ext = after.external - before.external;
const mb = (x: number) => (x / 1048576).toFixed(1);
console.log(JSON.stringify({
  entries: d.table.size,
  overflowed: d.counters.overflow,
  insertsPerS: Math.round(n / (ms / 1000)),
  heapGrowthMB: mb(heap),
  externalGrowthMB: mb(ext),
  rssGrowthMB: mb(after.rss - before.rss),
  tableTypedArrayMB: mb(d.table.bytes),
  bytesPerEntryHeapPlusExternal: ((heap + ext) / n).toFixed(1),
  bytesPerEntryTable: (d.table.bytes / n).toFixed(1),
}));
