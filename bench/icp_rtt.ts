/**
 * ICP query round trip on loopback: median and p99 of QUERY → reply, sequential queries.
 *
 * Targets, measured interleaved in rounds in one run (compare only these side by side):
 * - `webcache`: a `webcache cache` process (the bundle) answering from its store (MISS; one URL
 *   it holds, HIT), queried from a raw UDP socket;
 * - `webcache-client`: the same server through `IcpClient.lookup()` (the full client path: request
 *   number, reply matching, decision);
 * - `squid`: Squid's ICP server (Debian `squid`), when installed, queried from a raw UDP socket.
 *
 * Run: `deno run -A --unstable-net --unstable-kv bench/icp_rtt.ts [N=2000] [ROUNDS=3]`;
 * results also go to `$OUT_DIR/icp_rtt.json` when OUT_DIR is set.
 *
 * @module
 */
import { decodeIcpMessage, encodeIcpMessage } from "../icp/message.ts";
import { IcpOpcode } from "../icp/opcode.ts";
import { IcpServer } from "../icp/server.ts";
import { IcpClient } from "../icp/client.ts";
import { CacheNode, curlIn, randomPort, sh } from "../tests/integration/_icp_nodes.ts";

const N = Number(Deno.args[0] ?? 2000);
const ROUNDS = Number(Deno.args[1] ?? 3);

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function rawRtts(sock: Deno.DatagramConn, to: { hostname: string; port: number }, urls: string[]) {
  const out: number[] = [];
  for (let i = 0; i < urls.length; i++) {
    const bytes = encodeIcpMessage({ opcode: IcpOpcode.QUERY, requestNumber: i + 1, url: urls[i] });
    const t0 = performance.now();
    await sock.send(bytes, { transport: "udp", ...to });
    for (;;) {
      const [data] = await sock.receive();
      if (decodeIcpMessage(data).requestNumber === i + 1) break;
    }
    out.push((performance.now() - t0) * 1000);
  }
  return out;
}

const origin = Deno.serve(
  { hostname: "127.0.0.1", port: 0, onListen() {} },
  () => new Response("x".repeat(1000), { headers: { "cache-control": "max-age=3600" } }),
);
const base = `http://127.0.0.1:${origin.addr.port}`;
const w = { http: randomPort(), icp: randomPort(), admin: randomPort() };
const sq = { http: randomPort(), icp: randomPort() };
const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
const sockPort = (sock.addr as Deno.NetAddr).port;
const node = await CacheNode.start("rtt", {
  cluster: { nodeName: "rtt" },
  admin: { listen: `127.0.0.1:${w.admin}` },
  cache: { listen: [{ address: `127.0.0.1:${w.http}` }], defaultOrigin: base, workers: 1, peering: { mode: "icp" } },
  icp: { port: w.icp, listen: "127.0.0.1", acl: ["127.0.0.0/8"] },
}, { args: ["--peer", `127.0.0.1:1:${sockPort}`] });
await curlIn(undefined, `http://127.0.0.1:${w.http}/held`, { host: `127.0.0.1:${origin.addr.port}` });

let squid: Deno.ChildProcess | undefined;
const dir = await Deno.makeTempDir({ prefix: "wcic-bench-" });
await Deno.chmod(dir, 0o777);
const hasSquid = await sh("sh", "-c", "command -v squid").then(() => true, () => false);
if (hasSquid) {
  await Deno.writeTextFile(
    `${dir}/squid.conf`,
    `http_port 127.0.0.2:${sq.http}\nicp_port ${sq.icp}\nudp_incoming_address 127.0.0.2\nudp_outgoing_address 127.0.0.2\n` +
      `icp_access allow all\nhttp_access allow all\ncache_mem 16 MB\npid_filename none\ncache_log ${dir}/cache.log\n` +
      `access_log none\ncache_store_log none\nnetdb_filename none\npinger_enable off\ncoredump_dir ${dir}\n` +
      `shutdown_lifetime 0 seconds\nvisible_hostname squid-bench\nlog_icp_queries off\n`,
  );
  squid = new Deno.Command("squid", { args: ["-N", "-f", `${dir}/squid.conf`], stdout: "null", stderr: "null" })
    .spawn();
  await new Promise((r) => setTimeout(r, 1500));
}

// In-process client for the full lookup path.
const self = await IcpServer.listen({ hostname: "127.0.0.1", port: 0, isFresh: () => false, allows: () => true });
const client = new IcpClient(self, { timeoutMs: 2000, deadPeerMs: 60000 });
client.setPeers([{ host: "127.0.0.1", httpPort: w.http, icpPort: w.icp, type: "sibling" }]);

const results: Record<string, number[]> = {};
const add = (k: string, v: number[]) => (results[k] ??= []).push(...v);
try {
  const missUrls = Array.from({ length: N }, (_, i) => `${base}/miss/${i}`);
  const hitUrls = Array.from({ length: N }, () => `${base}/held`);
  // Warm-up (JIT, caches), not recorded.
  await rawRtts(sock, { hostname: "127.0.0.1", port: w.icp }, missUrls.slice(0, 500));
  await rawRtts(sock, { hostname: "127.0.0.1", port: w.icp }, hitUrls.slice(0, 500));
  for (let r = 0; r < ROUNDS; r++) {
    add("webcache MISS", await rawRtts(sock, { hostname: "127.0.0.1", port: w.icp }, missUrls));
    add("webcache HIT", await rawRtts(sock, { hostname: "127.0.0.1", port: w.icp }, hitUrls));
    const lk: number[] = [];
    for (const u of missUrls) {
      const t0 = performance.now();
      await client.lookup(u);
      lk.push((performance.now() - t0) * 1000);
    }
    add("webcache-client lookup (MISS)", lk);
    if (squid) add("squid MISS", await rawRtts(sock, { hostname: "127.0.0.2", port: sq.icp }, missUrls));
  }
} finally {
  client.close();
  await self.close();
  sock.close();
  if (squid) {
    squid.kill("SIGTERM");
    await squid.status;
  }
  await node.stop();
  await origin.shutdown();
  await Deno.remove(dir, { recursive: true });
}

const summary: Record<string, { n: number; medianUs: number; p99Us: number }> = {};
for (const [k, v] of Object.entries(results)) {
  const s = [...v].sort((a, b) => a - b);
  summary[k] = { n: s.length, medianUs: Math.round(quantile(s, 0.5)), p99Us: Math.round(quantile(s, 0.99)) };
}
console.log(`ICP round trip on loopback, ${ROUNDS} rounds x ${N} sequential queries (microseconds):`);
console.table(summary);
const outDir = Deno.env.get("OUT_DIR");
if (outDir) {
  await Deno.mkdir(outDir, { recursive: true });
  await Deno.writeTextFile(
    `${outDir}/icp_rtt.json`,
    JSON.stringify({ date: new Date().toISOString(), summary }, null, 2),
  );
}
