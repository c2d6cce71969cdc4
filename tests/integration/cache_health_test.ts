/**
 * The cache's own health endpoint (`/.well-known/webcache/health`): answered on every listener
 * mode without asking the origin, 503 while draining or with a cache directory gone; and through a
 * real director and real caches, an origin outage leaves every cache in service serving stale copies.
 */
import { assert, assertEquals } from "../_assert.ts";
import { CACHE_HEALTH_PATH } from "../../cache/health_endpoint.ts";
import { validateConfig } from "../../config/mod.ts";
import { CacheService } from "../../cache/cache_service.ts";
import { runWebcache } from "../_bin.ts";
import { request, sleep, startCache, TestOrigin } from "./_cache_harness.ts";
import { Load, OpsArray } from "./_ops_cluster.ts";

Deno.test("health endpoint: 200 on accel, forward and transparent listeners without the origin; GET/HEAD only; no-store", async () => {
  const origin = new TestOrigin(() => new Response("origin", { status: 404 }));
  const dir = await Deno.makeTempDir({ prefix: "webcache-health-" });
  const cache = startCache({ defaultOrigin: origin.url, accessLog: `${dir}/access.log` }, [
    { mode: "accel" },
    { mode: "forward" },
    { mode: "transparent" },
  ]);
  try {
    assertEquals(cache.service.health.probedAt, -Infinity, "never probed: SIGTERM skips the announce delay");
    for (const port of cache.ports) {
      const r = await request(port, CACHE_HEALTH_PATH);
      assertEquals(r.status, 200, `port ${port}`);
      assertEquals(JSON.parse(r.text), { status: "ok" });
      assertEquals(r.headers.get("cache-control"), "no-store");
      assertEquals((await request(port, `${CACHE_HEALTH_PATH}?x=1`, { method: "HEAD" })).status, 200);
      const post = await request(port, CACHE_HEALTH_PATH, { method: "POST", body: "" });
      assertEquals(post.status, 405);
      assertEquals(post.headers.get("allow"), "GET, HEAD");
    }
    assertEquals(origin.count(), 0, "the origin is never asked");
    assert(Date.now() - cache.service.health.probedAt < 5000, "a director watches: SIGTERM waits for it");
    // A forward-proxy request for another site's path of the same name goes to that site.
    // (Here the destination guard refuses a loopback origin: what matters is that it is not answered as health.)
    const fwd = await request(cache.ports[1], `${origin.url}${CACHE_HEALTH_PATH}`);
    assert(fwd.status !== 200 && !fwd.text.includes('"status"'), `${fwd.status} ${fwd.text}`);
    // The origin's /healthz is what the old example checked: it answers 404 here, the cache 200.
    assertEquals((await request(cache.port, "/healthz")).status, 404);
    await cache.service.accessLog.flush();
    const log = await Deno.readTextFile(`${dir}/access.log`);
    const logged = log.split("\n").filter((l) => l.includes(CACHE_HEALTH_PATH));
    assert(
      logged.length <= 1 && logged.every((l) => l.includes(`127.0.0.1:${origin.port}`)),
      `only the forward-proxy request may be in access.log:\n${log}`,
    );
    // Draining: 503.
    cache.service.drain();
    const d = await request(cache.port, CACHE_HEALTH_PATH);
    assertEquals(d.status, 503);
    assertEquals(JSON.parse(d.text), { status: "draining" });
  } finally {
    await cache.close();
    await origin.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("health endpoint: 503 when a cache directory is gone", async () => {
  const dir = await Deno.makeTempDir({ prefix: "webcache-health-dir-" });
  const cfg = validateConfig({ cache: { store: { dirs: [{ path: `${dir}/d1`, size: "16MiB" }] } } }, { source: "t" });
  // The store itself is memory here: only the health check looks at the directory path.
  await Deno.mkdir(`${dir}/d1`);
  const service = new CacheService(cfg.cache, {
    node: "t",
    reusePort: false,
    listeners: [{ hostname: "127.0.0.1", port: 0, mode: "accel" }],
  }).start();
  const port = service.servers[0].addr.port;
  try {
    assertEquals((await request(port, CACHE_HEALTH_PATH)).status, 200);
    await Deno.remove(`${dir}/d1`);
    await sleep(1100); // the directory check is reused for a second
    const r = await request(port, CACHE_HEALTH_PATH);
    assertEquals(r.status, 503);
    assertEquals(JSON.parse(r.text).status, "store");
  } finally {
    await service.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("origin outage: every cache stays up in the director, stale objects are served, traffic keeps flowing", async () => {
  let originUp = true;
  const origin = new TestOrigin((req) => {
    if (!originUp) return new Response("down", { status: 503 });
    const path = new URL(req.url).pathname;
    if (path === "/healthz") return new Response("no such page", { status: 404 });
    return new Response(`body of ${path}`, {
      headers: { "cache-control": "max-age=1, stale-if-error=3600", "content-type": "text/plain" },
    });
  });
  let array: OpsArray | undefined;
  try {
    array = await OpsArray.start({ caches: 2, origin: origin.url });
    const a = array;
    // Warm every object on both caches (the Host through the VIP is part of the key).
    for (const c of a.caches) {
      for (let i = 0; i < 4; i++) {
        const r = await request(c.httpPort, `/o${i}`, { host: `127.0.0.1:${a.vport}` });
        assertEquals(r.text, `body of /o${i}`);
      }
    }
    originUp = false;
    await sleep(1500); // every copy is stale now
    const load = new Load(
      { port: a.vport, path: (n) => `/o${n % 4}` },
      3,
      (status, body) => status === 200 && /^body of \/o[0-3]$/.test(body),
    );
    await sleep(3000); // ten health check intervals with the origin failing
    await load.stop();
    const servers = await a.servers();
    assertEquals(servers.length, 2);
    assert(servers.every((s) => s.up && s.weight > 0), `every cache up: ${JSON.stringify(servers)}`);
    // The same through `webcache director status` (ipvsadm -Ln style): both listed, neither down.
    const st = await runWebcache(["director", "status", "--admin", `127.0.0.1:${a.directorAdmin}`]);
    assertEquals(st.code, 0, st.stderr);
    for (const c of a.caches) {
      const line = st.stdout.split("\n").find((l) => l.includes(`-> 127.0.0.1:${c.httpPort} `));
      assert(line !== undefined && !/down|drained/.test(line), `${c.name} in director status:\n${st.stdout}`);
    }
    assertEquals(load.failures, []);
    assert(load.ok > 50, `traffic kept flowing: ${load.ok} answers`);
    // Both caches served stale copies (TCP_REFRESH_FAIL_OLD in Squid terms).
    for (const c of a.caches) {
      await a.stopCache(c);
      const log = await Deno.readTextFile(c.accessLog);
      assert(log.includes("TCP_REFRESH_FAIL_OLD/200"), `${c.name} served stale:\n${log.slice(-1000)}`);
    }
    assert(origin.count("/.well-known/webcache/health") === 0, "health checks never reach the origin");
  } finally {
    await array?.close();
    await origin.close();
  }
});
