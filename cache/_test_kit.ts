/**
 * Test helpers of the cache's request path (private to `cache/`): a scripted origin on a real
 * loopback socket, requests and recording responses in process, and a cache context on the memory
 * store wired as `CacheHandler` wires it.
 *
 * @module
 */
import { findHeadEnd, latin1Decode, parseRequestHead, parseResponseHead, requestFraming } from "../http/head_codec.ts";
import type { HeaderList } from "../http/header_list.ts";
import { OriginPool } from "../http/origin_client.ts";
import type { ServerRequest, ServerResponse } from "../http/server.ts";
import type { CacheContext, CacheHandlerConfig, Exchange } from "./exchange.ts";
import { FetchStage } from "./fetch_stage.ts";
import type { FetchPlan } from "./fetch_plan.ts";
import { cacheKey } from "./semantics/mod.ts";
import { DestinationGuard } from "./destination_guard.ts";
import { ForwardedHeaders } from "./forwarded_headers.ts";
import { invalidatorFor } from "./purge.ts";
import { createPolicy } from "./store/eviction/mod.ts";
import { MemoryStore } from "./store/memory_store.ts";
import type { LazyCopy } from "./lazy_copy.ts";
import type { SharedCollapse } from "./shared_collapse.ts";

/** A request the scripted origin received. */
export interface OriginSeen {
  method: string;
  target: string;
  headers: HeaderList;
}

/** What the scripted origin answers: raw response bytes, optionally after a delay, optionally closing. */
export interface OriginReply {
  /** The raw response (status line, fields, body) as ISO-8859-1 text. */
  raw: string;
  /** Wait this long before answering. */
  delayMs?: number;
  /** Close the connection after writing. */
  close?: boolean;
}

/** An origin on 127.0.0.1 that answers each request with the script's raw response. */
export class ScriptedOrigin {
  readonly seen: OriginSeen[] = [];
  readonly #listener: Deno.TcpListener;
  readonly #conns = new Set<Deno.Conn>();
  readonly #loop: Promise<void>;
  readonly #tasks: Promise<void>[] = [];

  /** @param script the answer to the n-th request (1-based) */
  constructor(public script: (req: OriginSeen, n: number) => OriginReply | string) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#listener = listener;
    this.#loop = (async () => {
      for await (const c of listener) {
        this.#conns.add(c);
        this.#tasks.push(
          this.#serve(c).catch(() => {}).finally(() => {
            this.#conns.delete(c);
            try {
              c.close();
            } catch { /* closed */ }
          }),
        );
      }
    })().catch(() => {});
  }

  /** The origin's port. */
  get port(): number {
    return this.#listener.addr.port;
  }

  /** The origin's base URL. */
  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async #serve(c: Deno.Conn): Promise<void> {
    let buf = new Uint8Array(0);
    const chunk = new Uint8Array(16384);
    while (true) {
      let end = findHeadEnd(buf, 0, buf.length);
      while (end < 0) {
        const n = await c.read(chunk);
        if (n === null) return;
        const next = new Uint8Array(buf.length + n);
        next.set(buf);
        next.set(chunk.subarray(0, n), buf.length);
        buf = next;
        end = findHeadEnd(buf, 0, buf.length);
      }
      const head = parseRequestHead(buf.subarray(0, end));
      buf = buf.slice(end);
      const seen = { method: head.method, target: head.target, headers: head.headers };
      this.seen.push(seen);
      const r = this.script(seen, this.seen.length);
      const reply = typeof r === "string" ? { raw: r } : r;
      if (reply.delayMs) await new Promise((ok) => setTimeout(ok, reply.delayMs));
      const bytes = Uint8Array.from(reply.raw, (ch) => ch.charCodeAt(0));
      for (let off = 0; off < bytes.length;) off += await c.write(bytes.subarray(off));
      if (reply.close) return;
    }
  }

  #closed = false;

  /** Stops listening and closes every connection (again: nothing). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#listener.close();
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await this.#loop;
    await Promise.allSettled(this.#tasks);
  }
}

/**
 * A raw HTTP/1.1 response with Content-Length.
 *
 * @param status status code
 * @param fields response fields
 * @param body the body
 */
export function rawResponse(status: number, fields: [string, string][], body = ""): string {
  let s = `HTTP/1.1 ${status} X\r\n`;
  for (const [k, v] of fields) s += `${k}: ${v}\r\n`;
  if (status !== 304 && status !== 204) s += `content-length: ${body.length}\r\n`;
  return s + "\r\n" + body;
}

/** A recording response: everything written, as text. */
export interface Recorded extends ServerResponse {
  /** The bytes written so far, ISO-8859-1. */
  text(): string;
}

