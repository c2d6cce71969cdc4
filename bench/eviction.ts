/**
 * `deno task bench:eviction`: replays seeded Zipf traces (1M requests over 100,000 objects of
 * mixed sizes, alpha 0.8 and 1.0) against every eviction policy at cache sizes of 1%, 5% and 10%
 * of the working set, and prints object and byte hit ratios.
 *
 * The simulated cache stores every missed object that fits and evicts until the bytes are within
 * the capacity, as the stores do (without watermarks, so policies compare exactly). Options:
 * `--requests N`, `--objects N`, `--seed N`.
 *
 * @module
 */
import { parseArgs } from "node:util";
import { createPolicy, POLICY_NAMES } from "../cache/store/eviction/mod.ts";
import { printOut } from "../core/log.ts";
import { type Trace, zipfTrace } from "./eviction_trace.ts";

/** Hit ratios of one simulation. */
export interface SimResult {
  objectHitRatio: number;
  byteHitRatio: number;
}

/**
 * Replays `trace` against a new policy of `policy` with `capacityBytes`.
 *
 * @returns object and byte hit ratios
 */
export function simulate(trace: Trace, policy: string, capacityBytes: number): SimResult {
  const p = createPolicy<number>(policy);
  const present = new Uint8Array(trace.sizes.length);
  let hits = 0;
  let hitBytes = 0;
  let totalBytes = 0;
  for (const id of trace.requests) {
    const size = trace.sizes[id];
    totalBytes += size;
    if (present[id]) {
      hits++;
      hitBytes += size;
      p.touch(id);
      continue;
    }
    if (size > capacityBytes) continue;
    p.insert(id, size);
    present[id] = 1;
    while (p.bytes > capacityBytes) {
      const victim = p.evict()!;
      present[victim] = 0;
    }
  }
  return { objectHitRatio: hits / trace.requests.length, byteHitRatio: hitBytes / totalBytes };
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      requests: { type: "string", default: "1000000" },
      objects: { type: "string", default: "100000" },
      seed: { type: "string", default: "20240416" },
    },
  });
  const requests = Number(values.requests);
  const objects = Number(values.objects);
  const seed = Number(values.seed);
  const pct = (x: number) => (x * 100).toFixed(2).padStart(6) + "%";
  printOut(`Eviction benchmark: ${requests} requests over ${objects} objects, seed ${seed}`);
  printOut("");
  printOut("| alpha | cache size | policy | object hit ratio | byte hit ratio |");
  printOut("|------:|-----------:|--------|-----------------:|---------------:|");
  const failures: string[] = [];
  const started = performance.now();
  for (const alpha of [0.8, 1.0]) {
    const trace = zipfTrace({ requests, objects, alpha, seed });
    for (const fraction of [0.01, 0.05, 0.1]) {
      const capacity = Math.floor(trace.workingSetBytes * fraction);
      const results: Record<string, SimResult> = {};
      for (const policy of POLICY_NAMES) {
        const r = simulate(trace, policy, capacity);
        results[policy] = r;
        printOut(
          `| ${alpha.toFixed(1)} | ${(fraction * 100).toFixed(0).padStart(3)}% | ${policy.padEnd(5)} | ` +
            `${pct(r.objectHitRatio)} | ${pct(r.byteHitRatio)} |`,
        );
      }
      if (results.sieve.objectHitRatio <= results.lru.objectHitRatio) {
        failures.push(`alpha ${alpha} size ${fraction * 100}%`);
      }
    }
  }
  printOut("");
  printOut(
    failures.length === 0
      ? "SIEVE object hit ratio above LRU at every size: yes"
      : `SIEVE object hit ratio above LRU at every size: NO (${failures.join("; ")})`,
  );
  printOut(`Elapsed ${((performance.now() - started) / 1000).toFixed(1)} s`);
}
