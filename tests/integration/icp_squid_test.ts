/**
 * ICP interoperability with a real Squid (Debian package `squid`), both directions, on loopback.
 * Squid runs on 127.0.0.2 because it ignores ICP from its own IP address ("sent by myself"), and
 * webcache on 127.0.0.1. Memory cache only, its own temp dirs, kernel-picked ports.
 */
import assert from "node:assert/strict";
import { CacheNode, curlIn, randomPort, sh } from "./_icp_nodes.ts";

async function squidPath(): Promise<string | undefined> {
  try {
    return (await sh("sh", "-c", "command -v squid")).trim() || undefined;
  } catch {
    return undefined;
  }
}

const squid = await squidPath();

async function waitTcp(hostname: string, port: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    try {
      (await Deno.connect({ hostname, port })).close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`nothing listens on ${hostname}:${port}`);
}

Deno.test({
  name: "ICP with Squid as sibling: each answers the other's queries and serves the other's hits",
  ignore: !squid,
  async fn() {
    const seen = new Map<string, number>();
    const origin = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
      const p = new URL(req.url).pathname;
      seen.set(p, (seen.get(p) ?? 0) + 1);
      return new Response(`origin body ${p}\n`, {
        headers: { "cache-control": "max-age=600", "content-type": "text/plain" },
      });
    });
    const base = `http://127.0.0.1:${origin.addr.port}`;
    const w = { http: randomPort(), icp: randomPort(), admin: randomPort() };
    const s = { http: randomPort(), icp: randomPort() };
    const dir = await Deno.makeTempDir({ prefix: "wcic-squid-" });
    await Deno.chmod(dir, 0o777);
    let node: CacheNode | undefined;
    let proc: Deno.ChildProcess | undefined;
    try {
      node = await CacheNode.start("webcache1", {
        cluster: { nodeName: "webcache1" },
        log: { level: Deno.env.get("WCIC_DEBUG") ? "debug" : "info" },
        admin: { listen: `127.0.0.1:${w.admin}` },
        cache: {
          listen: [{ address: `127.0.0.1:${w.http}`, mode: "accel" }],
          defaultOrigin: base,
          workers: 2,
          peering: { mode: "icp" },
        },
        icp: { port: w.icp, listen: "127.0.0.1", timeoutMs: 2000 },
      }, { args: ["--peer", `127.0.0.2:${s.http}:${s.icp}/sibling`] });
      await Deno.writeTextFile(
        `${dir}/squid.conf`,
        [
          `http_port 127.0.0.2:${s.http}`,
          `icp_port ${s.icp}`,
          "udp_incoming_address 127.0.0.2",
          "udp_outgoing_address 127.0.0.2",
          `cache_peer 127.0.0.1 sibling ${w.http} ${w.icp} name=webcache no-digest`,
          "icp_access allow all",
          "http_access allow all",
          "cache_mem 16 MB",
          "pid_filename none",
          `cache_log ${dir}/cache.log`,
          `access_log stdio:${dir}/access.log`,
          "cache_store_log none",
          "netdb_filename none",
          "pinger_enable off",
          `coredump_dir ${dir}`,
          "shutdown_lifetime 0 seconds",
          "visible_hostname squid-interop",
          "icp_query_timeout 2000",
          // Squid goes direct to origins it measured close (netdb: 127.0.0.1 is); never for this test.
          "minimum_direct_rtt 0",
          "minimum_direct_hops 0",
          Deno.env.get("WCIC_SQUID_DEBUG") ? "debug_options ALL,1 15,5 44,5 12,5" : "",
          "",
        ].join("\n"),
      );
      proc = new Deno.Command(squid!, { args: ["-N", "-f", `${dir}/squid.conf`], stdout: "null", stderr: "null" })
        .spawn();
      await waitTcp("127.0.0.2", s.http);
      // Squid resolves its peers asynchronously after it starts listening; let it finish.
      await new Promise((r) => setTimeout(r, 1000));
      const squidGet = async (path: string) => {
        const out = await sh("curl", "-sS", "--max-time", "10", "-x", `http://127.0.0.2:${s.http}`, `${base}${path}`);
        return out;
      };
      const webcacheGet = (path: string) =>
        curlIn(undefined, `http://127.0.0.1:${w.http}${path}`, { host: `127.0.0.1:${origin.addr.port}` });

      // 1. Only Squid holds /squid-only (it asked webcache over ICP first: MISS), then webcache's query
      //    gets HIT from Squid and webcache fetches it from Squid: the origin is not asked again.
      assert.equal(await squidGet("/squid-only"), "origin body /squid-only\n");
      assert.equal(seen.get("/squid-only"), 1);
      const r1 = await webcacheGet("/squid-only");
      assert.equal(r1.status, 200);
      assert.equal(r1.body, "origin body /squid-only\n");
      assert.equal(seen.get("/squid-only"), 1, "webcache served Squid's copy without touching the origin");
      assert.match(r1.headers["via"] ?? "", /squid-interop/);

      // 2. Only webcache holds /webcache-only (its ICP query to Squid got MISS, so it went to the origin);
      //    Squid's query gets HIT from webcache and Squid fetches the hit from webcache.
      const r2 = await webcacheGet("/webcache-only");
      assert.equal(r2.status, 200);
      assert.equal(seen.get("/webcache-only"), 1);
      assert.equal(await squidGet("/webcache-only"), "origin body /webcache-only\n");
      assert.equal(seen.get("/webcache-only"), 1, "Squid served webcache's copy without touching the origin");

      // 3. Nobody holds /neither: webcache answers MISS, Squid goes direct.
      assert.equal(await squidGet("/neither"), "origin body /neither\n");
      assert.equal(seen.get("/neither"), 1);

      // webcache's ICP metrics saw Squid's queries and the HIT it got from Squid (a worker's
      // counters reach /metrics with its next snapshot, within a second).
      let metrics = "";
      const metric = (re: RegExp) => Number(re.exec(metrics)?.[1] ?? 0);
      for (const end = Date.now() + 5000; Date.now() < end;) {
        metrics = await (await fetch(`http://127.0.0.1:${w.admin}/metrics`)).text();
        if (metric(/^webcache_icp_lookups_total\{outcome="hit"\} (\d+)/m) >= 1) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.ok(metric(/^webcache_icp_messages_received_total\{opcode="QUERY"\} (\d+)/m) >= 2, metrics);
      assert.ok(metric(/^webcache_icp_lookups_total\{outcome="hit"\} (\d+)/m) >= 1, metrics);
      assert.ok(metric(/^webcache_icp_messages_sent_total\{opcode="HIT"\} (\d+)/m) >= 1, metrics);

      proc.kill("SIGTERM");
      await proc.status;
      proc = undefined;
      const log = await Deno.readTextFile(`${dir}/access.log`);
      const line = (method: string, p: string) =>
        log.split("\n").find((l) => l.includes(` ${method} ${base}${p} `)) ?? "";
      // Squid's own access.log: what it answered to webcache's ICP queries, and where it fetched from.
      assert.match(line("ICP_QUERY", "/squid-only"), /UDP_HIT\/000/);
      assert.match(line("ICP_QUERY", "/webcache-only"), /UDP_MISS\/000/);
      assert.match(line("GET", "/squid-only"), /TCP_MISS\/200 .* HIER_DIRECT\//);
      assert.match(line("GET", "/webcache-only"), /SIBLING_HIT\/127\.0\.0\.1/);
      assert.match(line("GET", "/neither"), /HIER_DIRECT\//);
    } finally {
      if (proc) {
        proc.kill("SIGTERM");
        await proc.status;
      }
      await node?.stop();
      await origin.shutdown();
      if (Deno.env.get("WCIC_DEBUG")) {
        console.error(await Deno.readTextFile(`${dir}/access.log`).catch(() => ""));
        console.error(await Deno.readTextFile(`${dir}/cache.log`).catch(() => ""));
      }
      await Deno.remove(dir, { recursive: true });
    }
  },
});
