// Aggregates one run of bench/peers/run.sh:  deno run --allow-read --allow-write lib/summarize.ts <result dir>
// Reads <dir>/meta.json and <dir>/raw.jsonl, writes <dir>/summary.json, prints markdown on stdout.
//
// Per (scenario, target): medians over rounds of req/s, p50, p99 and CPU; min/max req/s;
// "vs best peer" = median over rounds of (target req/s / best peer's req/s in the same round),
// where the best peer is the target of PEERS (other than the target itself) with the highest
// median req/s in that scenario. Pairing by round cancels drift that hits every target alike.

type Raw = {
  round: number;
  scenario: string;
  target: string;
  kind: string;
  requests: number;
  rps: number;
  lat_p50_us: number;
  lat_p99_us: number;
  lat_mean_us: number;
  err_connect: number;
  err_read: number;
  err_write: number;
  err_status: number;
  err_timeout: number;
  origin_requests: number;
  cpu_cores: { machine_busy: number; steal: number; origin: number; target: number; wrk: number };
};
type Meta = {
  run_id: string;
  started: string;
  nproc: number;
  cpu_model: string;
  mem_total_kb: number;
  kernel: string;
  wrk: string;
  rounds: number;
  scenarios: string;
  peers: string;
  spread_n: number;
  big_n: number;
  small_size: number;
  big_size: number;
  workers: number;
  targets: { name: string; url: string; kind: string; started_here: boolean }[];
  versions: Record<string, string>;
  drop_caches?: boolean;
};

const dir = Deno.args[0];
const meta: Meta = JSON.parse(Deno.readTextFileSync(`${dir}/meta.json`));
const raw: Raw[] = Deno.readTextFileSync(`${dir}/raw.jsonl`).split("\n").filter((l) => l.trim())
  .map((l) => JSON.parse(l));

