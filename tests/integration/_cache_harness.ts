/**
 * Helpers for the cache integration tests: a scripted origin (Deno.serve on port 0, recording
 * every request), a raw TCP origin for malformed answers, an in-process cache on port 0, and a
 * small raw HTTP/1.1 client that shows exactly what the cache sent.
 *
 * @module
 */
import { validateConfig } from "../../config/mod.ts";
import { configureLogging } from "../../core/log.ts";
import { CacheService } from "../../cache/cache_service.ts";
import type { ListenerMode } from "../../cache/route.ts";
import type { TlsFiles } from "../../http/tls_files.ts";
import { ChunkedDecoder } from "../../http/chunked.ts";
import { findHeadEnd, latin1Decode, parseResponseHead } from "../../http/head_codec.ts";

configureLogging({ level: "warn" });

/** A request the origin received. */
export interface SeenRequest {
  method: string;
  path: string;
  headers: Headers;
  body: string;
}

/** The scripted origin. */
export class TestOrigin {
  readonly seen: SeenRequest[] = [];
  handler: (req: Request, n: number) => Response | Promise<Response>;
  #server: Deno.HttpServer<Deno.NetAddr>;
  #ac = new AbortController();

  constructor(handler: (req: Request, n: number) => Response | Promise<Response>) {
    this.handler = handler;
    this.#server = Deno.serve(
      { hostname: "127.0.0.1", port: 0, signal: this.#ac.signal, onListen: () => {} },
      async (req) => {
        const u = new URL(req.url);
        const body = req.body ? await req.text() : "";
        this.seen.push({ method: req.method, path: u.pathname + u.search, headers: req.headers, body });
        return await this.handler(req, this.seen.length);
      },
    );
  }

  get port(): number {
    return this.#server.addr.port;
  }
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }
  /** Requests for one path. */
  count(path?: string): number {
    return path === undefined ? this.seen.length : this.seen.filter((r) => r.path === path).length;
  }
  async close(): Promise<void> {
    this.#ac.abort();
    await this.#server.finished;
  }
}

/** A TCP origin whose connections a test scripts byte by byte. */
export class RawOrigin {
  readonly listener: Deno.TcpListener;
  readonly #tasks: Promise<void>[] = [];
  readonly #conns = new Set<Deno.Conn>();
  #loop: Promise<void>;

  constructor(onConn: (conn: Deno.Conn) => Promise<void>, hostname = "127.0.0.1") {
    const listener = Deno.listen({ hostname, port: 0 });
    this.listener = listener;
    this.#loop = (async () => {
      for await (const c of listener) {
        this.#conns.add(c);
        this.#tasks.push(
          onConn(c).catch(() => {}).finally(() => {
            this.#conns.delete(c);
            try {
              c.close();
            } catch { /* closed */ }
          }),
        );
      }
    })().catch(() => {});
  }
  get url(): string {
    const h = this.listener.addr.hostname;
    return `http://${h.includes(":") ? `[${h}]` : h}:${this.listener.addr.port}`;
  }
  async close(): Promise<void> {
    this.listener.close();
    await this.#loop;
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await Promise.all(this.#tasks);
  }
}

/**
 * One keep-alive HTTP/1.1 GET (no `Connection: close`), the kind the fast hit path serves; reads
 * the response to the end of its Content-Length body.
 */
export async function keepAliveGet(port: number, target: string, host = "test.example"): Promise<RawResponse> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(new TextEncoder().encode(`GET ${target} HTTP/1.1\r\nHost: ${host}\r\n\r\n`));
    let buf = new Uint8Array(0);
    const chunk = new Uint8Array(65536);
    while (true) {
      const n = await conn.read(chunk);
      if (n === null) break;
      const next = new Uint8Array(buf.length + n);
      next.set(buf);
      next.set(chunk.subarray(0, n), buf.length);
      buf = next;
      const end = findHeadEnd(buf, 0, buf.length);
      if (end === -1) continue;
      const len = Number(/content-length:\s*(\d+)/i.exec(latin1Decode(buf.subarray(0, end)))?.[1] ?? 0);
      if (buf.length >= end + len) break;
    }
    return parseRaw(buf);
  } finally {
    conn.close();
  }
}

