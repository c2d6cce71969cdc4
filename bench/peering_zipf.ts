/**
 * A Zipf workload replayed through an array of three caches (`webcache cache` processes, memory
 * stores of `CACHE_MEM` each) behind a round-robin client, once per peering mode. For each mode:
 * the array's hit ratio (1 - origin fetches / requests) and how many objects ended up stored on
 * more than one cache (probed with `Cache-Control: only-if-cached` on every cache afterwards).
 *
 * Run: `deno run -A --unstable-net --unstable-kv bench/peering_zipf.ts`
 * Environment: DISTINCT (1500), REQUESTS (6000), ZIPF_S (0.9), OBJECT_BYTES (4096), CACHE_MEM (1MiB),
 * MODES (none,icp,hash,hash+icp), CONCURRENCY (4), OUT_DIR (writes peering_zipf.json).
 *
 * @module
 */
import { CacheNode, curlIn, randomPort } from "../tests/integration/_icp_nodes.ts";

const env = (k: string, d: string) => Deno.env.get(k) ?? d;
const DISTINCT = Number(env("DISTINCT", "1500"));
const REQUESTS = Number(env("REQUESTS", "6000"));
const S = Number(env("ZIPF_S", "0.9"));
const OBJECT_BYTES = Number(env("OBJECT_BYTES", "4096"));
const CACHE_MEM = env("CACHE_MEM", "1MiB");
const MODES = env("MODES", "none,icp,hash,hash+icp").split(",");
const CONCURRENCY = Number(env("CONCURRENCY", "4"));
const HOST = "www.zipf.test";

/** Seeded PRNG (mulberry32) so every mode replays the same sequence. */
function rng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function zipfSequence(n: number, count: number, s: number): number[] {
  const cdf: number[] = [];
  let sum = 0;
  for (let k = 1; k <= n; k++) cdf.push(sum += 1 / Math.pow(k, s));
  const rand = rng(42);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    const x = rand() * sum;
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cdf[mid] < x) lo = mid + 1;
      else hi = mid;
    }
    out.push(lo);
  }
  return out;
}

const sequence = zipfSequence(DISTINCT, REQUESTS, S);
const body = "z".repeat(OBJECT_BYTES);
let originFetches = 0;
const origin = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, () => {
  originFetches++;
  return new Response(body, { headers: { "cache-control": "max-age=3600", "content-type": "text/plain" } });
});

async function runMode(mode: string) {
  const ports = [0, 1, 2].map(() => ({ http: randomPort(), icp: randomPort(), admin: randomPort() }));
  const peers = ports.map((p) => ({ host: "127.0.0.1", httpPort: p.http, icpPort: p.icp, type: "sibling" }));
  const nodes: CacheNode[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      nodes.push(
        await CacheNode.start(`zipf${i}`, {
          cluster: { nodeName: `zipf${i}` },
          log: { level: "info" },
          admin: { listen: `127.0.0.1:${ports[i].admin}` },
          cache: {
            listen: [{ address: `127.0.0.1:${ports[i].http}` }],
            defaultOrigin: `http://127.0.0.1:${origin.addr.port}`,
            workers: 1,
            memory: { maxBytes: CACHE_MEM },
            peers,
            peering: { mode },
          },
          icp: { port: ports[i].icp, listen: "127.0.0.1", timeoutMs: 500, minTimeoutMs: 20, deadPeerMs: 5000 },
        }),
      );
    }
    if (mode.startsWith("hash")) {
      for (let k = 0; k < 100; k++) {
        const alive = await Promise.all(ports.map(async (p) => {
          const st = await (await fetch(`http://127.0.0.1:${p.admin}/status`)).json();
          return (st.peering.members as { alive: boolean }[]).filter((m) => m.alive).length;
        }));
        if (alive.every((n) => n === 3)) break;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    originFetches = 0;
    let next = 0;
    let errors = 0;
    const t0 = performance.now();
    await Promise.all(Array.from({ length: CONCURRENCY }, async () => {
      while (next < sequence.length) {
        const i = next++;
        const r = await curlIn(undefined, `http://127.0.0.1:${ports[i % 3].http}/o/${sequence[i]}`, { host: HOST });
        if (r.status !== 200 || r.body.length !== OBJECT_BYTES) errors++;
      }
    }));
    const seconds = (performance.now() - t0) / 1000;
    const fetched = originFetches;
    const distinct = [...new Set(sequence)];
    let stored = 0;
    let duplicated = 0;
    let copies = 0;
    for (const d of distinct) {
      let c = 0;
      for (const p of ports) {
        const r = await curlIn(undefined, `http://127.0.0.1:${p.http}/o/${d}`, {
          host: HOST,
          "cache-control": "only-if-cached",
        });
        if (r.status === 200) c++;
      }
      if (c > 0) stored++;
      if (c > 1) duplicated++;
      copies += c;
    }
    return {
      mode,
      requests: sequence.length,
      originFetches: fetched,
      arrayHitRatio: Math.round((1 - fetched / sequence.length) * 1000) / 1000,
      distinctRequested: distinct.length,
      objectsStored: stored,
      storedMoreThanOnce: duplicated,
      copies,
      errors,
      requestsPerSecond: Math.round(sequence.length / seconds),
    };
  } finally {
    for (const n of nodes) await n.stop();
  }
}

const results = [];
try {
  for (const mode of MODES) results.push(await runMode(mode));
} finally {
  await origin.shutdown();
}
console.log(
  `Zipf s=${S}: ${REQUESTS} requests over ${DISTINCT} URLs of ${OBJECT_BYTES} B, round-robin over 3 caches ` +
    `with ${CACHE_MEM} memory each`,
);
console.table(results);
const outDir = Deno.env.get("OUT_DIR");
if (outDir) {
  await Deno.mkdir(outDir, { recursive: true });
  await Deno.writeTextFile(
    `${outDir}/peering_zipf.json`,
    JSON.stringify(
      { date: new Date().toISOString(), S, REQUESTS, DISTINCT, OBJECT_BYTES, CACHE_MEM, results },
      null,
      2,
    ),
  );
}
