/**
 * Helpers for the ICP/peering integration tests: webcache cache processes (the bundle), optionally
 * inside a network namespace, each with its own YAML config; readiness from the "Cache started"
 * log line; and network namespace topologies under the `wcic` prefix.
 *
 * @module
 */
import { stringify } from "yaml";
import { BUNDLE, DENO_FLAGS, ensureBundle } from "../_bin.ts";

/** A port that was free a moment ago for both TCP and UDP (the kernel picked it). */
export function randomPort(): number {
  for (;;) {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = l.addr.port;
    l.close();
    try {
      Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port }).close();
      return port;
    } catch {
      // UDP side taken: try another
    }
  }
}

/** A running `webcache cache`. */
export class CacheNode {
  readonly name: string;
  readonly lines: string[] = [];
  readonly #proc: Deno.ChildProcess;
  readonly #reader: Promise<void>;
  readonly #dir: string;
  #ready: Promise<void>;

  private constructor(name: string, proc: Deno.ChildProcess, dir: string) {
    this.name = name;
    this.#proc = proc;
    this.#dir = dir;
    let ok!: () => void;
    let fail!: (e: Error) => void;
    this.#ready = new Promise<void>((res, rej) => {
      ok = res;
      fail = rej;
    });
    this.#reader = (async () => {
      let buf = "";
      const dec = new TextDecoder();
      for await (const chunk of proc.stderr) {
        buf += dec.decode(chunk, { stream: true });
        let i;
        while ((i = buf.indexOf("\n")) >= 0) {
          const line = buf.slice(0, i);
          buf = buf.slice(i + 1);
          this.lines.push(line);
          if (line.includes('"Cache started"')) ok();
        }
      }
      fail(new Error(`${name} exited before it was ready:\n${this.lines.join("\n")}`));
    })();
  }

  /**
   * Starts a cache with a config object (written as YAML) and extra flags.
   *
   * @param name node name (`cluster.nodeName`; also Via)
   * @param config the appliance config
   * @param opts `netns`: run inside this namespace; `args`: extra flags
   */
  static async start(
    name: string,
    config: Record<string, unknown>,
    opts: { netns?: string; args?: string[]; timeoutMs?: number } = {},
  ): Promise<CacheNode> {
    await ensureBundle();
    const dir = await Deno.makeTempDir({ prefix: "wcic-node-" });
    const file = `${dir}/appliance.yaml`;
    await Deno.writeTextFile(file, stringify(config));
    const argv = [Deno.execPath(), ...DENO_FLAGS, BUNDLE, "cache", "--config", file, ...(opts.args ?? [])];
    const cmd = opts.netns ? ["ip", "netns", "exec", opts.netns, ...argv] : argv;
    const proc = new Deno.Command(cmd[0], { args: cmd.slice(1), stdout: "null", stderr: "piped", stdin: "null" })
      .spawn();
    const node = new CacheNode(name, proc, dir);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        node.#ready,
        new Promise((_, rej) => {
          timer = setTimeout(
            () => rej(new Error(`${name} not ready:\n${node.lines.join("\n")}`)),
            opts.timeoutMs ?? 20000,
          );
        }),
      ]);
    } catch (e) {
      await node.stop();
      throw e;
    } finally {
      clearTimeout(timer);
    }
    return node;
  }

  /** Log lines (JSON) matching `msg`. */
  logged(msg: string): Record<string, unknown>[] {
    return this.lines.filter((l) => l.startsWith("{")).map((l) => JSON.parse(l)).filter((o) => o.msg === msg);
  }

  /** Stops the process (SIGTERM, then SIGKILL) and removes its files. */
  async stop(): Promise<void> {
    try {
      this.#proc.kill("SIGTERM");
    } catch {
      // already gone
    }
    const t = setTimeout(() => {
      try {
        this.#proc.kill("SIGKILL");
      } catch {
        // gone
      }
    }, 3000);
    await this.#proc.status;
    clearTimeout(t);
    if (Deno.env.get("WCIC_DEBUG")) console.error(`--- ${this.name}\n${this.lines.join("\n")}`);
    await this.#reader.catch(() => {});
    this.#ready.catch(() => {});
    await Deno.remove(this.#dir, { recursive: true }).catch(() => {});
  }
}

