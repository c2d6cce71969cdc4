/**
 * Data-plane benchmark (issue 8), each figure a ratio measured side by side in one run, on a
 * namespaced lab (client with tx offloads off, director, one real server rs1 running nginx and
 * iperf3):
 *
 * - HTTP requests/s of a 1 KiB object with wrk through the VIP versus directly to rs1, DR and TUN: after one
 *   warm-up run of each, `--rounds` interleaved rounds (direct, VIP, direct, VIP, ...; same client, object, wrk
 *   thread and `--connections`), reported as medians; with each run's CPU: wrk's (softirq work done in its context
 *   included, no IRQ time accounting here), nginx's, the director's, the real server's helper's and the ksoftirqd
 *   threads' (the "lab"), and the whole machine's busy ticks from /proc/stat (other work on the machine included),
 *   so the VIP path is also compared per CPU-second;
 * - bulk upload and download (iperf3, -R) through the VIP versus directly;
 * - forwarded small packets/s at full speed from a sendmmsg generator, with the director's CPU;
 * - the director's CPU at a fixed 10,000 packets/s (CPU per 10 kpps).
 *
 * Run as root: `deno run -A --unstable-kv --unstable-net bench/dataplane_bench.ts [SECONDS] [--methods dr,dr-user,tun]
 * [--only http,bulk,pps] [--prefix NAME] [--scheduler NAME] [--close] [--rounds N] [--connections N] [--perf]
 * [--prealloc]`. Needs wrk, nginx, iperf3, ethtool. Writes
 * bench/results/dataplane-<time>.json and prints a Markdown table. `--only` skips the other parts (for quick iterations);
 * `--prefix` names the lab's namespaces (default `wcdp`). `--scheduler` sets the services' scheduler (default wlc; mh
 * lets the fast path schedule new connections in the kernel); `--close` makes every wrk request a new connection. `dr` uses the in-kernel fast path for established flows
 * (`director.fastPath: auto`), `dr-user` turns it off (`tun-nofast` for TUN); `tun-user` is TUN without the real
 * server's eBPF decapsulator; `dr-null` replaces the director by `_null_hop.ts`, the smallest in-kernel forwarder
 * (MAC rewrite and redirect, no table): what the hop through the director's namespace costs by itself.
 * `--prealloc` sets `director.fastPathPreallocate: true` (the kernel's flow map allocated whole at start).
 * The director's CPU (/proc/PID/stat) does not include the fast path's work, which runs in softirq context of the
 * sender (client or generator), so compare the request and packet rates, not only the director's CPU.
 *
 * @module
 */
import {
  buildLab,
  destroyLab,
  type Lab,
  Lines,
  type Proc,
  startDirector,
  VIP,
} from "../tests/integration/_dataplane_lab.ts";
import type { Host } from "../tests/integration/_topology.ts";

const flag = (name: string) => {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Deno.args[i + 1] : undefined;
};
const SECONDS = Number(Deno.args[0]?.startsWith("--") ? 4 : Deno.args[0] ?? 4);
// `tun-user`: TUN with the user-space decapsulator only (no eBPF at tcx ingress on rs1).
// `dr-user` / `tun-nofast`: DR / TUN with `director.fastPath: off` (every packet through the user-space loop).
// `dr-null`: no director, only `_null_hop.ts` in its namespace (the extra hop's own cost).
type Variant = "dr" | "dr-user" | "dr-null" | "tun" | "tun-nofast" | "tun-user";
const METHODS = (flag("--methods") ?? "dr,tun").split(",") as Variant[];
const ONLY = new Set((flag("--only") ?? "http,bulk,pps").split(","));
const PREFIX = flag("--prefix") ?? "wcdp";
// `--scheduler NAME`: the services' scheduler (default wlc); with mh the fast path schedules SYNs in the kernel.
const SCHEDULER = flag("--scheduler") ?? "wlc";
// `--close`: wrk sends `Connection: close`, so every request is a new connection (SYN, FIN through the director).
const CLOSE = Deno.args.includes("--close");
// `--perf`: record the director with perf during the last VIP wrk run and print the top symbols.
const PERF = Deno.args.includes("--perf");
// `--prealloc`: `director.fastPathPreallocate: true`.
const PREALLOC = Deno.args.includes("--prealloc");
// `--rounds N`: interleaved direct/VIP wrk rounds (A/B/A/B...), medians reported (default 3).
const ROUNDS = Number(flag("--rounds") ?? 3);
// wrk connections, the same for the direct and the VIP runs.
const CONNECTIONS = Number(flag("--connections") ?? 32);
const HERE = new URL(".", import.meta.url).pathname;
const ROOT = new URL("../", import.meta.url).pathname;
const TICKS = 100; // USER_HZ

