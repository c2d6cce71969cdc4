/**
 * The cost of a cache worker's delegated ICP lookup hop: a `{t:"icpq"}` message to the main thread
 * and the `{t:"icpa"}` answer (an `IcpLookup` with a HIT decision) back, as `cache/worker_pool.ts`
 * sends them, without the ICP network part. Sequential round trips; prints median and p99 latency
 * and CPU per round trip (both threads, from /proc/self/stat). Compare with the ICP query round
 * trip on loopback (`bench/icp_rtt.ts`): the hop is added to each ICP lookup a worker makes; hash
 * ownership decisions make no hop.
 *
 * Run: `deno run -A bench/worker_hop.ts [N=5000]` (under `flock /tmp/webcache-bench.lock`).
 *
 * @module
 */
const N = Number(Deno.args[0] ?? 5000);

const src = `
self.onmessage = (e) => {
  const m = e.data;
  if (m.t === "icpq") {
    self.postMessage({ t: "icpa", id: m.id, lookup: {
      decision: { kind: "hit", peer: { host: "10.0.0.2", httpPort: 3128, icpPort: 3130, type: "sibling", name: "10.0.0.2:3128" } },
      outcome: "hit", answers: [{ peer: "10.0.0.2:3130", opcode: 2, rttMs: 0.11 }], expected: 2, waitedMs: 0.2,
    } });
  }
};`;

function cpuSeconds(): number {
  const f = Deno.readTextFileSync("/proc/self/stat").split(") ")[1].split(" ");
  return (Number(f[11]) + Number(f[12])) / 100; // utime + stime, clock ticks of 10 ms
}

const worker = new Worker(`data:text/javascript,${encodeURIComponent(src)}`, { type: "module" });
const pending = new Map<number, () => void>();
worker.onmessage = (e) => {
  pending.get(e.data.id)?.();
  pending.delete(e.data.id);
};
const hop = (id: number) =>
  new Promise<void>((resolve) => {
    pending.set(id, resolve);
    worker.postMessage({ t: "icpq", id, url: `http://www.example.com/objects/${id}?size=1024` });
  });
for (let i = 0; i < 500; i++) await hop(i); // warm-up
const lat: number[] = [];
const c0 = cpuSeconds();
for (let i = 0; i < N; i++) {
  const t0 = performance.now();
  await hop(1000 + i);
  lat.push((performance.now() - t0) * 1000);
}
const c1 = cpuSeconds();
worker.terminate();
lat.sort((a, b) => a - b);
console.log(
  `worker→main→worker ICP hop: n ${N}, median ${lat[Math.floor(N / 2)].toFixed(1)} µs, p99 ${
    lat[Math.floor(N * 0.99)].toFixed(1)
  } µs, CPU ${((c1 - c0) * 1e6 / N).toFixed(1)} µs per hop (both threads)`,
);