const median = (xs: number[]): number => {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round2 = (x: number, d = 2) => Number.isFinite(x) ? Number(x.toFixed(d)) : null;

const scenarios = meta.scenarios.split(/\s+/).filter(Boolean);
const targets = meta.targets.map((t) => t.name);
const peers = meta.peers.split(/\s+/).filter((p) => targets.includes(p));
const LABEL: Record<string, string> = {
  hot: `hot: 1 object × ${meta.small_size / 1024} KiB`,
  spread: `spread: ${meta.spread_n.toLocaleString("en-US")} × ${meta.small_size / 1024} KiB`,
  big: `big: ${meta.big_n} × ${meta.big_size / 1024} KiB`,
  miss: `miss: unique URLs × ${meta.small_size / 1024} KiB`,
  pass: `pass: no-store × ${meta.small_size / 1024} KiB`,
};

const runs = (sc: string, t: string) => raw.filter((r) => r.scenario === sc && r.target === t);
const medRps = (sc: string, t: string) => median(runs(sc, t).map((r) => r.rps));

type Row = {
  scenario: string;
  target: string;
  kind: string;
  rounds: number;
  rps_median: number | null;
  rps_min: number | null;
  rps_max: number | null;
  rps_spread_pct: number | null;
  vs_best_peer: number | null;
  best_peer: string | null;
  p50_ms: number | null;
  p99_ms: number | null;
  mean_ms: number | null;
  errors: number;
  origin_requests_per_request: number | null;
  rps_per_target_core: number | null;
  cpu_cores_median: {
    target: number | null;
    wrk: number | null;
    origin: number | null;
    other: number | null;
    machine_busy: number | null;
    steal: number | null;
  };
};

const rows: Row[] = [];
for (const sc of scenarios) {
  for (const t of targets) {
    const rs = runs(sc, t);
    if (rs.length === 0) continue;
    const rps = rs.map((r) => r.rps);
    const med = median(rps);
    // disk targets (name ends in -disk or -rock) are compared with disk peers, the others with memory peers
    const isDisk = (n: string) => n.endsWith("-disk") || n.endsWith("-rock");
    const others = peers.filter((p) => p !== t && isDisk(p) === isDisk(t) && runs(sc, p).length > 0);
    let best: string | null = null;
    for (const p of others) if (best === null || medRps(sc, p) > medRps(sc, best)) best = p;
    let ratio = NaN;
    if (best !== null) {
      const byRound = new Map(runs(sc, best).map((r) => [r.round, r.rps]));
      ratio = median(rs.filter((r) => byRound.get(r.round)).map((r) => r.rps / byRound.get(r.round)!));
    }
    const c = (f: (r: Raw) => number) => round2(median(rs.map(f)));
    rows.push({
      scenario: sc,
      target: t,
      kind: rs[0].kind,
      rounds: rs.length,
      rps_median: round2(med, 0),
      rps_min: round2(Math.min(...rps), 0),
      rps_max: round2(Math.max(...rps), 0),
      rps_spread_pct: round2(100 * (Math.max(...rps) - Math.min(...rps)) / med, 1),
      vs_best_peer: round2(ratio),
      best_peer: best,
      p50_ms: round2(median(rs.map((r) => r.lat_p50_us)) / 1000),
      p99_ms: round2(median(rs.map((r) => r.lat_p99_us)) / 1000),
      mean_ms: round2(median(rs.map((r) => r.lat_mean_us)) / 1000),
      errors: rs.reduce(
        (a, r) =>
          a + (r.err_connect ?? 0) + (r.err_read ?? 0) + (r.err_write ?? 0) + (r.err_status ?? 0) +
          (r.err_timeout ?? 0),
        0,
      ),
      origin_requests_per_request: round2(median(rs.map((r) => r.requests ? r.origin_requests / r.requests : NaN)), 3),
      // requests per CPU-second the target itself used: much less sensitive to other load
      rps_per_target_core: round2(
        median(rs.map((r) => r.cpu_cores.target > 0.01 ? r.rps / r.cpu_cores.target : NaN)),
        0,
      ),
      cpu_cores_median: {
        target: c((r) => r.cpu_cores.target),
        wrk: c((r) => r.cpu_cores.wrk),
        origin: c((r) => r.cpu_cores.origin),
        other: c((r) => r.cpu_cores.machine_busy - r.cpu_cores.target - r.cpu_cores.wrk - r.cpu_cores.origin),
        machine_busy: c((r) => r.cpu_cores.machine_busy),
        steal: c((r) => r.cpu_cores.steal),
      },
    });
  }
}

Deno.writeTextFileSync(`${dir}/summary.json`, JSON.stringify({ meta, rows }, null, 2) + "\n");

// ------------------------------------------------------------------ markdown
const fmt = (x: number | null, d = 0) =>
  x === null ? "–" : x.toLocaleString("en-US", { minimumFractionDigits: d, maximumFractionDigits: d });
const row = (sc: string, t: string) => rows.find((r) => r.scenario === sc && r.target === t);
const out: string[] = [];
out.push(`## Cache benchmark ${meta.run_id}`, "");
out.push(
  `Machine: ${meta.nproc} × ${meta.cpu_model}, ${
    (meta.mem_total_kb / 1048576).toFixed(1)
  } GiB, Linux ${meta.kernel}. ` +
    `Load: \`${meta.wrk}\` (wrk shares the same cores), ${meta.rounds} rounds interleaved round-robin; ` +
    `req/s are medians over rounds. Peers for the ratio: ${peers.join(", ")} ` +
    `(a -disk or -rock target is compared with the -disk peers only).` +
    (meta.drop_caches ? " Page cache dropped before every measurement (cold)." : ""),
  "",
);
out.push("### Requests/s (median) and ratio to the best peer", "");
out.push(`| target | kind | ${scenarios.map((s) => LABEL[s] ?? s).join(" | ")} |`);
out.push(`|---|---|${scenarios.map(() => "---:").join("|")}|`);
for (const t of targets) {
  const cells = scenarios.map((sc) => {
    const r = row(sc, t);
    return r ? `${fmt(r.rps_median)} (${r.vs_best_peer === null ? "–" : r.vs_best_peer.toFixed(2) + "×"})` : "n/a";
  });
  out.push(
    `| ${t} | ${row(scenarios[0], t)?.kind ?? rows.find((r) => r.target === t)?.kind ?? ""} | ${cells.join(" | ")} |`,
  );
}
out.push(
  "",
  "Ratio: the target's req/s divided by the best *other* peer's in the same round (median over rounds); " +
    "for a peer that is the winner it is its lead over the runner-up.",
  "",
);
out.push("### Requests per CPU-second of the target (median)", "");
out.push(`| target | ${scenarios.map((s) => LABEL[s] ?? s).join(" | ")} |`);
out.push(`|---|${scenarios.map(() => "---:").join("|")}|`);
for (const t of targets) {
  out.push(`| ${t} | ${
    scenarios.map((sc) => {
      const r = row(sc, t);
      return r ? fmt(r.rps_per_target_core) : "n/a";
    }).join(" | ")
  } |`);
}
out.push("");
out.push("### Latency p50 / p99 in ms (median over rounds)", "");
out.push(`| target | ${scenarios.map((s) => LABEL[s] ?? s).join(" | ")} |`);
out.push(`|---|${scenarios.map(() => "---:").join("|")}|`);
for (const t of targets) {
  out.push(`| ${t} | ${
    scenarios.map((sc) => {
      const r = row(sc, t);
      return r ? `${fmt(r.p50_ms, 2)} / ${fmt(r.p99_ms, 1)}` : "n/a";
    }).join(" | ")
  } |`);
}
out.push("");
out.push("### Details", "");
out.push(
  "| scenario | target | req/s median | min – max | spread | vs best peer | p50 ms | p99 ms | origin req / req | errors | req per target CPU-s | CPU cores: target / wrk / origin / other / steal |",
);
out.push("|---|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---|");
for (const r of rows) {
  const c = r.cpu_cores_median;
  out.push(
    `| ${r.scenario} | ${r.target} | ${fmt(r.rps_median)} | ${fmt(r.rps_min)} – ${fmt(r.rps_max)} | ${
      fmt(r.rps_spread_pct, 1)
    }% | ` +
      `${r.vs_best_peer === null ? "–" : `${r.vs_best_peer.toFixed(2)}× ${r.best_peer}`} | ${fmt(r.p50_ms, 2)} | ${
        fmt(r.p99_ms, 2)
      } | ` +
      `${fmt(r.origin_requests_per_request, 3)} | ${r.errors} | ${fmt(r.rps_per_target_core)} | ${fmt(c.target, 2)} / ${
        fmt(c.wrk, 2)
      } / ${fmt(c.origin, 2)} / ${fmt(c.other, 2)} / ${fmt(c.steal, 2)} |`,
  );
}
out.push(
  "",
  "CPU cores are medians over rounds, in cores of the machine's " + meta.nproc +
    ' ("other" = everything else on the machine: ' +
    "other users' processes, the kernel's share not charged to a process, the harness; \"steal\" = time the hypervisor gave to other VMs); " +
    "external targets show 0 for themselves. " +
    '"req per target CPU-s" = req/s divided by the cores the target used (its own processes only, origin excluded): ' +
    "an efficiency figure that moves much less with outside load than req/s does.",
);
console.log(out.join("\n"));
