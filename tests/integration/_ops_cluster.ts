/**
 * A small array for the operations tests, all real processes on 127.0.0.1: a `webcache director`
 * (proxy method, a `fromMembership` service with the default HTTP health check) and `webcache
 * cache` processes that join it through gossip, each with its own config file, access log and
 * ports kept across restarts; plus a continuous keep-alive load through the VIP that counts failures.
 *
 * @module
 */
import { spawnWebcache } from "../_bin.ts";
import { ChunkedDecoder } from "../../http/chunked.ts";
import { findHeadEnd, parseResponseHead } from "../../http/head_codec.ts";
import { FAST, randomKey } from "./_cluster_harness.ts";

/** Ports {@link stablePort} returned in this test process. */
const handedOut = new Set<number>();

/**
 * A loopback port below the kernel's ephemeral range (`ip_local_port_range`, 32768 and up by
 * default), free for TCP and UDP a moment ago. A cache restarted on the same ports must not find
 * one taken as the source port of some outgoing connection meanwhile, which ephemeral ports can be.
 */
export function stablePort(): number {
  for (let i = 0; i < 200; i++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    // A port handed out before may not be bound yet by the process it was meant for: never twice.
    if (handedOut.has(port)) continue;
    try {
      const t = Deno.listen({ hostname: "127.0.0.1", port });
      const u = Deno.listenDatagram({ hostname: "127.0.0.1", port, transport: "udp" });
      t.close();
      u.close();
      handedOut.add(port);
      return port;
    } catch { /* taken: try another */ }
  }
  throw new Error("Cannot find a free port below the ephemeral range");
}

/** A process with its stderr collected. */
export class Proc {
  readonly proc: Deno.ChildProcess;
  #log = "";
  readonly #drained: Promise<void>;
  readonly status: Promise<Deno.CommandStatus>;

