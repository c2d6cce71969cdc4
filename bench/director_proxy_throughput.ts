/**
 * Proxy-mode throughput: HTTP requests/s of a 1 KiB object from nginx directly, through
 * `webcache director` (proxy method, rr, one real server), and through the user-space layer-4
 * proxies an operator would compare it with: nginx's `stream` proxy and HAProxy in `mode tcp`
 * (each with one worker/thread, as the director's proxy runs on one thread). Measured with wrk
 * side by side and interleaved (direct, director, nginx-stream, haproxy, twice), with keep-alive
 * and with a new connection per request (`Connection: close`). Prints each run, the ratio to
 * direct, the ratio to the best peer proxy, and each proxy's requests per CPU-second
 * (/proc/PID/stat).
 *
 * Needs nginx with its stream module (Debian: libnginx-mod-stream) and wrk, and haproxy for that peer
 * (skipped without it): `apt-get install nginx libnginx-mod-stream haproxy wrk`. Run:
 *   deno run -A --unstable-kv --unstable-net bench/director_proxy_throughput.ts [SECONDS] [CONNECTIONS]
 * Results also go to bench/results/director_proxy_throughput.json (OUT_DIR overrides the folder).
 */
const seconds = Number(Deno.args[0] ?? 5);
const conns = Number(Deno.args[1] ?? 32);
const root = new URL("../", import.meta.url).pathname;

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = (l.addr as Deno.NetAddr).port;
  l.close();
  return p;
}

