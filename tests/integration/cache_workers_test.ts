/**
 * `webcache cache --workers 2` as a process (the bundle): request collapsing across workers
 * (one origin request for a burst over many connections; the wait bound; an uncacheable answer),
 * metrics and top URLs that cover every worker, and `cache.memory.maxBytes` as the limit of the
 * whole cache. Requests go over many separate connections so SO_REUSEPORT spreads them over both
 * workers; `/status` `perWorker` shows that it did.
 */
import assert from "node:assert/strict";
import { CacheNode, curlIn, randomPort } from "./_icp_nodes.ts";
import { request } from "./_cache_harness.ts";

const HOST = "www.workers.test";

/** An origin that counts requests per path and answers through `answer`. */
function countingOrigin(answer: (path: string, n: number) => Promise<Response> | Response) {
  const seen = new Map<string, number>();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, async (req) => {
    const p = new URL(req.url).pathname;
    const n = (seen.get(p) ?? 0) + 1;
    seen.set(p, n);
    return await answer(p, n);
  });
  return { seen, server, url: `http://127.0.0.1:${server.addr.port}` };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function startCache(name: string, origin: string, cache: Record<string, unknown> = {}) {
  const http = randomPort();
  const admin = randomPort();
  const node = await CacheNode.start(name, {
    cluster: { nodeName: name },
    admin: { listen: `127.0.0.1:${admin}` },
    cache: {
      listen: [{ address: `127.0.0.1:${http}`, mode: "accel" }],
      defaultOrigin: origin,
      workers: 2,
      ...cache,
    },
  });
  const get = (path: string, headers: Record<string, string> = {}) =>
    curlIn(undefined, `http://127.0.0.1:${http}${path}`, { host: HOST, ...headers });
  // deno-lint-ignore no-explicit-any
  const status = async (): Promise<any> => await (await fetch(`http://127.0.0.1:${admin}/status`)).json();
  const metrics = async () => await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
  return { node, http, admin, get, status, metrics };
}

/** The value of one Prometheus sample line, e.g. `webcache_cache_requests_total{result="miss"}`. */
function sample(text: string, series: string): number {
  const line = text.split("\n").find((l) => l.startsWith(series + " "));
  return line ? Number(line.slice(series.length + 1)) : 0;
}

/**
 * Waits until `/status` satisfies `ok` (workers report statistics once a second: a loaded machine
 * may take a few), and returns it; throws naming `what` after 10 s.
 */
// deno-lint-ignore no-explicit-any
async function waitStatus(c: Awaited<ReturnType<typeof startCache>>, what: string, ok: (st: any) => boolean) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const st = await c.status();
    if (ok(st)) return st;
    if (Date.now() > deadline) throw new Error(`workers never reported ${what}: ${JSON.stringify(st.cache)}`);
    await sleep(100);
  }
}

/** Waits until the workers' per-second statistics include `n` requests in all. */
function waitRequests(c: Awaited<ReturnType<typeof startCache>>, n: number) {
  return waitStatus(
    c,
    `${n} requests`,
    (st) => (st.cache.perWorker as { requests: number }[]).reduce((a, w) => a + w.requests, 0) >= n,
  );
}

Deno.test("cache workers: concurrent misses for one new slow URL over many connections make one origin request", async () => {
  const origin = countingOrigin(async (p) => {
    await sleep(400);
    return new Response(`body of ${p}\n`, { headers: { "cache-control": "max-age=600" } });
  });
  const c = await startCache("wkcollapse", origin.url);
  try {
    const all = await Promise.all(Array.from({ length: 24 }, () => c.get("/slow-new")));
    for (const r of all) {
      assert.equal(r.status, 200);
      assert.equal(r.body, "body of /slow-new\n");
    }
    assert.equal(origin.seen.get("/slow-new"), 1, "one origin request for 24 clients on 2 workers");
    const st = await waitRequests(c, 24);
    const shares = (st.cache.perWorker as { requests: number }[]).map((w) => w.requests);
    assert.ok(shares.every((n) => n > 0), `both workers served some of the burst: ${shares}`);
    // Most waited for the leader (a client slowed down by a loaded machine may come late and just hit).
    assert.ok(st.cache.collapsed > 0, `collapsed ${st.cache.collapsed}`);
  } finally {
    await c.node.stop();
    await origin.server.shutdown();
  }
});

