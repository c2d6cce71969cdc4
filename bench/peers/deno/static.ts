// Upper bound for the Deno runtime: Deno.serve answering every request from memory.
// GET /<anything>?size=<bytes> -> deterministic body of <bytes> bytes (default 1024), with the
// same caching headers as the origin, so the response is about as big as a cache hit's.
//
//   deno run --allow-net=127.0.0.1 bench/peers/deno/static.ts <port> [--reuse-port]
//
// With --reuse-port several processes can share the port (SO_REUSEPORT), one per core.
const port = Number(Deno.args[0] ?? 8091);
const reusePort = Deno.args.includes("--reuse-port");

const PATTERN = "cachebench-0123456789abcdefghijklmnopqrstuvwxyz\n";
const LAST_MODIFIED = "Mon, 01 Jan 2024 00:00:00 GMT";
const bodies = new Map<number, Uint8Array<ArrayBuffer>>();

function body(size: number): Uint8Array<ArrayBuffer> {
  let b = bodies.get(size);
  if (b === undefined) {
    b = new TextEncoder().encode(PATTERN.repeat(Math.ceil(size / PATTERN.length) + 1).slice(0, size));
    bodies.set(size, b);
  }
  return b;
}

Deno.serve({ hostname: "127.0.0.1", port, reusePort, onListen() {} }, (req) => {
  const url = req.url;
  const q = url.indexOf("size=");
  const size = q < 0 ? 1024 : Math.min(Number.parseInt(url.slice(q + 5), 10) || 0, 64 << 20);
  const pathEnd = url.indexOf("?");
  const id = url.slice(
    url.lastIndexOf("/", pathEnd < 0 ? url.length : pathEnd) + 1,
    pathEnd < 0 ? url.length : pathEnd,
  );
  return new Response(body(size), {
    headers: {
      "content-type": "application/octet-stream",
      "cache-control": "public, max-age=3600",
      "etag": `"${id}-${size}"`,
      "last-modified": LAST_MODIFIED,
    },
  });
});
