/**
 * Data-plane benchmark (issue 8), each figure a ratio measured side by side in one run, on a
 * namespaced lab (client with tx offloads off, director, one real server rs1 running nginx and
 * iperf3):
 *
 * - HTTP requests/s of a 1 KiB object with wrk through the VIP versus directly to rs1, DR and TUN
 *   (direct and VIP runs interleaved, twice each);
 * - bulk upload and download (iperf3, -R) through the VIP versus directly;
 * - forwarded small packets/s at full speed from a sendmmsg generator, with the director's CPU;
 * - the director's CPU at a fixed 10,000 packets/s (CPU per 10 kpps).
 *
 * Run as root: `deno run -A --unstable-kv --unstable-net bench/dataplane_bench.ts [SECONDS]`.
 * Needs wrk, nginx, iperf3, tcpdump-free. Writes bench/results/dataplane-<time>.json and prints a
 * Markdown table.
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

const SECONDS = Number(Deno.args[0] ?? 4);
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

async function wrk(lab: Lab, url: string): Promise<number> {
  const r = await lab.topo.exec(lab.client.ns, ["wrk", "-t1", "-c32", `-d${SECONDS}s`, url], false);
  const m = /Requests\/sec:\s*([\d.]+)/.exec(r.stdout);
  if (!m) throw new Error(`wrk failed: ${r.stdout} ${r.stderr}`);
  return Number(m[1]);
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

const progress = (msg: string) => console.error(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);

async function runMethod(method: "dr" | "tun") {
  progress(`${method}: building the lab`);
  const lab = await buildLab();
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
    ]);
    await setup.out.waitFor((l) => l === "ready", 20_000);
    progress(`${method}: real server prepared`);
    daemon(lab, rs, ["nginx", "-c", `${www}/nginx.conf`]);
    daemon(lab, rs, ["iperf3", "-s"]);
    progress(`${method}: nginx and iperf3 started`);
    // A counting sink for the generator's packets on rs1 (before conntrack, no RSTs back).
    await lab.topo.exec(rs.ns, ["nft", "add", "table", "ip", "wcdp_sink"]);
    await lab.topo.exec(rs.ns, [
      "nft",
      "add chain ip wcdp_sink pre { type filter hook prerouting priority -300 ; }",
    ]);
    await lab.topo.exec(rs.ns, ["nft", "add rule ip wcdp_sink pre tcp dport 9 counter drop"]);
    progress(`${method}: sink rule installed`);
    await new Promise((r) => setTimeout(r, 1000));
    const director = await startDirector(lab, {
      interface: "eth0",
      services: [80, 5201, 9].map((port) => ({
        vip: VIP,
        port,
        method,
        scheduler: "wlc",
        health: { type: port === 9 ? "none" : "tcp", intervalMs: 2000 },
        reals: [{ address: rs.ip }],
      })),
    });
    progress(`${method}: director started`);
    await new Promise((r) => setTimeout(r, 1000));
    const direct = `http://${rs.ip}/1k`, via = `http://${VIP}/1k`;
    await wrk(lab, direct); // warm-up
    const d1 = await wrk(lab, direct), v1 = await wrk(lab, via), d2 = await wrk(lab, direct), v2 = await wrk(lab, via);
    progress(`${method}: wrk done`);
    const upDirect = await iperf(lab, rs.ip, false), upVia = await iperf(lab, VIP, false);
    const downDirect = await iperf(lab, rs.ip, true), downVia = await iperf(lab, VIP, true);
    // With the client's TSO and checksum offload on, GSO super-frames cross the director whole
    // (PACKET_VNET_HDR). DR only: IP-in-IP cannot carry GSO, so TUN answers with frag-needed.
    let tso = { directGbit: NaN, vipGbit: NaN, ratio: NaN };
    if (method === "dr") {
      await lab.topo.exec(lab.client.ns, ["ethtool", "-K", "eth0", "tx", "on", "tso", "on", "gso", "on"]);
      const d = await iperf(lab, rs.ip, false), v = await iperf(lab, VIP, false);
      await lab.topo.exec(lab.client.ns, ["ethtool", "-K", "eth0", "tx", "off", "tso", "off", "gso", "off"]);
      tso = { directGbit: d, vipGbit: v, ratio: v / d };
    }
    progress(`${method}: iperf3 done`);
    const dirMac = lab.director.mac;
    const max = await pktgen(lab, dirMac, 0, director, rs);
    const fixed = await pktgen(lab, dirMac, 10_000, director, rs);
    return {
      method,
      http: { directReqS: (d1 + d2) / 2, vipReqS: (v1 + v2) / 2, ratio: (v1 + v2) / (d1 + d2) },
      upload: { directGbit: upDirect, vipGbit: upVia, ratio: upVia / upDirect },
      download: { directGbit: downDirect, vipGbit: downVia, ratio: downVia / downDirect },
      uploadTso: tso,
      maxRate: max,
      fixed10k: { ...fixed, cpuPer10kPps: fixed.directorCpuPercent * 10_000 / fixed.forwardedPps },
    };
  } finally {
    await destroyLab(lab);
  }
}

const results = [];
for (const m of ["dr", "tun"] as const) {
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
  `Data-plane benchmark, ${SECONDS} s runs, load average ${load}`,
  "",
  "| method | wrk 1 KiB req/s direct | via VIP | ratio | iperf3 up Gbit/s direct / VIP | ratio | down direct / VIP | ratio | up, client TSO on | ratio | max fwd pps (director CPU %) | CPU % per 10 kpps |",
  "|---|---|---|---|---|---|---|---|---|---|---|---|",
  ...results.map((r) =>
    `| ${r.method} | ${f(r.http.directReqS)} | ${f(r.http.vipReqS)} | ${f(r.http.ratio * 100)} % | ` +
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