/** Runs a command and throws with its stderr when it fails. */
export async function sh(...argv: string[]): Promise<string> {
  const out = await new Deno.Command(argv[0], { args: argv.slice(1), stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${argv.join(" ")}: exit ${out.code}: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** Runs `curl` inside a namespace; returns status, headers and body. */
export async function curlIn(
  netns: string | undefined,
  url: string,
  headers: Record<string, string> = {},
): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  if (!netns) return await rawGet(url, headers);
  const args = ["-sS", "-D", "-", "--max-time", "10", url];
  for (const [k, v] of Object.entries(headers)) args.push("-H", `${k}: ${v}`);
  const cmd = netns ? ["ip", "netns", "exec", netns, "curl", ...args] : ["curl", ...args];
  const text = await sh(...cmd);
  const split = text.indexOf("\r\n\r\n");
  const head = text.slice(0, split).split("\r\n");
  const status = Number(head[0].split(" ")[1]);
  const h: Record<string, string> = {};
  for (const l of head.slice(1)) {
    const i = l.indexOf(":");
    h[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status, headers: h, body: text.slice(split + 4) };
}

/** GET over a fresh TCP connection with exactly the given headers (fetch() would replace Host). */
async function rawGet(
  url: string,
  headers: Record<string, string>,
): Promise<{ status: number; headers: Record<string, string>; body: string }> {
  const u = new URL(url);
  const conn = await Deno.connect({ hostname: u.hostname, port: Number(u.port) });
  try {
    const lines = [`GET ${u.pathname}${u.search} HTTP/1.1`, "connection: close"];
    if (!Object.keys(headers).some((k) => k.toLowerCase() === "host")) lines.push(`host: ${u.host}`);
    for (const [k, v] of Object.entries(headers)) lines.push(`${k}: ${v}`);
    await conn.write(new TextEncoder().encode(lines.join("\r\n") + "\r\n\r\n"));
    const chunks: Uint8Array[] = [];
    const buf = new Uint8Array(65536);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
    const text = new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
    const split = text.indexOf("\r\n\r\n");
    const head = text.slice(0, split).split("\r\n");
    const h: Record<string, string> = {};
    for (const l of head.slice(1)) {
      const i = l.indexOf(":");
      h[l.slice(0, i).trim().toLowerCase()] = l.slice(i + 1).trim();
    }
    if (h["transfer-encoding"]) throw new Error(`rawGet: chunked response from ${url} not supported`);
    return { status: Number(head[0].split(" ")[1]), headers: h, body: text.slice(split + 4) };
  } finally {
    conn.close();
  }
}

/**
 * A LAN of namespaces: `n` node namespaces, each with `eth0` on one bridge (in a hub namespace),
 * plus a veth from the test's own namespace to the same bridge so the test can reach every node.
 * Addresses: node i (1-based) is `<prefix>.i`, the test side is `<prefix>.254`. Every node has a
 * route for 224.0.0.0/4 on eth0.
 */
export class NetnsLan {
  readonly id: string;
  readonly prefix: string;
  readonly nodes: string[] = [];
  readonly hub: string;
  readonly hostIf: string;

  private constructor(id: string, prefix: string) {
    this.id = id;
    this.prefix = prefix;
    this.hub = `wcic${id}h`;
    this.hostIf = `wcic${id}r`;
  }

  /** Address of node i (1-based), or 254 for the test side. */
  addr(i: number): string {
    return `${this.prefix}.${i}`;
  }

  /**
   * Creates the LAN; on failure removes what it made.
   *
   * @param n number of node namespaces
   */
  static async create(n: number): Promise<NetnsLan> {
    const id = Math.random().toString(36).slice(2, 7);
    const lan = new NetnsLan(id, `10.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}`);
    try {
      await sh("ip", "netns", "add", lan.hub);
      await sh("ip", "-n", lan.hub, "link", "add", "br0", "type", "bridge", "mcast_snooping", "0");
      await sh("ip", "-n", lan.hub, "link", "set", "br0", "up");
      await sh("ip", "link", "add", lan.hostIf, "type", "veth", "peer", "name", "hostp", "netns", lan.hub);
      await sh("ip", "-n", lan.hub, "link", "set", "hostp", "master", "br0", "up");
      await sh("ip", "addr", "add", `${lan.addr(254)}/24`, "dev", lan.hostIf);
      await sh("ip", "link", "set", lan.hostIf, "up");
      for (let i = 1; i <= n; i++) {
        const ns = `wcic${id}n${i}`;
        await sh("ip", "netns", "add", ns);
        lan.nodes.push(ns);
        await sh("ip", "-n", lan.hub, "link", "add", `p${i}`, "type", "veth", "peer", "name", "eth0", "netns", ns);
        await sh("ip", "-n", lan.hub, "link", "set", `p${i}`, "master", "br0", "up");
        await sh("ip", "-n", ns, "addr", "add", `${lan.addr(i)}/24`, "dev", "eth0");
        await sh("ip", "-n", ns, "link", "set", "eth0", "up");
        await sh("ip", "-n", ns, "link", "set", "lo", "up");
        await sh("ip", "-n", ns, "route", "add", "224.0.0.0/4", "dev", "eth0");
      }
    } catch (e) {
      await lan.destroy();
      throw e;
    }
    return lan;
  }

  /** Removes every namespace and the host-side veth. */
  async destroy(): Promise<void> {
    for (const ns of this.nodes) await sh("ip", "netns", "del", ns).catch(() => {});
    await sh("ip", "link", "del", this.hostIf).catch(() => {});
    await sh("ip", "netns", "del", this.hub).catch(() => {});
  }
}
