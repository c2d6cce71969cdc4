/**
 * In-process cost of the cache's request path without sockets: `deno bench -A bench/cache_hit_bench.ts`.
 * A recording response collects the bytes a client would get; the request head is parsed as the server
 * does. Compares a hit of one hot object, hits spread over 10,000 objects, and head parsing alone.
 */
import { CacheHandler } from "../cache/cache_handler.ts";
import { MemoryStore } from "../cache/store/memory_store.ts";
import { createPolicy } from "../cache/store/eviction/mod.ts";
import { parseRequestHead, requestFraming } from "../http/head_codec.ts";
import { OriginPool } from "../http/origin_client.ts";
import type { ServerRequest, ServerResponse } from "../http/server.ts";
import { formatHttpDate } from "../cache/semantics/mod.ts";

const store = new MemoryStore({ maxBytes: 1 << 30, maxObjectBytes: 1 << 20, policy: createPolicy("sieve") });
const body = new Uint8Array(1024).fill(120);
const now = Date.now();
for (let i = 0; i < 10_000; i++) {
  store.put({
    primary: `http://bench.example/obj/${i}?size=1024`,
    variant: "",
    status: 200,
    headers: [
      ["cache-control", "public, max-age=3600"],
      ["etag", `"${i}-1024"`],
      ["last-modified", "Mon, 01 Jan 2024 00:00:00 GMT"],
      ["content-type", "application/octet-stream"],
      ["date", formatHttpDate(now)],
    ],
    vary: [],
    requestTime: now,
    responseTime: now,
    expiresAt: now + 3_600_000,
    bodyBytes: 1024,
  }, body);
}
const pool = new OriginPool({ connectTimeoutMs: 1000, readTimeoutMs: 1000, maxIdlePerHost: 1 });
const handler = new CacheHandler({
  node: "bench",
  store,
  pool,
  config: {
    origins: {},
    defaultOrigin: "http://127.0.0.1:1",
    acl: { forward: [], purge: [], connectPorts: [] },
    maxObjectBytes: 1 << 20,
    heuristicPercent: 10,
    heuristicMaxS: 86400,
    collapse: { enabled: true, waitMs: 1000 },
    origin: { connectTimeoutMs: 1000 },
  },
});
const heads = Array.from(
  { length: 10_000 },
  (_, i) => new TextEncoder().encode(`GET /obj/${i}?size=1024 HTTP/1.1\r\nHost: bench.example\r\n\r\n`),
);
let written = 0;
let scratch = new Uint8Array(4096);
function call(bytes: Uint8Array): Promise<void> {
  const head = parseRequestHead(bytes);
  const req: ServerRequest = {
    ...head,
    framing: requestFraming(head),
    client: { hostname: "127.0.0.1", port: 1 },
    local: { hostname: "127.0.0.1", port: 2 },
    keepAlive: true,
    receivedAt: Date.now(),
    body: () => (async function* () {})(),
  };
  const res: ServerResponse = {
    close: false,
    bytesWritten: 0,
    broken: false,
    write: (b: Uint8Array) => {
      written += b.length;
      return Promise.resolve();
    },
    scratch: (size: number) => scratch.length >= size ? scratch : (scratch = new Uint8Array(size)),
    hijack: () => {
      throw new Error("no");
    },
  };
  return handler.handle(req, res, "accel");
}

let n = 0;
Deno.bench("parse request head", { group: "hit" }, () => {
  parseRequestHead(heads[n++ % 10_000]);
});
Deno.bench("hit: one hot object", { group: "hit", baseline: true }, async () => {
  await call(heads[5]);
});
Deno.bench("hit: 10,000 objects round robin", { group: "hit" }, async () => {
  await call(heads[n++ % 10_000]);
});
globalThis.addEventListener("unload", () => {
  pool.close();
  if (written === 0) throw new Error("nothing written");
});
