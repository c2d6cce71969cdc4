// A deliberately naive in-memory caching reverse proxy in Deno: the "what do you get for
// 60 lines" reference point for a real Deno cache.
//
//   ORIGIN_URL=http://127.0.0.1:8080 deno run --allow-net=127.0.0.1 --allow-env=ORIGIN_URL \
//       bench/peers/deno/naive_cache.ts <port> [--reuse-port]
//
// - key = path + query; GET/HEAD only; everything else is passed through untouched
// - on a miss: fetch() from the origin, buffer the whole body, store it when the response is
//   a 200 with max-age/s-maxage and without no-store/private/no-cache; expiry = now + max-age
// - Map insertion order doubles as FIFO eviction once MAX_ENTRIES is reached
// - no request coalescing, no revalidation, no Vary: that is what "naive" means here
const port = Number(Deno.args[0] ?? 8105);
const reusePort = Deno.args.includes("--reuse-port");
const ORIGIN = (Deno.env.get("ORIGIN_URL") ?? "http://127.0.0.1:8080").replace(/\/$/, "");
const MAX_ENTRIES = 200_000;
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "transfer-encoding",
  "content-length",
  "content-encoding",
  "proxy-connection",
  "te",
  "trailer",
  "upgrade",
]);

type Entry = { status: number; headers: [string, string][]; body: Uint8Array<ArrayBuffer>; expires: number };
const cache = new Map<string, Entry>();

function ttlSeconds(cc: string | null): number {
  if (cc === null || /no-store|private|no-cache/i.test(cc)) return 0;
  const m = /s-maxage=(\d+)/i.exec(cc) ?? /max-age=(\d+)/i.exec(cc);
  return m ? Number(m[1]) : 0;
}

Deno.serve({ hostname: "127.0.0.1", port, reusePort, onListen() {} }, async (req) => {
  const url = req.url;
  const key = url.slice(url.indexOf("/", 8)); // path + query
  if (req.method !== "GET" && req.method !== "HEAD") {
    return fetch(ORIGIN + key, { method: req.method, headers: req.headers, body: req.body });
  }
  const hit = cache.get(key);
  if (hit !== undefined && hit.expires > Date.now()) {
    return new Response(req.method === "HEAD" ? null : hit.body, { status: hit.status, headers: hit.headers });
  }
  const res = await fetch(ORIGIN + key);
  const body = new Uint8Array(await res.arrayBuffer());
  const headers: [string, string][] = [];
  for (const [k, v] of res.headers) if (!HOP_BY_HOP.has(k)) headers.push([k, v]);
  const ttl = res.status === 200 ? ttlSeconds(res.headers.get("cache-control")) : 0;
  if (ttl > 0) {
    if (cache.size >= MAX_ENTRIES) cache.delete(cache.keys().next().value!);
    cache.set(key, { status: res.status, headers, body, expires: Date.now() + ttl * 1000 });
  }
  return new Response(req.method === "HEAD" ? null : body, { status: res.status, headers });
});
