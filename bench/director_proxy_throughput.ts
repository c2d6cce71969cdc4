/**
 * Proxy-mode throughput: HTTP requests/s of a 1 KiB object from nginx directly and through
 * `webcache director` (proxy method, rr, one real server), measured with wrk side by side and
 * interleaved (direct, director, direct, director), with keep-alive and with a new connection per
 * request (`Connection: close`). Prints each run and the ratio director/direct.
 *
 * Needs nginx and wrk (`which nginx wrk`). Run:
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
const nginx = new Deno.Command("nginx", {
  args: ["-c", `${dir}/nginx.conf`, "-p", dir],
  stdout: "null",
  stderr: "null",
})
  .spawn();
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
try {
  for (let i = 0; i < 100; i++) {
    try {
      await (await fetch(`http://127.0.0.1:${vipPort}/obj`)).text();
      break;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  for (const [mode, extra] of [["keepalive", []], ["close", ["-H", "Connection: close"]]] as const) {
    for (let round = 0; round < 2; round++) {
      for (const [name, port] of [["direct", nginxPort], ["director", vipPort]] as const) {
        const rps = await wrk(`http://127.0.0.1:${port}/obj`, [...extra]);
        (results[`${mode} ${name}`] ??= []).push(rps);
        console.log(`${mode.padEnd(9)} ${name.padEnd(8)} round ${round + 1}: ${rps.toFixed(0)} requests/s`);
      }
    }
  }
  const avg = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  const summary: Record<string, unknown> = { seconds, connections: conns, results };
  for (const mode of ["keepalive", "close"]) {
    const ratio = avg(results[`${mode} director`]) / avg(results[`${mode} direct`]);
    summary[`${mode}Ratio`] = Number(ratio.toFixed(3));
    console.log(`${mode}: director/direct = ${(ratio * 100).toFixed(1)} %`);
  }
  const outDir = Deno.env.get("OUT_DIR") ?? `${root}bench/results`;
  await Deno.mkdir(outDir, { recursive: true });
  await Deno.writeTextFile(`${outDir}/director_proxy_throughput.json`, JSON.stringify(summary, null, 2));
} finally {
  director.kill("SIGTERM");
  await director.status;
  nginx.kill("SIGTERM");
  await nginx.status;
  await Deno.remove(dir, { recursive: true });
}
