/**
 * The data-plane integration lab on a {@link Topology}: a client (tx offloads off, like a host
 * behind a wire), a second client, a director and three caches on one bridge, subnet 10.77.0.0/24,
 * VIP 10.77.0.100. Helpers start caches (`_name_server.ts` with the real-server set-up), the
 * director (`webcache director` from the bundle), curl, persistent connections and packet captures, all as
 * processes inside the namespaces, collected by the topology for clean-up.
 *
 * @module
 */
import { BUNDLE, DENO_FLAGS, ensureBundle } from "../_bin.ts";
import { type Host, Topology } from "./_topology.ts";

/** The VIP used by every lab. */
export const VIP = "10.77.0.100";
const HERE = new URL(".", import.meta.url).pathname;
const DENO = [Deno.execPath(), "run", "-A", "--unstable-kv", "--unstable-net"];

/** Collects a process's stdout lines in the background. */
export class Lines {
  readonly lines: string[] = [];
  readonly done: Promise<void>;

  /** @param stream the piped stdout */
  constructor(stream: ReadableStream<Uint8Array>) {
    this.done = (async () => {
      let buf = "";
      try {
        for await (const part of stream.pipeThrough(new TextDecoderStream())) {
          buf += part;
          let i;
          while ((i = buf.indexOf("\n")) >= 0) {
            this.lines.push(buf.slice(0, i));
            buf = buf.slice(i + 1);
          }
        }
      } catch { /* process killed */ }
      if (buf) this.lines.push(buf);
    })();
  }