/** Reads one HTTP request head from a raw connection (for RawOrigin scripts). */
export async function readRequestHead(conn: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(65536);
  let n = 0;
  while (true) {
    const r = await conn.read(buf.subarray(n));
    if (r === null) return latin1Decode(buf.subarray(0, n));
    n += r;
    if (findHeadEnd(buf, 0, n) !== -1) return latin1Decode(buf.subarray(0, n));
  }
}

/** Writes a string to a connection. */
export async function writeText(conn: Deno.Conn, s: string | Uint8Array): Promise<void> {
  const b = typeof s === "string" ? new TextEncoder().encode(s) : s;
  let off = 0;
  while (off < b.length) off += await conn.write(b.subarray(off));
}

/** A running in-process cache. */
export interface TestCache {
  service: CacheService;
  /** Port of each listener, in the order given. */
  ports: number[];
  port: number;
  close(): Promise<void>;
}

/**
 * Starts a cache in this process on 127.0.0.1 port 0.
 *
 * @param cache `cache` config section (validated with defaults)
 * @param listeners modes of the listeners to open (default one accelerator)
 */
export function startCache(
  cache: Record<string, unknown>,
  listeners: { mode: ListenerMode; proxyProtocol?: boolean; tls?: TlsFiles }[] = [{ mode: "accel" }],
  node = "testcache",
): TestCache {
  const cfg = validateConfig({ cache }, { source: "test" });
  const service = new CacheService(cfg.cache, {
    node,
    reusePort: false,
    listeners: listeners.map((l) => ({ hostname: "127.0.0.1", port: 0, ...l })),
  }).start();
  const ports = service.servers.map((s) => s.addr.port);
  return { service, ports, port: ports[0], close: () => service.close() };
}

/** A response as the raw client read it. */
export interface RawResponse {
  status: number;
  headers: Headers;
  body: Uint8Array;
  text: string;
  /** The head as sent. */
  head: string;
}

/** Options of {@link request}. */
export interface RequestOptions {
  method?: string;
  headers?: Record<string, string>;
  body?: string;
  /** Host header (default `test.example`); null to omit. */
  host?: string | null;
  /** Abort reading after this many ms. */
  timeoutMs?: number;
}

/**
 * Sends one request with `Connection: close` and reads the whole response.
 *
 * @param port cache port
 * @param target request target, e.g. `/a?b`
 */
export async function request(port: number, target: string, opts: RequestOptions = {}): Promise<RawResponse> {
  const method = opts.method ?? "GET";
  let head = `${method} ${target} HTTP/1.1\r\n`;
  const host = opts.host === undefined ? "test.example" : opts.host;
  if (host !== null) head += `Host: ${host}\r\n`;
  for (const [k, v] of Object.entries(opts.headers ?? {})) head += `${k}: ${v}\r\n`;
  if (opts.body !== undefined) head += `Content-Length: ${new TextEncoder().encode(opts.body).length}\r\n`;
  head += "Connection: close\r\n\r\n" + (opts.body ?? "");
  const bytes = await rawExchange(port, new TextEncoder().encode(head), opts.timeoutMs);
  return parseRaw(bytes, method);
}

/** Writes bytes and reads until the server closes (or the timeout). */
export async function rawExchange(port: number, data: Uint8Array, timeoutMs = 5000): Promise<Uint8Array> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const timer = setTimeout(() => {
    try {
      conn.close();
    } catch { /* closed */ }
  }, timeoutMs);
  const chunks: Uint8Array[] = [];
  try {
    await writeText(conn, data);
    const buf = new Uint8Array(65536);
    while (true) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      chunks.push(buf.slice(0, n));
    }
  } finally {
    clearTimeout(timer);
    try {
      conn.close();
    } catch { /* closed */ }
  }
  const total = chunks.reduce((a, c) => a + c.length, 0);
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.length;
  }
  return out;
}