/**
 * A request as the server would hand it over, and a response that records what is written.
 *
 * @param head the raw request head (`GET /x HTTP/1.1\r\nHost: h\r\n\r\n`)
 * @returns the exchange, its response recording
 */
export function exchange(head: string): Exchange & { res: Recorded } {
  const h = parseRequestHead(new TextEncoder().encode(head));
  const req: ServerRequest = {
    ...h,
    framing: requestFraming(h),
    client: { hostname: "127.0.0.1", port: 1 },
    local: { hostname: "127.0.0.1", port: 2 },
    keepAlive: true,
    receivedAt: Date.now(),
    body: () => (async function* () {})(),
  };
  const parts: Uint8Array[] = [];
  let scratch = new Uint8Array(4096);
  const res: Recorded = {
    close: false,
    bytesWritten: 0,
    broken: false,
    write(b: Uint8Array) {
      parts.push(b.slice());
      (this as { bytesWritten: number }).bytesWritten += b.length;
      return Promise.resolve();
    },
    scratch: (size: number) => scratch.length >= size ? scratch : (scratch = new Uint8Array(size)),
    hijack: () => {
      throw new Error("Cannot hijack a recorded response");
    },
    text: () => parts.map((p) => latin1Decode(p)).join(""),
  };
  const out = {
    code: "NONE",
    result: "error" as const,
    status: 0,
    url: "",
    hierarchy: "HIER_NONE",
    peer: "-",
    type: "-",
  };
  return { req, res, out };
}

/** A parsed recorded response. */
export interface Parsed {
  status: number;
  headers: HeaderList;
  body: string;
}

/**
 * Parses what a recording response received (one response, Content-Length or none).
 *
 * @param text the recorded text
 */
export function parseRecorded(text: string): Parsed {
  const bytes = Uint8Array.from(text, (c) => c.charCodeAt(0));
  const end = findHeadEnd(bytes, 0, bytes.length);
  if (end < 0) throw new SyntaxError(`Cannot parse recorded response: no head end in ${JSON.stringify(text)}`);
  const head = parseResponseHead(bytes.subarray(0, end));
  return { status: head.status, headers: head.headers, body: text.slice(end) };
}

/** Handler settings for tests. */
export function testConfig(over: Partial<CacheHandlerConfig> = {}): CacheHandlerConfig {
  return {
    origins: {},
    defaultOrigin: "http://127.0.0.1:1",
    acl: { forward: [], purge: ["127.0.0.1/32"], connectPorts: [] },
    maxObjectBytes: 1 << 20,
    heuristicPercent: 10,
    heuristicMaxS: 86400,
    collapse: { enabled: true, waitMs: 2000 },
    origin: { connectTimeoutMs: 1000 },
    ...over,
  };
}

/** A memory store for tests. */
export function testStore(): MemoryStore {
  return new MemoryStore({ maxBytes: 64 << 20, maxObjectBytes: 8 << 20, policy: createPolicy("sieve") });
}

/**
 * A cache context on `store`, wired as `CacheHandler` wires it.
 *
 * @param store the store
 * @param opts settings
 * @returns the context and its origin pool (close it)
 */
export function testContext(
  store: MemoryStore,
  opts: { config?: Partial<CacheHandlerConfig>; sharedCollapse?: SharedCollapse; lazyCopy?: LazyCopy } = {},
): { ctx: CacheContext; pool: OriginPool } {
  const config = testConfig(opts.config);
  const pool = new OriginPool({ connectTimeoutMs: 1000, readTimeoutMs: 3000, maxIdlePerHost: 4 });
  const invalidate = invalidatorFor({ store, lazyCopy: opts.lazyCopy });
  const fetch = new FetchStage({ store, pool, config, invalidate, sharedCollapse: opts.sharedCollapse });
  const forwarded = new ForwardedHeaders([]);
  const destinations = new DestinationGuard();
  return {
    ctx: {
      node: "t1",
      xMiss: "MISS from t1",
      store,
      config,
      fetch,
      invalidate,
      forwarded,
      destinations,
      lazyCopy: opts.lazyCopy,
    },
    pool,
  };
}

/** A GET/HEAD plan for `path` on `origin`, as `CacheHandler` builds it (not stored). */
export function planFor(ex: Exchange, origin: ScriptedOrigin, path: string): FetchPlan {
  const url = `${origin.url}${path}`;
  return {
    method: ex.req.method,
    url,
    primary: cacheKey(url),
    origin: { hostname: "127.0.0.1", port: origin.port },
    host: `127.0.0.1:${origin.port}`,
    path,
    headers: [],
    reqHeaders: ex.req.headers,
    store: false,
  };
}
