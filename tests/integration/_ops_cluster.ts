/**
 * A small array for the operations tests, all real processes on 127.0.0.1: a `webcache director`
 * (proxy method, a `fromMembership` service with the default HTTP health check) and `webcache
 * cache` processes that join it through gossip, each with its own config file, access log and
 * ports kept across restarts; plus a continuous keep-alive load through the VIP that counts failures.
 *
 * @module
 */
import { spawnWebcache } from "../_bin.ts";
import { FAST, randomKey } from "./_cluster_harness.ts";

/**
 * A loopback port below the kernel's ephemeral range (`ip_local_port_range`, 32768 and up by
 * default), free for TCP and UDP a moment ago. A cache restarted on the same ports must not find
 * one taken as the source port of some outgoing connection meanwhile, which ephemeral ports can be.
 */
export function stablePort(): number {
  for (let i = 0; i < 200; i++) {
    const port = 20000 + Math.floor(Math.random() * 12000);
    try {
      const t = Deno.listen({ hostname: "127.0.0.1", port });
      const u = Deno.listenDatagram({ hostname: "127.0.0.1", port, transport: "udp" });
      t.close();
      u.close();
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

/** A continuous load: `clients` keep-alive loops of GETs through the VIP until stopped. */
export class Load {
  sent = 0;
  ok = 0;
  readonly failures: string[] = [];
  #stop = false;
  readonly #loops: Promise<void>[] = [];

  /**
   * @param url builds the URL of request `n`
   * @param clients concurrent loops
   * @param check whether a response body is right
   */
  constructor(url: (n: number) => string, clients: number, check: (res: Response, body: string) => boolean) {
    for (let i = 0; i < clients; i++) {
      this.#loops.push((async () => {
        while (!this.#stop) {
          const n = this.sent++;
          try {
            const res = await fetch(url(n), { signal: AbortSignal.timeout(10_000) });
            const body = await res.text();
            if (check(res, body)) this.ok++;
            else this.failures.push(`#${n}: HTTP ${res.status} ${body.slice(0, 100)}`);
          } catch (e) {
            this.failures.push(`#${n}: ${(e as Error).message}`);
          }
          await new Promise((r) => setTimeout(r, 5));
        }
      })());
    }
  }

  /** Stops the loops and waits for the requests in flight. */
  async stop(): Promise<void> {
    this.#stop = true;
    await Promise.all(this.#loops);
  }
}
