/**
 * Rolling restarts without errors, all real processes on 127.0.0.1: a continuous keep-alive load
 * through a director VIP (proxy method) while each cache is restarted in turn with SIGTERM (it
 * announces draining through gossip, answers 503 on its health endpoint, finishes what is in
 * flight, exits; the new process rejoins at full weight); and `webcache director drain` under load.
 */
import { assert, assertEquals } from "../_assert.ts";
import { runWebcache } from "../_bin.ts";
import { request, sleep, TestOrigin } from "./_cache_harness.ts";
import { Load, OpsArray } from "./_ops_cluster.ts";

function cacheableOrigin(): TestOrigin {
  return new TestOrigin(async (req) => {
    await sleep(300); // misses take a while: several are in flight at each SIGTERM
    return new Response(`body of ${new URL(req.url).pathname}`, { headers: { "cache-control": "max-age=1" } });
  });
}

const right = (status: number, body: string) => status === 200 && body.startsWith("body of /o");

Deno.test("rolling restart of 3 caches under continuous load through the director: 0 failed requests", async () => {
  const origin = cacheableOrigin();
  let array: OpsArray | undefined;
  try {
    array = await OpsArray.start({ caches: 3, origin: origin.url });
    const a = array;
    const load = new Load({ port: a.vport, path: (n) => `/o${n % 200}` }, 6, right);
    await sleep(1000);
    for (const c of a.caches) {
      const before = load.ok;
      const t0 = Date.now();
      c.proc!.kill("SIGTERM");
      // While it drains the director sees it at weight 0 (membership state draining).
      await a.waitServers((s) => s.some((x) => x.port === c.httpPort && x.weight === 0), 5000);
      const st = await c.proc!.done();
      assertEquals(st.code, 0, c.proc!.logs().slice(-2000));
      assert(Date.now() - t0 >= 1500, "kept accepting for shutdownDelayMs while the director learned it");
      assert(/"Cache draining"/.test(c.proc!.logs()));
      await a.startCache(c);
      await a.waitServers((s) => s.length === 3 && s.every((x) => x.up && x.weight > 0));
      await sleep(500);
      assert(load.ok > before, "traffic kept flowing during the restart");
    }
    await sleep(500);
    await load.stop();
    assertEquals(load.failures, [], `${load.failures.length} of ${load.sent} failed`);
    assert(load.sent > 100, `a real load: ${load.sent} requests`);
    // Every restarted cache serves again.
    const logs = await Promise.all(a.caches.map((c) => a.stopCache(c).then(() => Deno.readTextFile(c.accessLog))));
    for (const [i, log] of logs.entries()) assert(log.split("\n").length > 10, `cache-${i} served`);
  } finally {
    await array?.close();
    await origin.close();
  }
});

Deno.test("webcache director drain under load: connections finish, no errors, no new connection goes to it", async () => {
  const origin = cacheableOrigin();
  let array: OpsArray | undefined;
  try {
    array = await OpsArray.start({ caches: 2, origin: origin.url });
    const a = array;
    const load = new Load({ port: a.vport, path: (n) => `/o${n % 100}` }, 4, right);
    await sleep(800);
    const target = a.caches[0];
    const out = await runWebcache([
      "director",
      "drain",
      `127.0.0.1:${target.httpPort}`,
      "--admin",
      `127.0.0.1:${a.directorAdmin}`,
    ]);
    assertEquals(out.code, 0, out.stderr);
    assert(/drained 127\.0\.0\.1:\d+: weight 0/.test(out.stdout), out.stdout);
    await sleep(1000);
    await load.stop();
    assertEquals(load.failures, [], `${load.failures.length} of ${load.sent} failed`);
    // New connections (one per request) all go to the other cache.
    await sleep(1200); // access logs flush every second
    const lines = async () => (await Deno.readTextFile(target.accessLog)).split("\n").length;
    const before = await lines();
    for (let i = 0; i < 20; i++) {
      const r = await request(a.vport, `/o${i}`, { host: `127.0.0.1:${a.vport}` });
      assert(r.status === 200 && r.text.startsWith("body of /o"), `${r.status} ${r.text}`);
    }
    await sleep(1200);
    assertEquals(await lines(), before, "the drained cache took no new connection");
    const s = await a.servers();
    assertEquals(s.find((x) => x.port === target.httpPort)?.weight, 0);
  } finally {
    await array?.close();
    await origin.close();
  }
});
