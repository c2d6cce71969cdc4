/**
 * `webcache cache` as a process (the bundle): flags, several workers on one port (SO_REUSEPORT),
 * PURGE reaching every worker, /status and /metrics from the admin endpoint, SIGTERM.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../_assert.ts";
import { runWebcache, spawnWebcache } from "../_bin.ts";
import { cacheable, rawExchange, request, sleep, TestOrigin } from "./_cache_harness.ts";

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = l.addr.port;
  l.close();
  return p;
}

async function waitHealthy(port: number, child: Deno.ChildProcess): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      const r = await fetch(`http://127.0.0.1:${port}/healthz`);
      await r.body?.cancel();
      if (r.ok) return;
    } catch { /* not yet */ }
    await sleep(50);
  }
  child.kill("SIGKILL");
  const out = await child.output();
  throw new Error(`webcache cache did not start: ${new TextDecoder().decode(out.stderr)}`);
}

Deno.test("cache cli: two workers share the port and each other's objects, PURGE reaches both, /status adds up", async () => {
  const origin = new TestOrigin(() => cacheable("from origin"));
  const port = freePort();
  const admin = freePort();
  const log = await Deno.makeTempFile({ prefix: "wc-cli-access-" });
  const child = await spawnWebcache([
    "cache",
    "--listen",
    `127.0.0.1:${port}`,
    "--origin",
    origin.url,
    "--workers",
    "2",
    "--admin",
    `127.0.0.1:${admin}`,
    "--access-log",
    log,
  ], { stdout: "null" });
  try {
    await waitHealthy(admin, child);
    assertEquals((await request(port, "/w")).text, "from origin");
    // The other worker copies the object when it first gets a request for it.
    for (let i = 0; i < 19; i++) assertEquals((await request(port, "/w")).text, "from origin");
    assertEquals(origin.count("/w"), 1, "the other worker answers from its copy");
    const purge = await request(port, "/w", { method: "PURGE" });
    assertEquals(purge.status, 200);
    assertEquals(purge.text.trim(), "Purged 2 object(s)");
    for (let i = 0; i < 20; i++) await request(port, "/w");
    assertEquals(origin.count("/w"), 2, "fetched once again after the PURGE, then copied");
    // Workers report statistics every second (a loaded machine may take a few): wait for all 40.
    // deno-lint-ignore no-explicit-any
    let status: any;
    for (const deadline = Date.now() + 10_000; Date.now() < deadline; await sleep(100)) {
      status = await (await fetch(`http://127.0.0.1:${admin}/status`)).json();
      if (status.cache.requests.hit + status.cache.requests.miss >= 40) break;
    }
    assertEquals(status.role, "cache");
    assertEquals(status.cache.workers, 2);
    assertEquals(status.cache.objects, 2);
    assertEquals(status.cache.requests.hit + status.cache.requests.miss, 40);
    const metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
    assertMatch(metrics, /webcache_cache_requests_total\{result="hit"\} \d+/);
    assertMatch(metrics, /webcache_cache_stored_objects \d+/);
    assertMatch(metrics, /webcache_cache_origin_latency_seconds_count \d+/);
  } finally {
    child.kill("SIGTERM");
    const st = await child.status;
    assertEquals(st.code, 0);
    await child.stderr.cancel();
    await origin.close();
  }
  const lines = (await Deno.readTextFile(log)).trim().split("\n");
  await Deno.remove(log);
  assertEquals(lines.length, 41);
  assertMatch(lines[0], / TCP_(MISS|MEM_HIT)\/200 \d+ GET http:\/\/test\.example\/w - /);
});

Deno.test("cache cli: a PURGE right after the miss leaves no copy in any worker", async () => {
  // The other worker copies the object only when asked (lazy copies); a PURGE right after the miss
  // must leave nothing that a worker could still serve or copy.
  let version = 0;
  const origin = new TestOrigin(() => cacheable(`version ${++version}`));
  const port = freePort();
  const child = await spawnWebcache([
    "cache",
    "--listen",
    `127.0.0.1:${port}`,
    "--origin",
    origin.url,
    "--workers",
    "2",
    "--access-log",
    "none",
    "--admin",
    `127.0.0.1:${freePort()}`, // not the default 9090, which another process on the machine may hold
  ], { stdout: "null" });
  try {
    for (let i = 0; i < 200; i++) {
      if (await request(port, "/health").then(() => true, () => false)) break;
      await sleep(50);
    }
    // GET then PURGE pipelined on one connection: one worker handles both, back to back.
    const both = new TextEncoder().encode(
      "GET /p HTTP/1.1\r\nHost: test.example\r\n\r\nPURGE /p HTTP/1.1\r\nHost: test.example\r\nConnection: close\r\n\r\n",
    );
    const raw = new TextDecoder().decode(await rawExchange(port, both));
    assertStringIncludes(raw, "version 2"); // version 1 answered /health
    assertStringIncludes(raw, "Purged 1 object(s)", "nothing copied into the other worker unasked");
    await sleep(300);
    // New connections land on both workers; none may still have version 2. (Concurrent misses on a
    // loaded machine may fetch versions of their own: 3 or later is right.)
    for (let i = 0; i < 20; i++) {
      const r = await request(port, "/p");
      const n = Number(/^version (\d+)$/.exec(r.text)?.[1]);
      assert(n >= 3, `request ${i}: ${r.text} (${r.headers.get("x-cache")})`);
    }
  } finally {
    child.kill("SIGTERM");
    assertEquals((await child.status).code, 0);
    await child.stderr.cancel();
    await origin.close();
  }
});

Deno.test("cache cli: bad flags exit with status 2 and name the flag", async () => {
  const r = await runWebcache(["cache", "--listen", "127.0.0.1:80,mode=sideways"]);
  assertEquals(r.code, 2);
  assertStringIncludes(r.stderr, "--listen");
  assertStringIncludes(r.stderr, "cache.listen[0].mode");
  const r2 = await runWebcache(["cache", "--origin", "ftp://x"]);
  assertEquals(r2.code, 2);
  assertStringIncludes(r2.stderr, "cache.defaultOrigin");
  const r3 = await runWebcache(["cache", "--listen", "127.0.0.1:80,frob"]);
  assertEquals(r3.code, 2);
  assertStringIncludes(r3.stderr, 'unknown option "frob"');
});
