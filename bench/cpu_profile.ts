/**
 * A V8 CPU profile of a running Deno process through its inspector (the Chrome DevTools
 * protocol: `Profiler.start` / `Profiler.stop`), and a text report of it: the functions with the
 * most samples of their own (self) and with their callees (inclusive). `deno run --v8-flags=--prof`
 * loses most JavaScript frames of async functions here; this keeps them.
 *
 * ```sh
 * deno run -A --inspect=127.0.0.1:9400 dist/webcache.js cache ...     # the process to profile
 * deno run -A bench/cpu_profile.ts record 9400 5 /tmp/miss.cpuprofile  # 5 s of samples
 * deno run -A bench/cpu_profile.ts report /tmp/miss.cpuprofile [40]    # top 40 self and inclusive
 * ```
 *
 * `bench/miss_cpu.sh` does both under load with `PROFILE=/tmp/x` (one profile per bundle). The
 * profiler costs about a third of the throughput at a 200 µs interval; compare shares, not times.
 *
 * @module
 */

import { inspectorSession } from "./_inspector.ts";

/** One node of a `.cpuprofile` call tree. */
interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

/** A `.cpuprofile` as `Profiler.stop` returns it. */
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
}

/**
 * Takes a CPU profile of the process whose inspector listens on `port`.
 *
 * @param port inspector port
 * @param seconds how long to sample
 * @param intervalUs sampling interval
 * @returns the profile
 */
async function record(port: number, seconds: number, intervalUs = 200): Promise<Profile> {
  const { call, close } = await inspectorSession(port);
  try {
    await call("Profiler.enable");
    await call("Profiler.setSamplingInterval", { interval: intervalUs });
    await call("Profiler.start");
    await new Promise((r) => setTimeout(r, seconds * 1000));
    return ((await call("Profiler.stop")) as { profile: Profile }).profile;
  } finally {
    await close();
  }
}

/**
 * Self and inclusive sample shares per function (`name file:line`), largest first.
 *
 * @param p a profile
 * @param top how many lines of each list
 * @returns the report text
 */
export function report(p: Profile, top = 40): string {
  const nodes = new Map(p.nodes.map((n) => [n.id, n]));
  const hits = new Map<number, number>();
  for (const s of p.samples) hits.set(s, (hits.get(s) ?? 0) + 1);
  const name = (n: ProfileNode) =>
    `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url.replace(/.*\//, "")}:${n.callFrame.lineNumber + 1}`;
  const self = new Map<string, number>();
  const inclusive = new Map<string, number>();
  const onStack = new Set<string>();
  const walk = (id: number): number => {
    const n = nodes.get(id)!;
    const k = name(n);
    let t = hits.get(id) ?? 0;
    self.set(k, (self.get(k) ?? 0) + t);
    const outermost = !onStack.has(k); // recursion counts once
    if (outermost) onStack.add(k);
    for (const c of n.children ?? []) t += walk(c);
    if (outermost) {
      onStack.delete(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + t);
    }
    return t;
  };
  walk(p.nodes[0].id);
  const total = Math.max(1, p.samples.length);
  const list = (m: Map<string, number>) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, v]) =>
      `${(100 * v / total).toFixed(1).padStart(6)} %  ${k}`
    ).join("\n");
  return `${p.samples.length} samples\n--- self\n${list(self)}\n--- inclusive\n${list(inclusive)}`;
}

if (import.meta.main) {
  const [cmd, a, b, c] = Deno.args;
  if (cmd === "record" && a && b && c) {
    await Deno.writeTextFile(c, JSON.stringify(await record(Number(a), Number(b))));
  } else if (cmd === "report" && a) {
    console.log(report(JSON.parse(await Deno.readTextFile(a)), b ? Number(b) : undefined));
  } else {
    console.error("usage: cpu_profile.ts record PORT SECONDS OUT.cpuprofile | report FILE.cpuprofile [TOP]");
    Deno.exit(2);
  }
}