function spawn(lab: Lab, host: Host, args: string[]): Proc {
  const p = new Deno.Command("ip", {
    args: ["netns", "exec", host.ns, ...args],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  lab.topo.adopt(p);
  const proc = { p, out: new Lines(p.stdout) };
  lab.procs.push(proc);
  return proc;
}

/** Daemons (nginx, iperf3) get no pipes: their children would keep a pipe open after a kill. */
function daemon(lab: Lab, host: Host, args: string[]): void {
  const p = new Deno.Command("ip", {
    args: ["netns", "exec", host.ns, ...args],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  lab.topo.adopt(p);
}

async function cpuTicks(pid: number): Promise<number> {
  // Threads included: utime (14) + stime (15) of the whole process.
  const f = (await Deno.readTextFile(`/proc/${pid}/stat`)).split(") ")[1].split(" ");
  return Number(f[11]) + Number(f[12]);
}

/** user and sys ticks of every thread of a process, by thread name. */
async function threadTicks(pid: number): Promise<Record<string, [number, number]>> {
  const out: Record<string, [number, number]> = {};
  for await (const t of Deno.readDir(`/proc/${pid}/task`)) {
    try {
      const stat = await Deno.readTextFile(`/proc/${pid}/task/${t.name}/stat`);
      const name = stat.slice(stat.indexOf("(") + 1, stat.lastIndexOf(")"));
      const f = stat.split(") ")[1].split(" ");
      const prev = out[name] ?? [0, 0];
      out[name] = [prev[0] + Number(f[11]), prev[1] + Number(f[12])];
    } catch { /* thread ended */ }
  }
  return out;
}

function diffTicks(a: Record<string, [number, number]>, b: Record<string, [number, number]>): string {
  return Object.entries(b).map(([k, [u, s]]) => [k, u - (a[k]?.[0] ?? 0), s - (a[k]?.[1] ?? 0)] as const)
    .filter(([, u, s]) => u + s > 0).map(([k, u, s]) => `${k} u${u} s${s}`).join(", ");
}

/** The director's data-plane counters from its admin endpoint (rx frames, loop wake-ups, fast-path packets). */
async function dataplaneCounters(lab: Lab): Promise<{ rx: number; wakeups: number; fast: number }> {
  const r = await lab.topo.exec(lab.director.ns, ["curl", "-s", "http://127.0.0.1:9090/metrics"], false);
  const rx = Number(/webcache_dataplane_frames_total\{direction="rx"\} (\d+)/.exec(r.stdout)?.[1] ?? NaN);
  const wakeups = Number(/webcache_dataplane_loop_wakeups_total (\d+)/.exec(r.stdout)?.[1] ?? NaN);
  const fast = Number(/webcache_dataplane_fast_path_packets_total (\d+)/.exec(r.stdout)?.[1] ?? 0);
  return { rx, wakeups, fast };
}

/** One wrk run: requests/s and wrk's own CPU (user + sys ticks, softirq work done in its context included). */
async function wrkRun(lab: Lab, url: string): Promise<{ reqS: number; wrkTicks: number }> {
  const close = CLOSE ? ["-H", "Connection: close"] : [];
  // wrk under a shell that prints its own stat afterwards: cutime + cstime are the waited-for wrk's CPU.
  const script = 'wrk "$@"; s=$?; read l < /proc/$$/stat; echo "WCSTAT $l"; exit $s';
  const r = await lab.topo.exec(
    lab.client.ns,
    ["sh", "-c", script, "sh", "-t1", `-c${CONNECTIONS}`, `-d${SECONDS}s`, ...close, url],
    false,
  );
  const m = /Requests\/sec:\s*([\d.]+)/.exec(r.stdout);
  if (!m) throw new Error(`wrk failed: ${r.stdout} ${r.stderr}`);
  const st = /WCSTAT .*\) (.*)/.exec(r.stdout)?.[1].split(" ") ?? [];
  return { reqS: Number(m[1]), wrkTicks: Number(st[13]) + Number(st[14]) };
}

async function wrk(lab: Lab, url: string): Promise<number> {
  return (await wrkRun(lab, url)).reqS;
}

/** utime + stime ticks of a process, 0 when it is gone. */
async function ticksOf(pid: number): Promise<number> {
  try {
    return await cpuTicks(pid);
  } catch {
    return 0;
  }
}

/** The pids of the kernel's softirq threads (their work is nobody's process time). */
async function softirqThreads(): Promise<number[]> {
  const out: number[] = [];
  for await (const e of Deno.readDir("/proc")) {
    if (!/^\d+$/.test(e.name)) continue;
    const comm = await Deno.readTextFile(`/proc/${e.name}/comm`).catch(() => "");
    if (comm.startsWith("ksoftirqd/")) out.push(Number(e.name));
  }
  return out;
}

/** A process and its children (nginx master and workers). */
async function withChildren(pid: number): Promise<number[]> {
  const kids = await Deno.readTextFile(`/proc/${pid}/task/${pid}/children`).catch(() => "");
  return [pid, ...kids.trim().split(" ").filter(Boolean).map(Number)];
}

/** The whole machine's CPU from /proc/stat, in ticks: busy (all but idle and iowait) and softirq. */
async function machineTicks(): Promise<{ busy: number; softirq: number }> {
  const f = (await Deno.readTextFile("/proc/stat")).split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
  const [user, nice, system, , , irq, softirq, steal] = f;
  return { busy: user + nice + system + irq + softirq + steal, softirq };
}

/** Median of a list. */
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/**
 * The lab's CPU in ticks over one wrk run: wrk (with the softirq work of its sends), nginx, the director, the real
 * server's helper and the softirq threads; and the whole machine's busy and softirq ticks (other work included).
 */
interface RunCpu {
  reqS: number;
  wrk: number;
  nginx: number;
  director: number;
  helper: number;
  ksoftirqd: number;
  machineBusy: number;
  machineSoftirq: number;
}

async function measuredRun(
  lab: Lab,
  url: string,
  pids: { nginx: number[]; director: number; helper: number; ksoftirqd: number[] },
): Promise<RunCpu> {
  const sum = async (ps: number[]) => (await Promise.all(ps.map(ticksOf))).reduce((a, b) => a + b, 0);
  const n0 = await sum(pids.nginx), d0 = await ticksOf(pids.director), h0 = await ticksOf(pids.helper);
  const k0 = await sum(pids.ksoftirqd), m0 = await machineTicks();
  const r = await wrkRun(lab, url);
  const m1 = await machineTicks();
  return {
    reqS: r.reqS,
    wrk: r.wrkTicks,
    nginx: await sum(pids.nginx) - n0,
    director: await ticksOf(pids.director) - d0,
    helper: await ticksOf(pids.helper) - h0,
    ksoftirqd: await sum(pids.ksoftirqd) - k0,
    machineBusy: m1.busy - m0.busy,
    machineSoftirq: m1.softirq - m0.softirq,
  };
}

/** A run's CPU per request, µs, by part. */
function cpuLine(c: RunCpu): string {
  const us = (t: number) => (t / TICKS / (c.reqS * SECONDS) * 1e6).toFixed(1);
  return `CPU µs/req: wrk ${us(c.wrk)}, nginx ${us(c.nginx)}, director ${us(c.director)}, helper ${us(c.helper)}, ` +
    `ksoftirqd ${us(c.ksoftirqd)}, lab ${us(c.wrk + c.nginx + c.director + c.helper + c.ksoftirqd)}; machine busy ` +
    `${us(c.machineBusy)} (softirq ${us(c.machineSoftirq)}); ${reqPerLabCpuS(c).toFixed(0)} req per lab CPU-s`;
}

/**
 * With `--perf`, records the whole machine (cpu-clock, call graphs off) during `run`, prints the top symbols by
 * command and keeps the recording in /tmp for `perf report`; otherwise just runs it.
 */
async function withPerf<T>(on: boolean, name: string, run: () => Promise<T>): Promise<T> {
  if (!PERF || !on) return await run();
  const file = `/tmp/${PREFIX}-perf-${name}.data`;
  const rec = new Deno.Command("perf", {
    args: ["record", "-a", "-F", "999", "-o", file, "--", "sleep", String(SECONDS - 1)],
    stdout: "null",
    stderr: "null",
  }).output();
  const r = await run();
  await rec;
  const rep = await new Deno.Command("perf", {
    args: ["report", "--stdio", "--no-children", "--sort", "comm,sym", "-i", file],
    stdout: "piped",
    stderr: "null",
  }).output();
  const lines = new TextDecoder().decode(rep.stdout).split("\n").filter((l) => /^\s+\d/.test(l));
  progress(
    `perf, ${name}: top 45 (comm, symbol) of the whole machine (all in ${file}):\n${lines.slice(0, 45).join("\n")}`,
  );
  return r;
}

/** Requests per CPU-second of the lab's processes (wrk, nginx, director, helper, ksoftirqd). */
function reqPerLabCpuS(c: RunCpu): number {
  return c.reqS * SECONDS / ((c.wrk + c.nginx + c.director + c.helper + c.ksoftirqd) / TICKS);
}

/** Requests per busy CPU-second of the whole machine (other helpers' work included: noisy). */
function reqPerMachineCpuS(c: RunCpu): number {
  return c.reqS * SECONDS / (c.machineBusy / TICKS);
}

async function iperf(lab: Lab, host: string, reverse: boolean): Promise<number> {
  const args = ["iperf3", "-c", host, "-t", String(SECONDS), "-J", ...(reverse ? ["-R"] : [])];
  const r = await lab.topo.exec(lab.client.ns, args, false);
  try {
    return JSON.parse(r.stdout).end.sum_received.bits_per_second / 1e9;
  } catch {
    return NaN;
  }
}

async function dropCounter(lab: Lab, rs: Host): Promise<number> {
  const r = await lab.topo.exec(rs.ns, ["nft", "list", "table", "ip", "wcdp_sink"]);
  return Number(/counter packets (\d+)/.exec(r.stdout)?.[1] ?? 0);
}

async function pktgen(lab: Lab, dirMac: string, rate: number, director: Proc, rs: Host) {
  const c0 = await dropCounter(lab, rs);
  const t0 = await cpuTicks(director.p.pid);
  const r = await lab.topo.exec(lab.client.ns, [
    Deno.execPath(),
    "run",
    "-A",
    `${HERE}dataplane_pktgen.ts`,
    "eth0",
    dirMac,
    "10.77.1",
    VIP,
    "9",
    String(SECONDS),
    String(rate),
  ]);
  await new Promise((res) => setTimeout(res, 300));
  const t1 = await cpuTicks(director.p.pid);
  const c1 = await dropCounter(lab, rs);
  const gen = JSON.parse(r.stdout.trim().split("\n").at(-1)!);
  const pps = (c1 - c0) / gen.seconds;
  const cpu = ((t1 - t0) / TICKS) / gen.seconds * 100;
  return { sentPps: gen.sent / gen.seconds, forwardedPps: pps, directorCpuPercent: cpu };
}

/**
 * `dr-null`: the null director (`_null_hop.ts`) in the director's namespace, forwarding every frame to `rs`, and
 * the client's neighbour entry for the VIP pointing at it (nobody answers ARP for the VIP then).
 */
async function nullHop(lab: Lab, rs: Host): Promise<Proc> {
  const hop = spawn(lab, lab.director, [Deno.execPath(), "run", "-A", `${HERE}_null_hop.ts`, "eth0", rs.mac]);
  await hop.out.waitFor((l) => l === "ready", 20_000);
  await lab.topo.exec(lab.client.ns, [
    "ip",
    "neigh",
    "replace",
    VIP,
    "lladdr",
    lab.director.mac,
    "dev",
    "eth0",
    "nud",
    "permanent",
  ]);
  return hop;
}

const progress = (msg: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);

async function runMethod(variant: Variant) {
  const method = variant.startsWith("dr") ? "dr" : "tun";
  progress(`${variant}: building the lab`);
  const lab = await buildLab(PREFIX);
  try {
    const rs = lab.caches[0];
    const www = await Deno.makeTempDir({ prefix: "wcdp-www-" });
    lab.files.push(www);
    await Deno.writeFile(`${www}/1k`, new Uint8Array(1024).fill(120));
    await Deno.writeTextFile(
      `${www}/nginx.conf`,
      `worker_processes 1; pid ${www}/nginx.pid; error_log ${www}/error.log; daemon off;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 100000; server { listen 80; root ${www}; } }`,
    );
    // The real-server set-up (VIP on lo, ARP sysctls, TUN decapsulator) held by a helper process.
    const setup = spawn(lab, rs, [
      Deno.execPath(),
      "run",
      "-A",
      `${ROOT}tests/integration/_name_server.ts`,
      "8081",
      "rs1",
      "--vip",
      VIP,
      "--forwarding",
      method,
      "--director",
      lab.director.ip,
      ...(variant === "tun-user" ? ["--no-ebpf-decap"] : []),
    ]);
    await setup.out.waitFor((l) => l === "ready", 20_000);
    progress(`${variant}: real server prepared`);
    daemon(lab, rs, ["nginx", "-c", `${www}/nginx.conf`]);
    daemon(lab, rs, ["iperf3", "-s"]);
    progress(`${variant}: nginx and iperf3 started`);
    // A counting sink for the generator's packets on rs1 (before conntrack, no RSTs back).
    await lab.topo.exec(rs.ns, ["nft", "add", "table", "ip", "wcdp_sink"]);
    await lab.topo.exec(rs.ns, [
      "nft",
      "add chain ip wcdp_sink pre { type filter hook prerouting priority -300 ; }",
    ]);
    await lab.topo.exec(rs.ns, ["nft", "add rule ip wcdp_sink pre tcp dport 9 counter drop"]);
    progress(`${variant}: sink rule installed`);
    await new Promise((r) => setTimeout(r, 1000));
    const director: Proc = variant === "dr-null" ? await nullHop(lab, rs) : await startDirector(lab, {
      interface: "eth0",
      fastPath: variant === "dr-user" || variant === "tun-nofast" ? "off" : "auto",
      fastPathPreallocate: PREALLOC,
      services: [80, 5201, 9].map((port) => ({
        vip: VIP,
        port,
        method,
        scheduler: SCHEDULER,
        health: { type: port === 9 ? "none" : "tcp", intervalMs: 2000 },
        reals: [{ address: rs.ip }],
      })),
    });
    progress(`${variant}: director started`);
    await new Promise((r) => setTimeout(r, 1000));
    const direct = `http://${rs.ip}/1k`, via = `http://${VIP}/1k`;
    const nan = {
      directReqS: NaN,
      vipReqS: NaN,
      ratio: NaN,
      directorUsPerReq: NaN,
      decapUsPerReq: NaN,
      perCpuRatio: NaN,
      perMachineCpuRatio: NaN,
      rounds: [] as { direct: RunCpu; vip: RunCpu }[],
    };
    let http = nan;
    if (ONLY.has("http")) {
      const nginxPid = Number((await Deno.readTextFile(`${www}/nginx.pid`)).trim());
      const pids = {
        nginx: await withChildren(nginxPid),
        director: director.p.pid,
        helper: setup.p.pid,
        ksoftirqd: await softirqThreads(),
      };
      await wrk(lab, direct); // warm-up of both paths (ARP, caches, the director's tables)
      await wrk(lab, via);
      const viaRun = async () => {
        const counters = variant === "dr-null"
          ? () => Promise.resolve({ rx: 0, wakeups: 0, fast: 0 })
          : () => dataplaneCounters(lab);
        const [th0, c0] = [await threadTicks(director.p.pid), await counters()];
        const r = await measuredRun(lab, via, pids);
        await new Promise((res) => setTimeout(res, 1100)); // fast-path counters are folded once a second
        const c1 = await counters();
        const reqs = r.reqS * SECONDS;
        progress(
          `${variant}: VIP ${r.reqS.toFixed(0)} req/s, ${((c1.rx - c0.rx) / reqs).toFixed(2)} frames/req in user ` +
            `space, ${((c1.fast - c0.fast) / reqs).toFixed(2)} in the kernel; director ` +
            `${diffTicks(th0, await threadTicks(director.p.pid))}; ${cpuLine(r)}`,
        );
        return r;
      };
      const rounds: { direct: RunCpu; vip: RunCpu }[] = [];
      for (let i = 0; i < ROUNDS; i++) {
        const last = i === ROUNDS - 1;
        const d = await withPerf(last, `${variant}-direct`, () => measuredRun(lab, direct, pids));
        progress(`${variant}: direct ${d.reqS.toFixed(0)} req/s; ${cpuLine(d)}`);
        const v = await withPerf(last, `${variant}-vip`, viaRun);
        rounds.push({ direct: d, vip: v });
      }
      const vipReqs = rounds.reduce((a, r) => a + r.vip.reqS * SECONDS, 0);
      http = {
        directReqS: median(rounds.map((r) => r.direct.reqS)),
        vipReqS: median(rounds.map((r) => r.vip.reqS)),
        ratio: median(rounds.map((r) => r.vip.reqS / r.direct.reqS)),
        directorUsPerReq: rounds.reduce((a, r) => a + r.vip.director, 0) / TICKS / vipReqs * 1e6,
        decapUsPerReq: rounds.reduce((a, r) => a + r.vip.helper, 0) / TICKS / vipReqs * 1e6,
        perCpuRatio: median(rounds.map((r) => reqPerLabCpuS(r.vip) / reqPerLabCpuS(r.direct))),
        perMachineCpuRatio: median(rounds.map((r) => reqPerMachineCpuS(r.vip) / reqPerMachineCpuS(r.direct))),
        rounds,
      };
      progress(
        `${variant}: wrk done (${ROUNDS} rounds, medians): direct ${http.directReqS.toFixed(0)}, VIP ` +
          `${http.vipReqS.toFixed(0)} req/s, ratio ${(http.ratio * 100).toFixed(1)} % (rounds: ${
            rounds.map((r) => (r.vip.reqS / r.direct.reqS * 100).toFixed(0)).join(", ")
          }); per lab CPU-second ${(http.perCpuRatio * 100).toFixed(1)} %, per machine CPU-second ${
            (http.perMachineCpuRatio * 100).toFixed(1)
          } %`,
      );
    }
    const bulk = { directGbit: NaN, vipGbit: NaN, ratio: NaN };
    let upload = bulk, download = bulk, tso = bulk;
    if (ONLY.has("bulk")) {
      const upDirect = await iperf(lab, rs.ip, false), upVia = await iperf(lab, VIP, false);
      const downDirect = await iperf(lab, rs.ip, true), downVia = await iperf(lab, VIP, true);
      upload = { directGbit: upDirect, vipGbit: upVia, ratio: upVia / upDirect };
      download = { directGbit: downDirect, vipGbit: downVia, ratio: downVia / downDirect };
      // With the client's TSO and checksum offload on, GSO super-frames cross the director whole
      // (PACKET_VNET_HDR). DR only: IP-in-IP cannot carry GSO, so TUN answers with frag-needed.
      if (method === "dr") {
        await lab.topo.exec(lab.client.ns, ["ethtool", "-K", "eth0", "tx", "on", "tso", "on", "gso", "on"]);
        const d = await iperf(lab, rs.ip, false), v = await iperf(lab, VIP, false);
        await lab.topo.exec(lab.client.ns, ["ethtool", "-K", "eth0", "tx", "off", "tso", "off", "gso", "off"]);
        tso = { directGbit: d, vipGbit: v, ratio: v / d };
      }
      progress(`${variant}: iperf3 done`);
    }
    const noPps = { sentPps: NaN, forwardedPps: NaN, directorCpuPercent: NaN };
    let max = noPps, fixed = noPps;
    if (ONLY.has("pps")) {
      const dirMac = lab.director.mac;
      max = await pktgen(lab, dirMac, 0, director, rs);
      fixed = await pktgen(lab, dirMac, 10_000, director, rs);
      progress(`${variant}: pps done: ${JSON.stringify({ max, fixed })}`);
    }
    return {
      method: variant,
      http,
      upload,
      download,
      uploadTso: tso,
      maxRate: max,
      fixed10k: { ...fixed, cpuPer10kPps: fixed.directorCpuPercent * 10_000 / fixed.forwardedPps },
    };
  } finally {
    await destroyLab(lab);
  }
}

const LOAD_BEFORE = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
const results = [];
for (const m of METHODS) {
  try {
    results.push(await runMethod(m));
  } catch (e) {
    progress(`${m}: failed: ${(e as Error).stack}`);
    Deno.exit(1);
  }
}
const load = (await Deno.readTextFile("/proc/loadavg")).split(" ").slice(0, 3).join(" ");
const f = (n: number, d = 0) => Number.isFinite(n) ? n.toFixed(d) : "n/a";
const lines = [
  `Data-plane benchmark, ${SECONDS} s runs, scheduler ${SCHEDULER}${
    CLOSE ? ", a new connection per request" : ""
  }, ${ROUNDS} interleaved rounds (medians), load average before ${LOAD_BEFORE}, after ${load}`,
  "",
  "| method | wrk 1 KiB req/s direct | via VIP | ratio | per lab CPU-s | per machine CPU-s | director µs/req | decap µs/req | iperf3 up Gbit/s direct / VIP | ratio | down direct / VIP | ratio | up, client TSO on | ratio | max fwd pps (director CPU %) | CPU % per 10 kpps |",
  "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ...results.map((r) =>
    `| ${r.method} | ${f(r.http.directReqS)} | ${f(r.http.vipReqS)} | ${f(r.http.ratio * 100)} % | ` +
    `${f(r.http.perCpuRatio * 100)} % | ${f(r.http.perMachineCpuRatio * 100)} % | ` +
    `${f(r.http.directorUsPerReq, 1)} | ${f(r.http.decapUsPerReq, 1)} | ` +
    `${f(r.upload.directGbit, 2)} / ${f(r.upload.vipGbit, 2)} | ${f(r.upload.ratio * 100)} % | ` +
    `${f(r.download.directGbit, 2)} / ${f(r.download.vipGbit, 2)} | ${f(r.download.ratio * 100)} % | ` +
    `${f(r.uploadTso.directGbit, 2)} / ${f(r.uploadTso.vipGbit, 2)} | ${f(r.uploadTso.ratio * 100)} % | ` +
    `${f(r.maxRate.forwardedPps)} (${f(r.maxRate.directorCpuPercent)}) | ${f(r.fixed10k.cpuPer10kPps, 1)} |`
  ),
];
console.log(lines.join("\n"));
await Deno.mkdir(`${ROOT}bench/results`, { recursive: true });
await Deno.writeTextFile(
  `${ROOT}bench/results/dataplane-${new Date().toISOString().replace(/[:.]/g, "-")}.json`,
  JSON.stringify({ load, seconds: SECONDS, results }, null, 2),
);
