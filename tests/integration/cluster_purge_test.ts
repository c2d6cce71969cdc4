/**
 * Cluster-wide purges over real processes on 127.0.0.1: three `webcache cache` processes joined by
 * gossip (`cluster.peers`, one cluster key), each holding its own copy of every object (peering
 * off), two of them with two workers and one with a disk tier. A PURGE sent to one cache (directly
 * or through a proxy-method director VIP), a prefix or a regex ban, or `webcache purge` makes the
 * next request on every cache a miss (the origin sees it, the answer says MISS); a purge from outside `cache.acl.purge` is refused and changes
 * nothing anywhere; a cache that was down during a purge converges by ban list sync; bans of a
 * disk cache survive its restart. Prints the propagation time of 20 purges (median, max).
 */
import assert from "node:assert/strict";
import { runWebcache, spawnWebcache } from "../_bin.ts";
import { FAST, randomKey } from "./_cluster_harness.ts";
import { request, TestOrigin } from "./_cache_harness.ts";
import { type DirectorProcess, startDirector } from "./_director_harness.ts";

function freePort(udp = false): number {
  if (udp) {
    const c = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const p = (c.addr as Deno.NetAddr).port;
    c.close();
    return p;
  }
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = (l.addr as Deno.NetAddr).port;
  l.close();
  return p;
}

interface Cache {
  name: string;
  proc: Deno.ChildProcess;
  admin: number;
  http: number;
  gossip: number;
  file: string;
}

async function json(port: number, path: string): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return await res.json();
}

async function stopCache(c: Cache, signal: Deno.Signal = "SIGKILL"): Promise<void> {
  try {
    c.proc.kill(signal);
  } catch { /* gone */ }
  await c.proc.status;
  await c.proc.stderr.cancel().catch(() => {});
}

/** The origin: every answer cacheable for an hour; counts fetches per path and per cache (Via). */
function startOrigin(): { origin: TestOrigin; fetches: (node: string, path: string) => number } {
  const origin = new TestOrigin((req) =>
    new Response(`body of ${new URL(req.url).pathname}`, {
      headers: { "cache-control": "max-age=3600", "content-type": "text/plain" },
    })
  );
  const fetches = (node: string, path: string) =>
    origin.seen.filter((r) => r.path === path && (r.headers.get("via") ?? "").includes(`1.1 ${node}`)).length;
  return { origin, fetches };
}

