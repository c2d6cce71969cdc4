/**
 * Heap retained per object stored in the memory tier: heap objects and bytes, from two V8 heap
 * snapshots (before and after storing N objects; the difference divided by N), by node type.
 *
 * Each object is made as the miss path makes it: an nginx-like origin response head (what
 * `bench/peers`' origin sends) is parsed by the cache's own parser, hop-by-hop fields and
 * Content-Length are dropped, and a 1 KiB body of its own is stored under a new URL. The same
 * objects are then measured again after one read of `meta.headers` each (what a hit does), and
 * the script can load the store of another checkout, so two trees are compared in one run:
 *
 *     deno run -A --v8-flags=--expose-gc bench/memory_store_heap.ts [N] [root ...]
 *
 * `root` defaults to this repository; give the root of another checkout (e.g. a `git worktree` of
 * the base commit) to measure it the same way.
 *
 * @module
 */
import v8 from "node:v8";

const N = Number(Deno.args[0] ?? 20_000);
const roots = Deno.args.length > 1 ? Deno.args.slice(1) : [new URL("..", import.meta.url).pathname];
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error("Run with --v8-flags=--expose-gc");

interface Totals {
  nodes: number;
  bytes: number;
  byType: Map<string, [number, number]>;
}

/** Counts the nodes of a snapshot (code and the snapshot's synthetic roots left out). */
function snapshotTotals(): Totals {
  gc!();
  gc!();
  const path = Deno.makeTempFileSync({ suffix: ".heapsnapshot" });
  try {
    v8.writeHeapSnapshot(path);
    const s = JSON.parse(Deno.readTextFileSync(path));
    const fields: string[] = s.snapshot.meta.node_fields;
    const types: string[] = s.snapshot.meta.node_types[0];
    const width = fields.length, ti = fields.indexOf("type"), si = fields.indexOf("self_size");
    const nodes: number[] = s.nodes;
    const out: Totals = { nodes: 0, bytes: 0, byType: new Map() };
    for (let i = 0; i < nodes.length; i += width) {
      const type = types[nodes[i + ti]];
      if (type === "code" || type === "synthetic" || type === "hidden") continue;
      out.nodes++;
      out.bytes += nodes[i + si];
      const t = out.byType.get(type) ?? [0, 0];
      t[0]++;
      t[1] += nodes[i + si];
      out.byType.set(type, t);
    }
    return out;
  } finally {
    Deno.removeSync(path);
  }
}

function report(label: string, a: Totals, b: Totals): void {
  const per = (x: number) => (x / N).toFixed(2);
  const parts = [...b.byType].map(([t, [n, bytes]]) => {
    const [n0, b0] = a.byType.get(t) ?? [0, 0];
    return [t, (n - n0) / N, (bytes - b0) / N] as const;
  }).filter(([, n, bytes]) => Math.abs(n) >= 0.05 || Math.abs(bytes) >= 2).sort((x, y) => y[2] - x[2]);
  console.log(
    `${label}: ${per(b.nodes - a.nodes)} heap objects, ${per(b.bytes - a.bytes)} bytes per stored object ` +
      `(${parts.map(([t, n, bytes]) => `${t} ${n.toFixed(2)}/${bytes.toFixed(0)} B`).join(", ")})`,
  );
}

const HEAD = "HTTP/1.1 200 OK\r\nServer: nginx/1.24.0 (Ubuntu)\r\nDate: Mon, 07 Dec 2026 23:40:00 GMT\r\n" +
  "Content-Type: application/octet-stream\r\nContent-Length: 1024\r\nLast-Modified: Mon, 07 Dec 2026 10:00:00 GMT\r\n" +
  'Connection: keep-alive\r\nETag: "%ID%-400"\r\nCache-Control: public, max-age=3600\r\nAccept-Ranges: bytes\r\n\r\n';

for (const root of roots) {
  const url = (p: string) => new URL(p, "file://" + Deno.realPathSync(root) + "/").href;
  const { MemoryStore } = await import(url("cache/store/memory_store.ts"));
  const { parseResponseHead } = await import(url("http/head_codec.ts"));
  const { stripHopByHop } = await import(url("cache/semantics/hop_by_hop.ts"));
  const store = new MemoryStore({ maxBytes: 1 << 30, maxObjectBytes: 1 << 20 });
  const enc = new TextEncoder();
  const now = Date.now();
  // Warm-up: the store's maps and the code, so the difference is the objects alone.
  const put = (i: number, prefix: string) => {
    const head = parseResponseHead(enc.encode(HEAD.replace("%ID%", (i * 7919).toString(16))));
    const headers = stripHopByHop(head.headers.fields).filter(([k]: [string, string]) => k !== "content-length");
    // The URL as the cache builds it: `<scheme>://<host>` + the target sliced out of the request head.
    const req = `GET /obj/${prefix}${i}?size=1024 HTTP/1.1\r\nHost: 127.0.0.1:27580\r\nUser-Agent: wrk\r\n\r\n`;
    const target = req.slice(4, req.indexOf(" ", 4));
    store.put({
      primary: `http://${"127.0.0.1:27580"}${target}`,
      variant: "",
      status: head.status,
      headers,
      vary: [],
      requestTime: now - 3 + i,
      responseTime: now + i,
      expiresAt: now + 3_600_000 + i,
      bodyBytes: 1024,
    }, new Uint8Array(1024));
  };
  for (let i = 0; i < 2000; i++) put(i, "w");
  for (let i = 0; i < 2000; i++) store.delete(`http://127.0.0.1:27580/obj/w${i}?size=1024`);
  const before = snapshotTotals();
  for (let i = 0; i < N; i++) put(i, "o");
  const stored = snapshotTotals();
  report(`${root} stored`, before, stored);
  for (let i = 0; i < N; i++) {
    store.variants(`http://127.0.0.1:27580/obj/o${i}?size=1024`)[0].headers.length;
  }
  const read = snapshotTotals();
  report(`${root} after one read of meta.headers (and variants()) each`, before, read);
  if (store.stats().objects !== N) throw new Error("objects went missing");
  await store.close();
}