/** utime + stime of a process, in seconds. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return 0;
  try {
    const f = Deno.readTextFileSync(`/proc/${pid}/stat`).split(") ")[1].split(" ");
    return (Number(f[11]) + Number(f[12])) / 100;
  } catch {
    return 0;
  }
}

async function wrk(url: string, extra: string[]): Promise<number> {
  const out = await new Deno.Command("wrk", {
    args: ["-t1", `-c${conns}`, `-d${seconds}s`, ...extra, url],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const m = /Requests\/sec:\s+([\d.]+)/.exec(text);
  if (!m) throw new Error(`wrk output without Requests/sec:\n${text}${new TextDecoder().decode(out.stderr)}`);
  const errors = /Non-2xx or 3xx responses: (\d+)|Socket errors: (.*)/.exec(text);
  if (errors) console.error(`  wrk ${url}: ${errors[0]}`);
  return Number(m[1]);
}

const dir = await Deno.makeTempDir({ prefix: "wc-bench-" });
await Deno.chmod(dir, 0o755); // nginx workers run as nobody
const nginxPort = freePort();
const vipPort = freePort();
const adminPort = freePort();
const streamPort = freePort();
// Debian builds the stream module as a dynamic module (package libnginx-mod-stream).
const streamModule = "/usr/lib/nginx/modules/ngx_stream_module.so";
const haproxyPort = freePort();
await Deno.writeTextFile(`${dir}/obj`, "x".repeat(1024));
await Deno.writeTextFile(
  `${dir}/nginx.conf`,
  `worker_processes 1;
daemon off;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:${nginxPort} reuseport;
    root ${dir};
    location / { }
  }
}
`,
);
await Deno.writeTextFile(
  `${dir}/stream.conf`,
  `load_module ${streamModule};
worker_processes 1;
daemon off;
pid ${dir}/stream.pid;
error_log ${dir}/stream-error.log warn;
events { worker_connections 4096; }
stream {
  server {
    listen 127.0.0.1:${streamPort};
    proxy_pass 127.0.0.1:${nginxPort};
  }
}
`,
);
await Deno.writeTextFile(
  `${dir}/haproxy.cfg`,
  `global
  nbthread 1
  maxconn 4096
defaults
  mode tcp
  timeout connect 5s
  timeout client 60s
  timeout server 60s
frontend fe
  bind 127.0.0.1:${haproxyPort}
  default_backend be
backend be
  server s1 127.0.0.1:${nginxPort}
`,
);
const hasHaproxy = (await new Deno.Command("sh", { args: ["-c", "command -v haproxy"], stdout: "null" }).output())
  .success;
const nginx = new Deno.Command("nginx", {
  args: ["-c", `${dir}/nginx.conf`, "-p", dir],
  stdout: "null",
  stderr: "null",
})
  .spawn();
const stream = new Deno.Command("nginx", {
  args: ["-c", `${dir}/stream.conf`, "-p", dir],
  stdout: "null",
  stderr: "null",
}).spawn();
const haproxy = hasHaproxy
  ? new Deno.Command("haproxy", { args: ["-db", "-f", `${dir}/haproxy.cfg`], stdout: "null", stderr: "null" }).spawn()
  : undefined;
if (!haproxy) console.error("haproxy not found: measuring without that peer");
const director = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    "-A",
    "--unstable-kv",
    "--unstable-net",
    `${root}main.ts`,
    "director",
    "--service",
    `127.0.0.1:${vipPort}`,
    "--scheduler",
    "rr",
    "--health",
    "none",
    "--real",
    `127.0.0.1:${nginxPort}`,
    "--admin",
    `127.0.0.1:${adminPort}`,
    "--log-level",
    "warn",
  ],
  stdout: "null",
  stderr: "inherit",
}).spawn();
const results: Record<string, number[]> = {};
const cpu: Record<string, number[]> = {};
/** The nginx stream master forks a worker: measure the worker, which does the proxying. */
function streamWorker(): number | undefined {
  try {
    const master = Number(Deno.readTextFileSync(`${dir}/stream.pid`).trim());
    const kids = Deno.readTextFileSync(`/proc/${master}/task/${master}/children`).trim().split(/\s+/);
    return kids[0] ? Number(kids[0]) : undefined;
  } catch {
    return undefined;
  }
}
try {
  for (const port of [vipPort, streamPort, ...(haproxy ? [haproxyPort] : [])]) {
    for (let i = 0; i < 100; i++) {
      try {
        await (await fetch(`http://127.0.0.1:${port}/obj`)).text();
        break;
      } catch {
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }
  const targets: [string, number, () => number | undefined][] = [
    ["direct", nginxPort, () => undefined],
    ["director", vipPort, () => director.pid],
    ["nginx-stream", streamPort, streamWorker],
    ...(haproxy ? [["haproxy", haproxyPort, () => haproxy.pid] as [string, number, () => number | undefined]] : []),
  ];
  for (const [mode, extra] of [["keepalive", []], ["close", ["-H", "Connection: close"]]] as const) {
    for (let round = 0; round < 2; round++) {
      for (const [name, port, pid] of targets) {
        const p = pid();
        const c0 = cpuSeconds(p);
        const rps = await wrk(`http://127.0.0.1:${port}/obj`, [...extra]);
        const perCpu = p === undefined ? 0 : rps * seconds / Math.max(0.01, cpuSeconds(p) - c0);
        (results[`${mode} ${name}`] ??= []).push(rps);
        (cpu[`${mode} ${name}`] ??= []).push(perCpu);
        console.log(
          `${mode.padEnd(9)} ${name.padEnd(12)} round ${round + 1}: ${rps.toFixed(0)} requests/s` +
            (p === undefined ? "" : `, ${perCpu.toFixed(0)} per proxy CPU-s`),
        );
      }
    }
  }
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const summary: Record<string, unknown> = { seconds, connections: conns, results, requestsPerCpuSecond: cpu };
  for (const mode of ["keepalive", "close"]) {
    const direct = avg(results[`${mode} direct`]);
    const mine = avg(results[`${mode} director`]);
    const peers = targets.map((t) => t[0]).filter((n) => n !== "direct" && n !== "director");
    const best = Math.max(...peers.map((n) => avg(results[`${mode} ${n}`])));
    summary[`${mode}Ratio`] = Number((mine / direct).toFixed(3));
    summary[`${mode}VsBestPeer`] = Number((mine / best).toFixed(3));
    console.log(
      `${mode}: director/direct = ${(mine / direct * 100).toFixed(1)} %, director/best peer proxy = ${
        (mine / best * 100).toFixed(1)
      } %; per proxy CPU-s: ${
        targets.slice(1).map((t) => `${t[0]} ${avg(cpu[`${mode} ${t[0]}`]).toFixed(0)}`).join(", ")
      }`,
    );
  }
  const outDir = Deno.env.get("OUT_DIR") ?? `${root}bench/results`;
  await Deno.mkdir(outDir, { recursive: true });
  await Deno.writeTextFile(`${outDir}/director_proxy_throughput.json`, JSON.stringify(summary, null, 2));
} finally {
  try {
    director.kill("SIGTERM");
  } catch { /* already gone */ }
  await director.status;
  for (const p of [nginx, stream, ...(haproxy ? [haproxy] : [])]) {
    try {
      p.kill("SIGTERM");
    } catch { /* already gone */ }
    await p.status;
  }
  await Deno.remove(dir, { recursive: true });
}