/** Parses one response from raw bytes (body by its framing). */
export function parseRaw(bytes: Uint8Array, method = "GET"): RawResponse {
  const end = findHeadEnd(bytes, 0, bytes.length);
  if (end === -1) throw new Error(`No response head in ${JSON.stringify(latin1Decode(bytes).slice(0, 200))}`);
  const h = parseResponseHead(bytes.subarray(0, end));
  const headers = new Headers();
  for (const [k, v] of h.headers.fields) headers.append(k, v);
  let body = bytes.subarray(end);
  if (method === "HEAD" || h.status === 304 || h.status === 204) body = new Uint8Array(0);
  else if (headers.get("transfer-encoding") === "chunked") {
    const d = new ChunkedDecoder();
    const r = d.push(body);
    const total = r.data.reduce((a, c) => a + c.length, 0);
    const out = new Uint8Array(total);
    let off = 0;
    for (const c of r.data) {
      out.set(c, off);
      off += c.length;
    }
    body = out;
  } else if (headers.has("content-length")) body = body.subarray(0, Number(headers.get("content-length")));
  return {
    status: h.status,
    headers,
    body,
    text: new TextDecoder().decode(body),
    head: latin1Decode(bytes.subarray(0, end)),
  };
}

/** Sleeps. */
export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** A cacheable response. */
export function cacheable(body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, { headers: { "cache-control": "max-age=60", "content-type": "text/plain", ...headers } });
}

/** A request exactly as a {@link RecordingOrigin} received it. */
export interface RawSeen {
  method: string;
  /** The request-target as sent on the request line. */
  target: string;
  /** The Host field as sent (null when absent). */
  host: string | null;
  headers: Headers;
  /** The head as sent. */
  head: string;
}

/** What a {@link RecordingOrigin} answers. */
export interface RawAnswer {
  status?: number;
  headers?: [string, string][];
  body?: string;
  /** Wait this long before answering (ms). */
  delayMs?: number;
}

/**
 * An origin that records each request line and field exactly as it came off the socket (a
 * `Deno.serve` origin would show a URL already normalised by its own parser, hiding what the
 * cache really asked), and answers keep-alive requests from a script.
 */
export class RecordingOrigin {
  readonly seen: RawSeen[] = [];
  /** TCP connections accepted. */
  accepted = 0;
  readonly #raw: RawOrigin;

  /**
   * @param answer the response to each request (`n` counts from 1)
   * @param hostname address to listen on (default 127.0.0.1)
   */
  constructor(answer: (r: RawSeen, n: number) => RawAnswer, hostname = "127.0.0.1") {
    this.#raw = new RawOrigin(async (conn) => {
      this.accepted++;
      let buf = new Uint8Array(0);
      const chunk = new Uint8Array(65536);
      while (true) {
        let end = findHeadEnd(buf, 0, buf.length);
        while (end === -1) {
          const n = await conn.read(chunk);
          if (n === null) return;
          const next = new Uint8Array(buf.length + n);
          next.set(buf);
          next.set(chunk.subarray(0, n), buf.length);
          buf = next;
          end = findHeadEnd(buf, 0, buf.length);
        }
        const head = latin1Decode(buf.subarray(0, end));
        buf = buf.slice(end); // requests from the cache's GET/HEAD path carry no body
        const [line, ...fields] = head.split("\r\n").filter((l) => l !== "");
        const [method, target] = line.split(" ");
        const headers = new Headers();
        for (const f of fields) {
          const i = f.indexOf(":");
          headers.append(f.slice(0, i).trim(), f.slice(i + 1).trim());
        }
        const seen: RawSeen = { method, target, host: headers.get("host"), headers, head };
        this.seen.push(seen);
        const a = answer(seen, this.seen.length);
        if (a.delayMs) await sleep(a.delayMs);
        const body = new TextEncoder().encode(a.body ?? "");
        let out = `HTTP/1.1 ${a.status ?? 200} X\r\n`;
        for (const [k, v] of a.headers ?? []) out += `${k}: ${v}\r\n`;
        out += `content-length: ${body.length}\r\n\r\n`;
        const bytes = new Uint8Array(out.length + (method === "HEAD" ? 0 : body.length));
        bytes.set(new TextEncoder().encode(out));
        if (method !== "HEAD") bytes.set(body, out.length);
        await writeText(conn, bytes);
      }
    }, hostname);
  }
  get port(): number {
    return this.#raw.listener.addr.port;
  }
  get url(): string {
    return this.#raw.url;
  }
  /** Request-targets asked, in order. */
  get targets(): string[] {
    return this.seen.map((s) => s.target);
  }
  close(): Promise<void> {
    return this.#raw.close();
  }
}