  constructor(proc: Deno.ChildProcess) {
    this.proc = proc;
    this.#drained = (async () => {
      for await (const c of proc.stderr.pipeThrough(new TextDecoderStream())) this.#log += c;
    })().catch(() => {});
    this.status = proc.status;
  }

  /** stderr so far. */
  logs(): string {
    return this.#log;
  }

  /** Sends a signal (ignored when the process is gone). */
  kill(signal: Deno.Signal): void {
    try {
      this.proc.kill(signal);
    } catch { /* gone */ }
  }

  /** Waits for exit and the end of stderr. */
  async done(): Promise<Deno.CommandStatus> {
    const s = await this.status;
    await this.#drained;
    return s;
  }

  /** Waits until `re` matches stderr. */
  async waitLog(re: RegExp, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!re.test(this.#log)) {
      if (Date.now() > deadline) throw new Error(`Timed out waiting for ${re}:\n${this.#log.slice(-3000)}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

/** One cache of the array: its ports and config file stay the same across restarts. */
export interface OpsCache {
  name: string;
  httpPort: number;
  adminPort: number;
  gossipPort: number;
  configFile: string;
  accessLog: string;
  proc?: Proc;
}

/** Options of {@link OpsArray.start}. */
export interface OpsArrayOptions {
  /** Number of caches. */
  caches: number;
  /** Default origin of every cache. */
  origin: string;
  /** Workers per cache (default 1). */
  workers?: number;
  /** Extra `cache` keys. */
  cache?: Record<string, unknown>;
  /** Health check of the service (default `{type: "http"}`: the default path). */
  health?: Record<string, unknown>;
}

/** The director and its caches. */
export class OpsArray {
  readonly dir: string;
  readonly key = randomKey();
  readonly vport = stablePort();
  readonly directorAdmin = stablePort();
  readonly directorGossip = stablePort();
  readonly caches: OpsCache[] = [];
  director?: Proc;
  readonly #opts: OpsArrayOptions;

  private constructor(dir: string, opts: OpsArrayOptions) {
    this.dir = dir;
    this.#opts = opts;
  }

  /** Starts the director and every cache; resolves once the director lists every cache up. */
  static async start(opts: OpsArrayOptions): Promise<OpsArray> {
    const a = new OpsArray(await Deno.makeTempDir({ prefix: "webcache-ops-" }), opts);
    try {
      await a.#startDirector();
      for (let i = 0; i < opts.caches; i++) {
        const c: OpsCache = {
          name: `cache-${i}`,
          httpPort: stablePort(),
          adminPort: stablePort(),
          gossipPort: stablePort(),
          configFile: `${a.dir}/cache-${i}.yaml`,
          accessLog: `${a.dir}/cache-${i}.access.log`,
        };
        await Deno.writeTextFile(c.configFile, JSON.stringify(a.cacheConfig(c))); // JSON is YAML
        a.caches.push(c);
      }
      await Promise.all(a.caches.map((c) => a.startCache(c)));
      await a.waitServers((s) => s.length === opts.caches && s.every((x) => x.up && x.weight > 0));
    } catch (e) {
      await a.close();
      throw e;
    }
    return a;
  }

  /** The config of one cache (written to its file as JSON). */
  cacheConfig(c: OpsCache): Record<string, unknown> {
    return {
      cluster: {
        name: "ops",
        gossipListen: `127.0.0.1:${c.gossipPort}`,
        nodeName: c.name,
        peers: [`127.0.0.1:${this.directorGossip}`],
        ...FAST,
      },
      admin: { listen: `127.0.0.1:${c.adminPort}` },
      log: { level: "info" },
      icp: { enabled: false },
      cache: {
        listen: [{ address: `127.0.0.1:${c.httpPort}`, mode: "accel" }],
        workers: this.#opts.workers ?? 1,
        defaultOrigin: this.#opts.origin,
        service: "web",
        accessLog: c.accessLog,
        peering: { mode: "none" },
        shutdownDelayMs: 1500,
        shutdownGraceMs: 10_000,
        ...this.#opts.cache,
      },
    };
  }

  async #startDirector(): Promise<void> {
    const cfg = {
      cluster: {
        name: "ops",
        gossipListen: `127.0.0.1:${this.directorGossip}`,
        nodeName: "lb",
        peers: [],
        ...FAST,
      },
      admin: { listen: `127.0.0.1:${this.directorAdmin}` },
      log: { level: "info" },
      director: {
        services: [{
          name: "web",
          vip: "127.0.0.1",
          port: this.vport,
          method: "proxy",
          scheduler: "rr",
          fromMembership: true,
          health: { type: "http", intervalMs: 300, timeoutMs: 1000, rise: 1, fall: 2, ...this.#opts.health },
        }],
      },
    };
    await Deno.writeTextFile(`${this.dir}/director.yaml`, JSON.stringify(cfg));
    this.director = new Proc(
      await spawnWebcache(["director", "--config", `${this.dir}/director.yaml`], {
        env: { WEBCACHE_CLUSTER_KEY: this.key },
        stdout: "null",
      }),
    );
    await this.director.waitLog(/"Cluster membership started"/);
  }

  /** Starts (or restarts) a cache and waits until it says it started. */
  async startCache(c: OpsCache): Promise<void> {
    c.proc = new Proc(
      await spawnWebcache(["cache", "--config", c.configFile], {
        env: { WEBCACHE_CLUSTER_KEY: this.key },
        stdout: "null",
      }),
    );
    await c.proc.waitLog(/"Cache started"/);
  }

  /** SIGTERM to a cache; resolves with its exit status. */
  async stopCache(c: OpsCache): Promise<Deno.CommandStatus> {
    c.proc!.kill("SIGTERM");
    return await c.proc!.done();
  }

  /** The real servers of the director's service. */
  async servers(): Promise<{ key: string; port: number; up: boolean; weight: number; activeConns: number }[]> {
    const res = await fetch(`http://127.0.0.1:${this.directorAdmin}/director/status`);
    const st = await res.json() as {
      services: {
        servers: {
          key: string;
          port: number;
          up: boolean;
          weight: number;
          activeConns: number;
          sorry: boolean;
          removed: boolean;
        }[];
      }[];
    };
    return st.services.flatMap((s) => s.servers).filter((s) => !s.sorry && !s.removed);
  }

  /** Polls {@link OpsArray.servers} until `ok` holds. */
  async waitServers(ok: (s: Awaited<ReturnType<OpsArray["servers"]>>) => boolean, timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        const s = await this.servers();
        last = s;
        if (ok(s)) return;
      } catch (e) {
        last = e;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`Director servers never matched: ${JSON.stringify(last)}\n${this.director?.logs().slice(-2000)}`);
  }

  /** Stops everything and removes the directory. */
  async close(): Promise<void> {
    for (const c of this.caches) c.proc?.kill("SIGKILL");
    for (const c of this.caches) await c.proc?.done();
    this.director?.kill("SIGKILL");
    await this.director?.done();
    await Deno.remove(this.dir, { recursive: true }).catch(() => {});
  }
}

/** What {@link Load} sends. */
export interface LoadTarget {
  /** Address to connect to; default 127.0.0.1. */
  hostname?: string;
  /** Port (of the VIP or a cache). */
  port: number;
  /** Request target of request `n`. */
  path: (n: number) => string;
  /** Host header; default `127.0.0.1:PORT`. */
  host?: string;
}