  /**
   * Waits for a line matching `pred` at index ≥ `from`.
   *
   * @returns the line
   * @throws {Error} after `timeoutMs`, listing what was seen
   */
  async waitFor(pred: (l: string) => boolean, timeoutMs = 10_000, from = 0): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const l = this.lines.slice(from).find(pred);
      if (l !== undefined) return l;
      if (Date.now() > deadline) throw new Error(`Timed out waiting for a line; saw: ${this.lines.join(" | ")}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** A started helper process with its output. */
export interface Proc {
  p: Deno.ChildProcess;
  out: Lines;
}

/** The lab's hosts. */
export interface Lab {
  topo: Topology;
  client: Host;
  client2: Host;
  director: Host;
  caches: Host[];
  procs: Proc[];
  /** Temporary files to remove. */
  files: string[];
}

/**
 * Builds the topology (caller must `destroyLab` in finally).
 *
 * @param prefix namespace/veth name prefix (unique per test area)
 */
export async function buildLab(prefix = "wcdp"): Promise<Lab> {
  const topo = await Topology.create(prefix);
  const lab: Lab = {
    topo,
    client: undefined!,
    client2: undefined!,
    director: undefined!,
    caches: [],
    procs: [],
    files: [],
  };
  try {
    lab.client = await topo.addHost("cli", "10.77.0.10", { txChecksumOffload: false });
    lab.client2 = await topo.addHost("cli2", "10.77.0.20", { txChecksumOffload: false });
    lab.director = await topo.addHost("dir", "10.77.0.2");
    for (let i = 1; i <= 3; i++) lab.caches.push(await topo.addHost(`rs${i}`, `10.77.0.1${i}`));
  } catch (e) {
    await destroyLab(lab);
    throw e;
  }
  return lab;
}

/** Kills everything and removes the namespaces. */
export async function destroyLab(lab: Lab): Promise<void> {
  await lab.topo.destroy();
  await Promise.all(lab.procs.map((p) => p.out.done));
  for (const f of lab.files) await Deno.remove(f, { recursive: true }).catch(() => {});
}

function start(lab: Lab, ns: string, cmd: string[], stdin = false): Proc {
  const p = new Deno.Command("ip", {
    args: ["netns", "exec", ns, ...cmd],
    stdin: stdin ? "piped" : "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const proc = { p, out: new Lines(p.stdout) };
  lab.procs.push(proc);
  // Register with the topology so destroy() kills it.
  lab.topo.adopt(p);
  return proc;
}

/**
 * Starts a cache (name server) on `ports`, prepared for DR or TUN towards the VIP.
 *
 * @param opts.noMssClamp TUN: do not clamp the MSS (to exercise ICMP frag-needed)
 */
export async function startCache(
  lab: Lab,
  host: Host,
  forwarding: "dr" | "tun",
  opts: { ports?: string; noMssClamp?: boolean } = {},
): Promise<Proc> {
  const args = [
    ...DENO,
    `${HERE}_name_server.ts`,
    opts.ports ?? "80",
    host.name,
    "--vip",
    VIP,
    "--forwarding",
    forwarding,
  ];
  if (forwarding === "tun") args.push("--director", lab.director.ip);
  if (opts.noMssClamp) args.push("--no-mss-clamp");
  const proc = start(lab, host.ns, args);
  await proc.out.waitFor((l) => l === "ready", 20_000);
  return proc;
}

/**
 * Starts `webcache director` (the bundle) with a `director:` section written to a config file;
 * resolves once it forwards. Its log lines (stderr) are in the returned `out`.
 *
 * @throws {Error} with its output when it exits instead
 */
export async function startDirector(
  lab: Lab,
  section: Record<string, unknown>,
  /** Other top-level config sections (e.g. `cluster`). */
  other: Record<string, unknown> = {},
  /** `wrap`: a command the director runs under (e.g. setpriv to drop capabilities). */
  opts: { wrap?: string[] } = {},
): Promise<Proc & { file: string }> {
  await ensureBundle();
  const file = await Deno.makeTempFile({ prefix: "wcdp-director-", suffix: ".yaml" });
  lab.files.push(file);
  await Deno.writeTextFile(file, JSON.stringify({ ...other, director: section })); // JSON is YAML
  const p = new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      lab.director.ns,
      ...opts.wrap ?? [],
      Deno.execPath(),
      ...DENO_FLAGS.slice(1),
      BUNDLE,
      "director",
      "--config",
      file,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const proc = { p, out: new Lines(p.stderr) };
  lab.procs.push(proc);
  lab.topo.adopt(p);
  const ready = proc.out.waitFor((l) => l.includes('"Director started"'), 20_000);
  const exited = p.status.then((s) => {
    throw new Error(`Director exited ${s.code}: ${proc.out.lines.join("\n")}`);
  });
  await Promise.race([ready, exited]).catch((e) => {
    exited.catch(() => {});
    throw e;
  });
  exited.catch(() => {});
  return { ...proc, file };
}

/** Health checks fast enough for failover steps (fall × interval + timeout ≈ 900 ms). */
export const FAST_HEALTH = { type: "http", intervalMs: 300, timeoutMs: 300, fall: 2, rise: 1 };

/** Stops a helper process with SIGTERM and waits for it. */
export async function stopProc(lab: Lab, proc: Proc): Promise<void> {
  await lab.topo.stop(proc.p, 5000);
  await proc.out.done;
}

/** Runs curl in `host`'s namespace; returns exit code and body (first line). */
export async function curl(
  lab: Lab,
  host: Host,
  url: string,
  extra: string[] = [],
): Promise<{ code: number; body: string }> {
  const r = await lab.topo.exec(host.ns, ["curl", "-s", "-m", "5", ...extra, url], false);
  return { code: r.code, body: r.stdout.trim() };
}

/**
 * Sends `n` requests to the VIP from the client, each on a new connection, and returns the name
 * of the cache that answered each (the first word of its body).
 *
 * @throws {Error} when a request fails (the message says which and `why`)
 */
export async function cachesThroughVip(lab: Lab, n: number, why = ""): Promise<string[]> {
  const names: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await curl(lab, lab.client, `http://${VIP}/`);
    if (r.code !== 0) throw new Error(`curl through the VIP failed (exit ${r.code})${why}: ${r.body}`);
    names.push(r.body.split(" ")[0]);
  }
  return names;
}

/** Starts a persistent HTTP connection; `request()` sends one GET on it and returns the body line. */
export function keepAlive(lab: Lab, host: Host, port = 80) {
  const proc = start(lab, host.ns, [...DENO, `${HERE}_keepalive_client.ts`, VIP, String(port)], true);
  const w = proc.p.stdin.getWriter();
  let seen = 0;
  return {
    proc,
    async request(): Promise<string> {
      await w.write(new TextEncoder().encode("go\n"));
      const line = await proc.out.waitFor(() => true, 10_000, seen);
      seen = proc.out.lines.indexOf(line, seen) + 1;
      return line;
    },
    async close(): Promise<void> {
      await w.close();
      await proc.p.status;
      await proc.out.done;
    },
  };
}

/** Starts tcpdump in a namespace; `stop()` returns the captured lines. */
export async function capture(lab: Lab, host: Host, filter: string) {
  const p = new Deno.Command("ip", {
    args: ["netns", "exec", host.ns, "tcpdump", "-i", "eth0", "-nn", "-l", "-v", filter],
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  lab.topo.adopt(p);
  const out = new Lines(p.stdout);
  const err = new Lines(p.stderr);
  await err.waitFor((l) => l.includes("listening on"), 10_000);
  return {
    async stop(): Promise<string[]> {
      await new Promise((r) => setTimeout(r, 300));
      await lab.topo.stop(p, 2000);
      await Promise.all([out.done, err.done]);
      return out.lines;
    },
  };
}