Deno.test("purge: PURGE, prefix and regex bans reach every cache of three within a second; non-ACL purges change nothing", async () => {
  const key = randomKey();
  const dir = await Deno.makeTempDir({ prefix: "wcpurge-" });
  const { origin, fetches } = startOrigin();
  const caches: Cache[] = [];
  let director: DirectorProcess | undefined;
  const start = async (
    name: string,
    peers: string[],
    extra: { workers?: number; disk?: boolean; purgeAcl?: string[] } = {},
  ): Promise<Cache> => {
    const c = { name, admin: freePort(), http: freePort(), gossip: freePort() };
    const cfg = {
      cluster: { name: "purge", gossipListen: `127.0.0.1:${c.gossip}`, nodeName: name, peers, ...FAST },
      admin: { listen: `127.0.0.1:${c.admin}` },
      log: { level: "warn" },
      cache: {
        listen: [{ address: `127.0.0.1:${c.http}`, mode: "accel" }],
        defaultOrigin: origin.url,
        workers: extra.workers ?? 1,
        peering: { mode: "none" },
        ...(extra.purgeAcl ? { acl: { purge: extra.purgeAcl } } : {}),
        ...(extra.disk ? { store: { dirs: [{ path: `${dir}/${name}-disk`, size: "64MiB", l1: 2, l2: 2 }] } } : {}),
      },
      icp: { enabled: false },
    };
    const file = `${dir}/${name}.yaml`;
    await Deno.writeTextFile(file, JSON.stringify(cfg));
    const proc = await spawnWebcache(["cache", "--config", file], {
      env: { WEBCACHE_CLUSTER_KEY: key },
      stdout: "null",
    });
    const cache = { ...c, proc, file };
    caches.push(cache);
    const end = Date.now() + 30_000;
    for (;;) {
      try {
        await json(c.admin, "/members");
        return cache;
      } catch {
        if (Date.now() > end) throw new Error(`${name} did not start`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  };
  const aliveCaches = async (c: Cache) =>
    ((await json(c.admin, "/members")).members as { role: string; state: string }[])
      .filter((m) => m.role === "cache" && m.state === "alive").length;
  const waitJoined = async (list: Cache[]) => {
    const end = Date.now() + 20_000;
    for (const c of list) {
      while ((await aliveCaches(c)) < list.length) {
        if (Date.now() > end) throw new Error(`${c.name} does not see ${list.length} caches`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  };
  const get = async (c: Cache, path: string) => {
    const r = await request(c.http, path);
    assert.equal(r.status, 200, `${c.name} GET ${path}: ${r.head}`);
    return r.headers.get("x-cache") ?? "";
  };
  /** Requests `path` on `c` until it is a hit (the object is stored on that cache). */
  const warm = async (c: Cache, path: string) => {
    for (let i = 0; i < 20; i++) if ((await get(c, path)).startsWith("HIT")) return;
    throw new Error(`${c.name} never stored ${path}`);
  };
  /** Asserts the next requests for `path` on `c` are one miss (one origin fetch) then hits. */
  const assertPurged = async (c: Cache, path: string) => {
    const before = fetches(c.name, path);
    assert.match(await get(c, path), /^MISS/, `${c.name} ${path} should miss after the purge`);
    for (let i = 0; i < 3; i++) await get(c, path); // every worker: one fetch, then copies or hits
    assert.equal(fetches(c.name, path) - before, 1, `${c.name} ${path}: one origin fetch after the purge`);
  };
  const assertKept = async (c: Cache, path: string) => {
    const before = fetches(c.name, path);
    for (let i = 0; i < 3; i++) assert.match(await get(c, path), /^HIT/, `${c.name} ${path} should still hit`);
    assert.equal(fetches(c.name, path), before, `${c.name} ${path}: no origin fetch`);
  };
  try {
    const a = await start("cache-a", [], { workers: 2 });
    const seed = `127.0.0.1:${a.gossip}`;
    const b = await start("cache-b", [seed], { workers: 2 });
    // cache-c refuses purges from loopback (its ACL names another network only).
    const c = await start("cache-c", [seed], { disk: true, purgeAcl: ["10.99.0.0/16"] });
    const all = [a, b, c];
    await waitJoined(all);
    const paths = ["/obj", "/p/1", "/p/2", "/p/3", "/other/x"];
    for (const n of all) for (const p of paths) await warm(n, p);

    // Refused: PURGE from outside cache-c's ACL, and its admin route without the token.
    const denied = await request(c.http, "/obj", { method: "PURGE" });
    assert.equal(denied.status, 403, denied.head);
    const deniedAdmin = await fetch(`http://127.0.0.1:${c.admin}/purge`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ prefix: "http://test.example/" }),
    });
    assert.equal(deniedAdmin.status, 403, await deniedAdmin.text());
    // A state-changing admin route needs a JSON body or the token: a form post is refused.
    const formPost = await fetch(`http://127.0.0.1:${a.admin}/purge`, {
      method: "POST",
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: "url=http://test.example/obj",
    });
    assert.equal(formPost.status, 403, await formPost.text());
    await new Promise((r) => setTimeout(r, 300));
    for (const n of all) for (const p of paths) await assertKept(n, p);

    // One PURGE to cache-a: a miss on every cache (every worker), other objects kept.
    const purged = await request(a.http, "/obj", { method: "PURGE" });
    assert.equal(purged.status, 200, purged.text);
    assert.equal(purged.headers.get("x-purge-acks"), "2/2", purged.text);
    for (const n of all) await assertPurged(n, "/obj");
    for (const n of all) await assertKept(n, "/p/1");

    // A prefix ban through cache-b's PURGE.
    const prefix = await request(b.http, "/p/", { method: "PURGE", headers: { "x-purge-type": "prefix" } });
    assert.equal(prefix.status, 200, prefix.text);
    assert.equal(prefix.headers.get("x-purge-acks"), "2/2", prefix.text);
    for (const n of all) for (const p of ["/p/1", "/p/2", "/p/3"]) await assertPurged(n, p);
    for (const n of all) await assertKept(n, "/other/x");

    // A regex ban with `webcache purge` (the CLI asks cache-a's admin endpoint).
    const cli = await runWebcache(["purge", "--regex", "/p/[13]$", "--admin", `127.0.0.1:${a.admin}`]);
    assert.equal(cli.code, 0, cli.stderr);
    assert.match(cli.stdout, /2 of 2 other caches acknowledged/);
    for (const n of all) for (const p of ["/p/1", "/p/3"]) await assertPurged(n, p);
    for (const n of all) await assertKept(n, "/p/2");
    const url = await runWebcache([
      "purge",
      "http://test.example/other/x",
      "--admin",
      `127.0.0.1:${b.admin}`,
      "--json",
    ]);
    assert.equal(url.code, 0, url.stderr);
    assert.equal(JSON.parse(url.stdout).deleted >= 3, true, url.stdout); // one copy per cache at least
    for (const n of all) await assertPurged(n, "/other/x");

    // Through a director VIP (proxy method) in front of the caches: whichever cache it picks
    // (cache-a or cache-b; cache-c refuses loopback purges), every cache misses next.
    const vip = freePort();
    const dAdmin = `127.0.0.1:${freePort()}`;
    director = await startDirector([
      "--service",
      `127.0.0.1:${vip}`,
      "--scheduler",
      "rr",
      "--method",
      "proxy",
      "--health",
      "none",
      "--real",
      `127.0.0.1:${a.http}`,
      "--real",
      `127.0.0.1:${b.http}`,
    ], dAdmin);
    for (const n of all) await warm(n, "/d/1");
    const viaVip = await request(vip, "/d/1", { method: "PURGE" });
    assert.equal(viaVip.status, 200, viaVip.text);
    assert.equal(viaVip.headers.get("x-purge-acks"), "2/2", viaVip.text);
    for (const n of all) await assertPurged(n, "/d/1");

    // Propagation: 20 purges sent in turn to each cache; each other cache polls until it misses.
    const acked: number[] = [];
    const seen: number[] = [];
    for (let i = 0; i < 20; i++) {
      const path = `/t/${i}`;
      for (const n of all) await warm(n, path);
      const from = [a, b][i % 2]; // cache-c refuses loopback purges
      const others = all.filter((n) => n !== from);
      const t0 = performance.now();
      const polls = others.map(async (n) => {
        while (performance.now() - t0 < 3000) {
          if ((await get(n, path)).startsWith("MISS")) return performance.now() - t0;
          await new Promise((r) => setTimeout(r, 2));
        }
        return Infinity;
      });
      const r = await request(from.http, path, { method: "PURGE" });
      acked.push(performance.now() - t0);
      assert.equal(r.headers.get("x-purge-acks"), "2/2", r.text);
      seen.push(...await Promise.all(polls));
    }
    const stats = (l: number[]) => {
      const s = [...l].sort((x, y) => x - y);
      return { median: s[Math.floor(s.length / 2)].toFixed(1), max: s[s.length - 1].toFixed(1) };
    };
    const ack = stats(acked);
    const miss = stats(seen);
    console.log(
      `purge propagation over 3 caches, 20 purges: acknowledged by all: median ${ack.median} ms, max ${ack.max} ms; ` +
        `first miss on the other caches: median ${miss.median} ms, max ${miss.max} ms`,
    );
    assert.ok(Math.max(...seen) < 1000, `a purge took ${Math.max(...seen)} ms to reach a cache`);

    // Bans of the disk cache survive its restart: /r/1 is on cache-c's disk, banned while it ran,
    // never looked up since. A purge while cache-c is down (/q/) reaches it by ban list sync.
    await warm(c, "/r/1");
    await warm(c, "/q/1");
    const r = await request(a.http, "/r/", { method: "PURGE", headers: { "x-purge-type": "prefix" } });
    assert.equal(r.headers.get("x-purge-acks"), "2/2", r.text);
    await stopCache(c, "SIGTERM");
    caches.splice(caches.indexOf(c), 1);
    const missed = await request(a.http, "/q/", { method: "PURGE", headers: { "x-purge-type": "prefix" } });
    assert.equal(missed.status, 200, missed.text);
    assert.notEqual(missed.headers.get("x-purge-acks"), "2/2", missed.text); // cache-c cannot have acknowledged
    // Alone (no peers): only its bans.bin can explain a miss of /r/1.
    const c2 = await start("cache-c", [], { disk: true, purgeAcl: ["10.99.0.0/16"] });
    await assertPurged(c2, "/r/1");
    assert.match(await get(c2, "/q/1"), /^HIT/, "cache-c alone cannot know the purge it missed");
    await stopCache(c2, "SIGTERM");
    caches.splice(caches.indexOf(c2), 1);
    // With its peers again: the gossiped digest differs, the lists are exchanged, /q/1 goes.
    const c3 = await start("cache-c", [seed], { disk: true, purgeAcl: ["10.99.0.0/16"] });
    await waitJoined([a, b, c3]);
    const end = Date.now() + 10_000;
    for (;;) {
      const da = ((await json(a.admin, "/status")).purge as { digest: string }).digest;
      const dc = ((await json(c3.admin, "/status")).purge as { digest: string }).digest;
      if (da === dc) break;
      if (Date.now() > end) throw new Error(`ban lists did not converge: ${da} vs ${dc}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    await assertPurged(c3, "/q/1");
  } finally {
    await director?.stop();
    for (const c of caches) await stopCache(c);
    await origin.close();
    await Deno.remove(dir, { recursive: true });
  }
});
