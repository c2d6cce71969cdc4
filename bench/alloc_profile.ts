/**
 * Where a running Deno process allocates: V8's sampling heap profiler through the inspector
 * (`HeapProfiler.startSampling` with the objects already collected by both collectors kept, so
 * short-lived garbage counts too), and a text report of it: bytes allocated per function (self, by
 * the function that allocated) and with its callees (inclusive), as shares and as bytes per request
 * when the request count is given.
 *
 * ```sh
 * deno run -A --inspect=127.0.0.1:9400 dist/webcache.js cache ...          # the process to profile
 * deno run -A bench/alloc_profile.ts record 9400 5 /tmp/miss.heapprofile   # 5 s of samples
 * deno run -A bench/alloc_profile.ts report /tmp/miss.heapprofile 40 [REQUESTS]
 * ```
 *
 * `bench/miss_cpu.sh` does both under load with `ALLOCS=/tmp/x` (one profile per bundle; the
 * report's per-request figures then use the requests of the profiled seconds, estimated from the
 * run's average rate). Samples are taken every {@link SAMPLING_BYTES} allocated bytes on average,
 * so a function's bytes are an estimate: compare shares of one run, not single small items.
 *
 * @module
 */

import { inspectorSession } from "./_inspector.ts";

/** Average bytes between two samples (V8's default is 32 KiB; smaller sees more, costs more). */
export const SAMPLING_BYTES = 1024;

/** One node of a sampling heap profile's call tree. */
interface HeapNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: HeapNode[];
}

/** A sampling heap profile as `HeapProfiler.stopSampling` returns it. */
interface HeapProfile {
  head: HeapNode;
}

/**
 * Takes a sampling heap profile of the process whose inspector listens on `port`.
 *
 * @param port inspector port
 * @param seconds how long to sample
 * @returns the profile
 */
async function record(port: number, seconds: number): Promise<HeapProfile> {
  const { call, close } = await inspectorSession(port);
  try {
    await call("HeapProfiler.enable");
    await call("HeapProfiler.startSampling", {
      samplingInterval: SAMPLING_BYTES,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    await new Promise((r) => setTimeout(r, seconds * 1000));
    return ((await call("HeapProfiler.stopSampling")) as { profile: HeapProfile }).profile;
  } finally {
    await close();
  }
}

/**
 * Self and inclusive allocated bytes per function (`name file:line`), largest first.
 *
 * @param p a profile
 * @param top how many lines of each list
 * @param requests requests served while sampling, for bytes per request (omit for shares only)
 * @returns the report text
 */
export function report(p: HeapProfile, top = 40, requests?: number): string {
  const name = (n: HeapNode) =>
    `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url.replace(/.*\//, "")}:${n.callFrame.lineNumber + 1}`;
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const onStack = new Set<string>();
  const walk = (n: HeapNode): number => {
    const k = name(n);
    let t = n.selfSize;
    self.set(k, (self.get(k) ?? 0) + t);
    const outermost = !onStack.has(k); // recursion counts once
    if (outermost) onStack.add(k);
    for (const c of n.children) t += walk(c);
    if (outermost) {
      onStack.delete(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + t);
    }
    return t;
  };
  const total = Math.max(1, walk(p.head));
  const perReq = (v: number) => requests ? `${(v / requests).toFixed(0).padStart(7)} B/req  ` : "";
  const list = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) =>
      `${(100 * v / total).toFixed(1).padStart(6)} %  ${perReq(v)}${k}`
    ).join("\n");
  const sum = requests ? `, ${(total / requests).toFixed(0)} B per request over ${requests} requests` : "";
  return `${total} bytes sampled${sum}\n--- self\n${list(self)}\n--- inclusive\n${list(inclusive)}`;
}

if (import.meta.main) {
  const [cmd, a, b, c] = Deno.args;
  if (cmd === "record" && a && b && c) {
    await Deno.writeTextFile(c, JSON.stringify(await record(Number(a), Number(b))));
  } else if (cmd === "report" && a) {
    const p = JSON.parse(await Deno.readTextFile(a));
    console.log(report(p, b ? Number(b) : undefined, c ? Number(c) : undefined));
  } else {
    console.error("usage: alloc_profile.ts record PORT SECONDS OUT.heapprofile | report FILE [TOP] [REQUESTS]");
    Deno.exit(2);
  }
}
