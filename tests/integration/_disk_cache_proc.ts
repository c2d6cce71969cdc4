/**
 * Helpers for tests that run `webcache cache` with a disk directory as a process: a free
 * loopback port, an origin whose bodies are derived from their paths, and start/stop of the cache.
 *
 * @module
 */
import { spawnWebcache } from "../_bin.ts";
import { testBody } from "../conformance/store_suite.ts";

/** A loopback port that was free a moment ago. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** Origin: `GET /o/<name>?size=N` returns N bytes derived from the path, cacheable for an hour. */
export class DerivedOrigin {
  requests = 0;
  #ac = new AbortController();
  #server: Deno.HttpServer<Deno.NetAddr>;

  constructor() {
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, signal: this.#ac.signal, onListen: () => {} },
      (req) => {
        this.requests++;
        const u = new URL(req.url);
        const size = Number(u.searchParams.get("size") ?? "1000");
        return new Response(testBody(u.pathname, size), {
          headers: { "cache-control": "public, max-age=3600", etag: `"${u.pathname}-${size}"` },
        });
      },
    );
  }

  /** `http://127.0.0.1:PORT` */
  get url(): string {
    return `http://127.0.0.1:${this.#server.addr.port}`;
  }

  /** Stops the origin. */
  async close(): Promise<void> {
    this.#ac.abort();
    await this.#server.finished;
  }
}

/** A running `webcache cache` process. */
export interface CacheProc {
  proc: Deno.ChildProcess;
  port: number;
  adminPort: number;
  /** stderr (logs) collected so far. */
  logs(): string;
  /** Waits for exit (after a kill) and drains the pipes. */
  done(): Promise<Deno.CommandStatus>;
}

/**
 * Starts `webcache cache --cache-dir DIR --cache-size SIZE` and waits until it answers. Pass the
 * previous `port` on restarts: in accelerator mode the Host (with its port) is part of the key.
 * With `config`, the directories come from that YAML file instead (`dir` is not used).
 *
 * @throws {Error} with its logs when it exits or does not answer in time
 */
export async function startCache(
  dir: string,
  origin: string,
  opts: { port?: number; extra?: string[]; config?: string } = {},
): Promise<CacheProc> {
  const port = opts.port ?? freePort();
  const adminPort = freePort();
  const proc = await spawnWebcache([
    "cache",
    ...(opts.config ? ["--config", opts.config] : ["--cache-dir", dir, "--cache-size", "64MiB"]),
    "--origin",
    origin,
    "--listen",
    `127.0.0.1:${port}`,
    "--admin",
    `127.0.0.1:${adminPort}`,
    "--workers",
    "2",
    ...(opts.extra ?? []),
  ], { stdout: "null" });
  let log = "";
  const drained = (async () => {
    for await (const c of proc.stderr.pipeThrough(new TextDecoderStream())) log += c;
  })();
  let exited = false;
  const status = proc.status.then((s) => {
    exited = true;
    return s;
  });
  const cp: CacheProc = {
    proc,
    port,
    adminPort,
    logs: () => log,
    done: async () => {
      const s = await status;
      await drained;
      return s;
    },
  };
  const deadline = Date.now() + 20_000;
  while (!/"Cache started"/.test(log)) {
    if (exited || Date.now() > deadline) {
      if (!exited) proc.kill("SIGKILL");
      await cp.done();
      throw new Error(`Cache did not start:\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return cp;
}

/** GETs `/o/<name>?size=N` through the cache; returns body and X-Cache. */
export async function fetchObject(port: number, name: string, size: number) {
  const res = await fetch(`http://127.0.0.1:${port}/o/${name}?size=${size}`);
  const body = new Uint8Array(await res.arrayBuffer());
  return { status: res.status, body, xcache: res.headers.get("x-cache") ?? "" };
}

/** Whether `body` is exactly what the origin sends for `name` and `size`. */
export function isExpected(name: string, size: number, body: Uint8Array): boolean {
  const want = testBody(`/o/${name}`, size);
  return body.length === want.length && body.every((v, i) => v === want[i]);
}

/** Signals the cache (default SIGTERM) and waits for it to exit. */
export async function stopCache(c: CacheProc, signal: Deno.Signal = "SIGTERM"): Promise<void> {
  try {
    c.proc.kill(signal);
  } catch { /* gone */ }
  await c.done();
}

/**
 * The kill -9 round trip both disk directory types must survive: each round starts the cache,
 * asks again for every object answered 200 before (each must come back byte for byte, from disk
 * or the origin), lets four clients write new objects of `sizes` for a random 0.4-1 s, and
 * SIGKILLs the cache in the middle of that.
 *
 * @param start starts the cache (same directory and port every round)
 * @param rounds how many kill -9 rounds
 * @param sizes object sizes the clients cycle through
 * @returns objects answered 200, and how many of the re-requests were hits
 */
export async function killDuringWrites(
  start: () => Promise<CacheProc>,
  rounds: number,
  sizes: number[],
): Promise<{ requested: number; hits: number }> {
  const requested: { name: string; size: number }[] = [];
  let hits = 0;
  let cache: CacheProc | undefined;
  try {
    for (let round = 0; round < rounds; round++) {
      cache = await start();
      const port = cache.port;
      for (const { name, size } of requested) {
        let r;
        try {
          r = await fetchObject(port, name, size);
        } catch (e) {
          throw new Error(
            `round ${round}: ${name} (${size} bytes) failed: ${(e as Error).message}\n${cache.logs().slice(-4000)}`,
            { cause: e },
          );
        }
        if (r.status !== 200 || !isExpected(name, size, r.body)) {
          throw new Error(
            `round ${round}: ${name} (${size} bytes) came back wrong: status ${r.status}, ${r.body.length} bytes, ` +
              `x-cache ${r.xcache}\n${cache.logs().slice(-4000)}`,
          );
        }
        if (r.xcache.startsWith("HIT")) hits++;
      }
      let stopClients = false;
      const clients = [0, 1, 2, 3].map(async (c) => {
        for (let i = 0; !stopClients; i++) {
          const name = `k${round}-${c}-${i}`;
          const size = sizes[(i + c) % sizes.length];
          let r;
          try {
            r = await fetchObject(port, name, size);
          } catch {
            return; // the cache was killed mid-response
          }
          if (r.status !== 200) continue;
          if (!isExpected(name, size, r.body)) throw new Error(`round ${round}: ${name} was served wrong`);
          requested.push({ name, size });
        }
      });
      await new Promise((r) => setTimeout(r, 400 + Math.random() * 600));
      cache.proc.kill("SIGKILL");
      stopClients = true;
      await Promise.all(clients);
      const status = await cache.done();
      cache = undefined;
      if (status.signal !== "SIGKILL") throw new Error(`round ${round}: the cache exited with ${status.code} first`);
    }
    return { requested: requested.length, hits };
  } finally {
    if (cache) await stopCache(cache, "SIGKILL");
  }
}
