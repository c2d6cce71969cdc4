/**
 * Helpers for the director integration tests: small HTTP backends that answer with their name,
 * a client that connects from a chosen 127/8 source address (node:net's `localAddress`, since
 * Deno.connect cannot bind), free-port picking, and a director process from the bundle.
 *
 * @module
 */
import net from "node:net";
import { spawnWebcache } from "../_bin.ts";

/** A backend standing in for a cache: answers every request with its name. */
export interface Backend {
  name: string;
  port: number;
  stop(): Promise<void>;
}

/** Starts an HTTP backend on 127.0.0.1 (port 0 unless given). */
export function startBackend(name: string, port = 0): Backend {
  const ac = new AbortController();
  const server = Deno.serve(
    { hostname: "127.0.0.1", port, signal: ac.signal, onListen: () => {} },
    () => new Response(`${name}\n`),
  );
  return {
    name,
    port: server.addr.port,
    async stop() {
      ac.abort();
      await server.finished;
    },
  };
}

/** A port free right now on 127.0.0.1. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * One HTTP/1.0 request over a fresh TCP connection from `localAddress`.
 *
 * @returns the response body's first line (the backend name), or `""` when the connection was
 *   closed without a response (refused by the director or a dead backend)
 */
export function requestFrom(localAddress: string, port: number, timeoutMs = 5000): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const s = net.connect({ host: "127.0.0.1", port, localAddress });
    const timer = setTimeout(() => {
      s.destroy();
      reject(new Error(`request from ${localAddress} to :${port} timed out`));
    }, timeoutMs);
    s.on("connect", () => s.write("GET / HTTP/1.0\r\nHost: vip\r\n\r\n"));
    s.on("data", (c: Buffer) => chunks.push(c));
    s.on("error", () => {});
    s.on("close", () => {
      clearTimeout(timer);
      const text = Buffer.concat(chunks).toString();
      const body = text.split("\r\n\r\n")[1] ?? "";
      resolve(body.trim());
    });
  });
}

/** A held-open HTTP/1.1 keep-alive connection that can send several requests. */
export class KeepAlive {
  #s: net.Socket;
  #buf = "";
  #waiters: (() => void)[] = [];
  closed = false;
  #done: Promise<void>;

  private constructor(s: net.Socket) {
    this.#s = s;
    s.on("data", (c: Buffer) => {
      this.#buf += c.toString();
      for (const w of this.#waiters.splice(0)) w();
    });
    this.#done = new Promise((resolve) => {
      s.on("close", () => {
        this.closed = true;
        for (const w of this.#waiters.splice(0)) w();
        resolve();
      });
    });
    s.on("error", () => {});
  }

  /** Opens a connection from `localAddress`. */
  static open(localAddress: string, port: number): Promise<KeepAlive> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: "127.0.0.1", port, localAddress });
      s.once("connect", () => resolve(new KeepAlive(s)));
      s.once("error", reject);
    });
  }

  /** Sends one request and returns the body (the backend name); throws when the connection died. */
  async get(timeoutMs = 3000): Promise<string> {
    this.#buf = "";
    this.#s.write("GET / HTTP/1.1\r\nHost: vip\r\n\r\n");
    const deadline = Date.now() + timeoutMs;
    while (true) {
      const m = /\r\n\r\n([^\n]*)\n/.exec(this.#buf);
      if (m) return m[1];
      if (this.closed) throw new Error("keep-alive connection closed");
      if (Date.now() > deadline) throw new Error("keep-alive request timed out");
      await new Promise<void>((r) => {
        const t = setTimeout(r, 50);
        this.#waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** Closes and waits. */
  async close(): Promise<void> {
    this.#s.end();
    this.#s.destroy();
    await this.#done;
  }
}

/** Runs `fn` over `items` with at most `limit` at once. */
export async function pool<T, R>(items: T[], limit: number, fn: (x: T, i: number) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  });
  await Promise.all(workers);
  return out;
}

/** Counts occurrences. */
export function tally(xs: string[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const x of xs) t[x] = (t[x] ?? 0) + 1;
  return t;
}

/** A running director process. */
export interface DirectorProcess {
  admin: string;
  child: Deno.ChildProcess;
  /** stderr so far (log lines). */
  logs(): string;
  get<T>(path: string): Promise<T>;
  stop(): Promise<void>;
}

/** Starts `webcache director` from the bundle and waits for its admin endpoint. */
export async function startDirector(args: string[], admin: string): Promise<DirectorProcess> {
  const child = await spawnWebcache(["director", ...args, "--admin", admin], { stdout: "null" });
  let logs = "";
  const dec = new TextDecoder();
  const reading = (async () => {
    for await (const c of child.stderr) logs += dec.decode(c);
  })();
  const get = async <T>(path: string): Promise<T> => {
    const res = await fetch(`http://${admin}${path}`);
    if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
    return await res.json() as T;
  };
  const stop = async () => {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    await child.status;
    await reading;
  };
  const deadline = Date.now() + 15_000;
  while (true) {
    try {
      const res = await fetch(`http://${admin}/healthz`);
      await res.body?.cancel();
      if (res.ok) break;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`director did not start:\n${logs}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { admin, child, logs: () => logs, get, stop };
}