/**
 * A continuous load of `clients` HTTP/1.1 keep-alive clients written on raw sockets, so nothing
 * is retried behind the test's back (fetch may resend a request after its connection closed): a
 * request counts as failed unless a complete response with the expected status and body arrives.
 * A client opens a new connection when a response says `Connection: close` (as a draining cache's
 * do) and never sends on a connection the server has closed. The next request goes 5 ms after an answer.
 */
export class Load {
  sent = 0;
  ok = 0;
  readonly failures: string[] = [];
  #stop = false;
  readonly #loops: Promise<void>[] = [];

  /**
   * @param target where and what to request
   * @param clients concurrent connections
   * @param check whether a response is right
   */
  constructor(target: LoadTarget, clients: number, check: (status: number, body: string) => boolean) {
    for (let i = 0; i < clients; i++) this.#loops.push(this.#client(target, check));
  }

  async #client(t: LoadTarget, check: (status: number, body: string) => boolean): Promise<void> {
    let conn: Deno.TcpConn | undefined;
    let buf: Uint8Array = new Uint8Array(0);
    const hostname = t.hostname ?? "127.0.0.1";
    const host = t.host ?? `${hostname}:${t.port}`;
    while (!this.#stop) {
      const n = this.sent++;
      try {
        conn ??= await Deno.connect({ hostname, port: t.port });
        const req = new TextEncoder().encode(`GET ${t.path(n)} HTTP/1.1\r\nHost: ${host}\r\n\r\n`);
        for (let off = 0; off < req.length;) off += await conn.write(req.subarray(off));
        const r = await readResponse(conn, buf);
        buf = r.rest;
        if (check(r.status, r.body)) this.ok++;
        else this.failures.push(`#${n}: HTTP ${r.status} ${r.body.slice(0, 100)}`);
        if (r.close) {
          conn.close();
          conn = undefined;
          buf = new Uint8Array(0);
        }
      } catch (e) {
        this.failures.push(`#${n}: ${(e as Error).message}`);
        try {
          conn?.close();
        } catch { /* closed */ }
        conn = undefined;
        buf = new Uint8Array(0);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    try {
      conn?.close();
    } catch { /* closed */ }
  }

  /** Stops the clients and waits for the requests in flight. */
  async stop(): Promise<void> {
    this.#stop = true;
    await Promise.all(this.#loops);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/**
 * Reads one response (Content-Length or chunked body) from a keep-alive connection.
 *
 * @throws {Error} when the connection ends before the response is complete, or after 10 s
 */
async function readResponse(
  conn: Deno.TcpConn,
  start: Uint8Array,
): Promise<{ status: number; body: string; close: boolean; rest: Uint8Array }> {
  let buf = start;
  const chunk = new Uint8Array(65536);
  const deadline = Date.now() + 10_000;
  const more = async () => {
    const timer = setTimeout(() => conn.close(), Math.max(1, deadline - Date.now()));
    try {
      const n = await conn.read(chunk);
      if (n === null) throw new Error("connection closed before the response was complete");
      buf = concat(buf, chunk.subarray(0, n));
    } finally {
      clearTimeout(timer);
    }
  };
  let end: number;
  while ((end = findHeadEnd(buf, 0, buf.length)) === -1) await more();
  const head = parseResponseHead(buf.subarray(0, end));
  const connection = head.headers.get("connection")?.toLowerCase() ?? "";
  const close = connection.includes("close");
  let body = buf.subarray(end);
  const length = head.headers.get("content-length");
  if (length !== null) {
    while (body.length < Number(length)) {
      await more();
      body = buf.subarray(end);
    }
    return {
      status: head.status,
      body: new TextDecoder().decode(body.subarray(0, Number(length))),
      close,
      rest: body.slice(Number(length)),
    };
  }
  if (head.headers.get("transfer-encoding")?.toLowerCase() === "chunked") {
    const d = new ChunkedDecoder();
    const parts: Uint8Array[] = [];
    let r = d.push(body);
    parts.push(...r.data);
    while (!d.done) {
      const before = buf.length;
      await more();
      r = d.push(buf.subarray(before));
      parts.push(...r.data);
    }
    return {
      status: head.status,
      body: new TextDecoder().decode(parts.reduce(concat, new Uint8Array(0))),
      close,
      rest: r.rest ?? new Uint8Array(0),
    };
  }
  throw new Error(`Response without Content-Length or chunked framing: ${head.status}`);
}