Deno.test("cache workers: with a disk tier, concurrent misses on both workers make one origin request", async () => {
  const origin = countingOrigin(async (p) => {
    await sleep(400);
    return new Response(`disk body of ${p}\n`, { headers: { "cache-control": "max-age=600" } });
  });
  const dir = await Deno.makeTempDir({ prefix: "wk-disk-" });
  const c = await startCache("wkdisk", origin.url, { store: { dirs: [{ path: dir, size: "64MiB" }] } });
  try {
    const all = await Promise.all(Array.from({ length: 24 }, () => c.get("/disk-new")));
    for (const r of all) assert.equal(r.body, "disk body of /disk-new\n");
    assert.equal(origin.seen.get("/disk-new"), 1, "one origin request for 24 clients on 2 workers");
    const st = await waitRequests(c, 24);
    const shares = (st.cache.perWorker as { requests: number }[]).map((w) => w.requests);
    assert.ok(shares.every((n) => n > 0), `both workers served some of the burst: ${shares}`);
  } finally {
    await c.node.stop();
    await origin.server.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cache workers: a follower on another worker stops waiting after collapse.waitMs and fetches itself", async () => {
  const origin = countingOrigin(async (_p, n) => {
    if (n === 1) await sleep(3000);
    return new Response(`answer ${n}\n`, { headers: { "cache-control": "max-age=600" } });
  });
  const c = await startCache("wktimeout", origin.url, { collapse: { waitMs: 150 } });
  try {
    const first = c.get("/slow-first");
    // The followers come once the first request's fetch is at the origin (it leads).
    for (let i = 0; i < 100 && !origin.seen.has("/slow-first"); i++) await sleep(20);
    assert.equal(origin.seen.get("/slow-first"), 1, "the first request reached the origin");
    const t0 = performance.now();
    const followers = await Promise.all(Array.from({ length: 12 }, () => c.get("/slow-first")));
    const waited = performance.now() - t0;
    for (const r of followers) assert.equal(r.status, 200);
    assert.ok(waited < 2000, `followers waited ${Math.round(waited)} ms, not the leader's 3000 ms`);
    assert.equal((await first).body, "answer 1\n");
    assert.ok(origin.seen.get("/slow-first")! >= 2, "followers fetched themselves");
    const st = await waitRequests(c, 13);
    const shares = (st.cache.perWorker as { requests: number }[]).map((w) => w.requests);
    assert.ok(shares.every((n) => n > 0), `both workers served some: ${shares}`);
  } finally {
    await c.node.stop();
    await origin.server.shutdown();
  }
});

Deno.test("cache workers: when the first fetch turns out uncacheable, followers on other workers fetch at once", async () => {
  const origin = countingOrigin(async () => {
    await sleep(300);
    return new Response("private\n", { headers: { "cache-control": "no-store" } });
  });
  // A long wait bound: followers must not sit it out when the answer cannot be shared.
  const c = await startCache("wkuncache", origin.url, { collapse: { waitMs: 8000 } });
  try {
    const t0 = performance.now();
    const all = await Promise.all(Array.from({ length: 16 }, () => c.get("/no-store")));
    const took = performance.now() - t0;
    for (const r of all) assert.equal(r.body, "private\n");
    assert.ok(took < 4000, `took ${Math.round(took)} ms (the wait bound is 8000)`);
    assert.equal(origin.seen.get("/no-store"), 16, "every client got its own answer");
    const st = await waitRequests(c, 16);
    const shares = (st.cache.perWorker as { requests: number }[]).map((w) => w.requests);
    assert.ok(shares.every((n) => n > 0), `both workers served some: ${shares}`);
  } finally {
    await c.node.stop();
    await origin.server.shutdown();
  }
});

Deno.test("cache workers: followers do not wait for an object too big to be copied to their worker", async () => {
  const origin = countingOrigin(async () => {
    await sleep(300);
    return new Response("b".repeat(4096), { headers: { "cache-control": "max-age=600" } });
  });
  // Stored by the worker that fetched it, but above memory.maxObjectBytes: not copied to the other.
  const c = await startCache("wkbig", origin.url, {
    collapse: { waitMs: 8000 },
    memory: { maxObjectBytes: "1KiB" },
  });
  try {
    const t0 = performance.now();
    const all = await Promise.all(Array.from({ length: 16 }, () => c.get("/big-object")));
    const took = performance.now() - t0;
    for (const r of all) assert.equal(r.body.length, 4096);
    assert.ok(took < 4000, `took ${Math.round(took)} ms (the wait bound is 8000)`);
    const st = await waitRequests(c, 16);
    const shares = (st.cache.perWorker as { requests: number }[]).map((w) => w.requests);
    assert.ok(shares.every((n) => n > 0), `both workers served some: ${shares}`);
    assert.ok(origin.seen.get("/big-object")! <= 16);
  } finally {
    await c.node.stop();
    await origin.server.shutdown();
  }
});

Deno.test("cache workers: /metrics and /status count the requests of every worker", async () => {
  const origin = countingOrigin((p) => new Response(`m ${p}\n`, { headers: { "cache-control": "max-age=600" } }));
  const c = await startCache("wkmetrics", origin.url);
  try {
    const N = 30;
    for (let i = 0; i < N; i++) assert.equal((await c.get(`/m/${i}`)).status, 200);
    for (let i = 0; i < 10; i++) assert.equal((await c.get("/popular")).status, 200);
    const st = await waitRequests(c, N + 10);
    const shares = (st.cache.perWorker as { misses: number }[]).map((w) => w.misses);
    assert.ok(shares.every((n) => n > 0), `both workers fetched misses: ${shares}`);
    const text = await c.metrics();
    assert.equal(sample(text, 'webcache_cache_requests_total{result="miss"}'), N + 1);
    assert.equal(sample(text, 'webcache_cache_requests_total{result="hit"}'), 9);
    // The origin latency histogram is observed by whichever worker fetched: it must hold all N + 1.
    assert.equal(sample(text, "webcache_cache_origin_latency_seconds_count"), N + 1);
    assert.equal(sample(text, 'webcache_cache_origin_latency_seconds_bucket{le="+Inf"}'), N + 1);
    assert.equal(
      origin.seen.get("/popular"),
      1,
      "requests right after the miss, on the other worker, wait for the copy",
    );
    const top = st.cache.topUrls as { url: string; requests: number }[];
    assert.equal(top[0].url, `http://${HOST}/popular`);
    assert.equal(top[0].requests, 10, "counted on both workers and merged");
  } finally {
    await c.node.stop();
    await origin.server.shutdown();
  }
});

Deno.test("cache workers: cache.memory.maxBytes bounds the whole cache, every worker's copy included", async () => {
  const body = "x".repeat(4096);
  const origin = countingOrigin(() => new Response(body, { headers: { "cache-control": "max-age=600" } }));
  const c = await startCache("wkmaxbytes", origin.url, { memory: { maxBytes: "64KiB" } });
  try {
    for (let i = 0; i < 48; i++) assert.equal((await c.get(`/big/${i}`)).body.length, 4096);
    await sleep(200); // copies reach the other worker
    const st = await waitRequests(c, 48);
    assert.equal(st.cache.maxBytes, 64 * 1024, "the limit reported is the configured one");
    assert.ok(st.cache.bytes <= 64 * 1024, `all workers hold ${st.cache.bytes} bytes`);
    for (const w of st.cache.perWorker as { bytes: number; objects: number }[]) {
      assert.ok(w.bytes <= 32 * 1024, `a worker holds ${w.bytes} bytes, over maxBytes / 2`);
      assert.ok(w.objects > 0);
    }
    assert.ok(st.cache.evictions > 0);
    // The newest object is still a hit on both workers.
    const hits = await Promise.all(Array.from({ length: 8 }, () => c.get("/big/47")));
    for (const h of hits) assert.match(h.headers["x-cache"], /^HIT/);
  } finally {
    await c.node.stop();
    await origin.server.shutdown();
  }
});

Deno.test("cache workers: objects are not copied into the other worker until it gets a request for them", async () => {
  const origin = countingOrigin((p) => new Response(`lazy ${p}\n`, { headers: { "cache-control": "max-age=600" } }));
  const c = await startCache("wklazy", origin.url);
  try {
    const N = 12;
    for (let i = 0; i < N; i++) assert.equal((await c.get(`/lazy/${i}`)).status, 200);
    await sleep(300); // an eager copy would have arrived by now
    let st = await waitRequests(c, N);
    assert.equal(st.cache.objects, N, `each object held once, by the worker that fetched it: ${st.cache.objects}`);
    // Many new connections: both workers get requests for /lazy/0 and the one without it copies it.
    const hits = await Promise.all(Array.from({ length: 16 }, () => c.get("/lazy/0")));
    for (const h of hits) {
      assert.equal(h.body, "lazy /lazy/0\n");
      assert.match(h.headers["x-cache"], /^HIT/);
    }
    assert.equal(origin.seen.get("/lazy/0"), 1);
    st = await waitRequests(c, N + 16);
    assert.equal(st.cache.objects, N + 1, "one copy more: /lazy/0 in the other worker");
    const text = await c.metrics();
    assert.equal(sample(text, 'webcache_cache_worker_copies_total{result="copied"}'), 1);
  } finally {
    await c.node.stop();
    await origin.server.shutdown();
  }
});

/**
 * Rounds of: a miss, 16 hits, a PURGE, 16 concurrent misses that must make exactly one origin
 * request. An origin that answers at once: the first miss is stored and its claim released while
 * the other worker's misses may still be between their lookup and their claim.
 */
async function purgeRounds(name: string, rounds: number, cache: Record<string, unknown> = {}) {
  const origin = countingOrigin((p, n) =>
    new Response(`${p} v${n}\n`, { headers: { "cache-control": "max-age=600" } })
  );
  const c = await startCache(name, origin.url, cache);
  try {
    const ROUNDS = rounds;
    for (let i = 0; i < ROUNDS; i++) {
      const path = `/round/${i}`;
      await c.get(path);
      await Promise.all(Array.from({ length: 16 }, () => c.get(path)));
      assert.equal((await request(c.http, path, { method: "PURGE", host: HOST })).status, 200);
      const after = await Promise.all(Array.from({ length: 16 }, () => c.get(path)));
      for (const r of after) assert.equal(r.body, `${path} v2\n`, `round ${i}: no purged copy, no third fetch`);
      assert.equal(origin.seen.get(path), 2, `round ${i}: one origin request after the purge`);
    }
  } finally {
    await c.node.stop();
    await origin.server.shutdown();
  }
}

Deno.test("cache workers: concurrent misses right after a PURGE make one origin request, round after round", async () => {
  // Before that gap was closed, a few rounds in a hundred made a second origin request (every run
  // of 150 rounds failed).
  await purgeRounds("wkpurgeloop", 150);
});

Deno.test("cache workers: with a disk tier, concurrent misses right after a PURGE make one origin request", async () => {
  // A disk tier answers look-ups asynchronously: after claiming, a worker looks again while
  // requests of its own worker may arrive; they must wait for that look, not fetch themselves.
  const dir = await Deno.makeTempDir({ prefix: "wk-purge-disk-" });
  try {
    await purgeRounds("wkpurgedisk", 100, { store: { dirs: [{ path: dir, size: "64MiB" }] } });
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("cache workers: PURGE removes an object from every worker that copied it", async () => {
  let version = 0;
  const origin = countingOrigin(() => new Response(`v${++version}\n`, { headers: { "cache-control": "max-age=600" } }));
  const c = await startCache("wkpurge", origin.url);
  try {
    assert.equal((await c.get("/pp")).body, "v1\n");
    for (const r of await Promise.all(Array.from({ length: 16 }, () => c.get("/pp")))) assert.equal(r.body, "v1\n");
    await waitStatus(c, "both workers holding /pp", (st) => st.cache.objects === 2);
    const purge = await request(c.http, "/pp", { method: "PURGE", host: HOST });
    assert.equal(purge.status, 200);
    assert.match(purge.text, /Purged 2 object/);
    // No worker serves the purged copy, and the 16 concurrent misses after the purge, spread over
    // both workers, are collapsed into one origin request.
    for (const r of await Promise.all(Array.from({ length: 16 }, () => c.get("/pp")))) {
      assert.equal(r.body, "v2\n", "no worker serves the purged copy");
    }
    assert.equal(origin.seen.get("/pp"), 2, "one origin request after the purge");
  } finally {
    await c.node.stop();
    await origin.server.shutdown();
  }
});
