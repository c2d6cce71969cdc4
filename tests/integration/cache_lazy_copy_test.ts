/**
 * Lazy copies between cache workers (`cache/lazy_copy.ts`, `cache/shared_index.ts`), with two
 * workers' services in this process so a test can send a request to each one: each service listens
 * on its own port (real sockets), the two talk over a real `MessageChannel` and share the index and
 * the collapse table in `SharedArrayBuffer`s, as the workers of `webcache cache --workers 2` do.
 * `cache_workers_test.ts` runs the same through the bundle.
 */
import assert from "node:assert/strict";
import { validateConfig } from "../../config/mod.ts";
import { CacheService } from "../../cache/cache_service.ts";
import { LazyCopy } from "../../cache/lazy_copy.ts";
import { workerCopies } from "../../cache/metrics.ts";
import { SharedCollapse } from "../../cache/shared_collapse.ts";
import { SharedIndex } from "../../cache/shared_index.ts";
import { MemoryStore } from "../../cache/store/memory_store.ts";
import { decodeIcpMessage, encodeIcpMessage } from "../../icp/message.ts";
import { IcpOpcode } from "../../icp/opcode.ts";
import { IcpServer } from "../../icp/server.ts";
import { cacheable, request, sleep, TestOrigin } from "./_cache_harness.ts";

const KEY = (path: string) => `http://test.example${path}`;

interface Worker {
  service: CacheService;
  store: MemoryStore;
  lazy: LazyCopy;
  port: number;
}

/** Two workers (0 and 1) of one cache, connected as `WorkerPool` connects them. */
async function twoWorkers(
  origin: TestOrigin,
  fn: (w: [Worker, Worker], index: SharedArrayBuffer) => Promise<void>,
  cache: Record<string, unknown> = {},
  timeoutMs = 250,
): Promise<void> {
  const cfg = validateConfig({ cache: { defaultOrigin: origin.url, ...cache } }, { source: "test" });
  const index = SharedIndex.allocate(64);
  const collapse = SharedCollapse.allocate(16);
  const ch = new MessageChannel();
  const workers: Worker[] = [];
  try {
    for (const w of [0, 1]) {
      const store = new MemoryStore({ maxBytes: cfg.cache.memory.maxBytes, maxObjectBytes: cfg.cache.maxObjectBytes });
      const lazy = new LazyCopy(new SharedIndex(index, w), store, { timeoutMs });
      lazy.connect(1 - w, w === 0 ? ch.port1 : ch.port2);
      const service = new CacheService(cfg.cache, {
        node: `lazy${w}`,
        reusePort: false,
        store,
        lazyCopy: lazy,
        sharedCollapse: new SharedCollapse(collapse, { worker: w }),
        listeners: [{ hostname: "127.0.0.1", port: 0, mode: "accel" }],
        // As the worker plumbing does: delete here, then in every other worker.
        invalidate: async (keys) => {
          let n = 0;
          for (const x of workers) n += await x.service.invalidateLocal(keys);
          return n;
        },
      }).start();
      workers.push({ service, store, lazy, port: service.servers[0].addr.port });
    }
    await fn(workers as [Worker, Worker], index);
  } finally {
    for (const w of workers) await w.service.close();
    ch.port1.close();
    ch.port2.close();
  }
}

async function copies(result: string): Promise<number> {
  return (await workerCopies.get()).values.find((v) => v.labels.result === result)?.value ?? 0;
}

Deno.test("lazy copy: a miss on worker A is a hit on worker B with one origin request, copied only when asked", async () => {
  const origin = new TestOrigin(() => cacheable("lazy body\n"));
  try {
    await twoWorkers(origin, async ([a, b]) => {
      const copied = await copies("copied");
      const first = await request(a.port, "/obj");
      assert.equal(first.status, 200);
      assert.match(first.headers.get("x-cache")!, /^MISS from lazy0/);
      await sleep(50);
      assert.equal(b.store.stats().objects, 0, "nothing copied into B before B is asked");
      assert.equal(a.lazy.index.lookup(KEY("/obj")).holders, 0b01);
      const second = await request(b.port, "/obj");
      assert.equal(second.status, 200);
      assert.equal(second.text, "lazy body\n");
      assert.match(second.headers.get("x-cache")!, /^HIT from lazy1/);
      assert.ok(second.headers.has("age"));
      assert.equal(origin.count("/obj"), 1, "exactly one origin request");
      assert.equal(b.store.stats().objects, 1, "B holds its copy now");
      assert.equal(a.lazy.index.lookup(KEY("/obj")).holders, 0b11, "and published it");
      assert.equal(await copies("copied"), copied + 1);
      // Further requests on either worker are plain local hits.
      for (const w of [a, b, b, a]) assert.match((await request(w.port, "/obj")).headers.get("x-cache")!, /^HIT/);
      assert.equal(await copies("copied"), copied + 1);
      assert.equal(origin.count("/obj"), 1);
    });
  } finally {
    await origin.close();
  }
});

Deno.test("lazy copy: concurrent misses on both workers make one origin request; the other worker copies", async () => {
  const origin = new TestOrigin(async () => {
    await sleep(200);
    return cacheable("slow\n");
  });
  try {
    await twoWorkers(origin, async ([a, b]) => {
      const all = await Promise.all([a, b, a, b, b, a].map((w) => request(w.port, "/slow")));
      for (const r of all) assert.equal(r.text, "slow\n");
      assert.equal(origin.count("/slow"), 1);
      assert.equal(a.store.stats().objects + b.store.stats().objects, 2, "each worker holds one copy");
    });
  } finally {
    await origin.close();
  }
});

Deno.test("lazy copy: PURGE on one worker removes the object from every worker and from the index", async () => {
  const origin = new TestOrigin((_req, n) => cacheable(`version ${n}\n`));
  try {
    await twoWorkers(origin, async ([a, b]) => {
      await request(a.port, "/p");
      assert.match((await request(b.port, "/p")).headers.get("x-cache")!, /^HIT/);
      assert.equal(a.lazy.index.lookup(KEY("/p")).holders, 0b11);
      const purge = await request(b.port, "/p", { method: "PURGE" });
      assert.equal(purge.status, 200);
      assert.match(purge.text, /Purged 2 object/);
      assert.equal(a.store.stats().objects + b.store.stats().objects, 0);
      assert.equal(a.lazy.index.lookup(KEY("/p")).holders, 0, "withdrawn from the index");
      const again = await request(b.port, "/p");
      assert.match(again.headers.get("x-cache")!, /^MISS/);
      assert.equal(again.text, "version 2\n");
      assert.equal(origin.count("/p"), 2);
    });
  } finally {
    await origin.close();
  }
});

Deno.test("lazy copy: a POST invalidates the copies of every worker", async () => {
  const origin = new TestOrigin((req, n) => req.method === "POST" ? new Response("done\n") : cacheable(`v${n}\n`));
  try {
    await twoWorkers(origin, async ([a, b]) => {
      await request(a.port, "/inv");
      await request(b.port, "/inv");
      assert.equal((await request(a.port, "/inv", { method: "POST", body: "x" })).status, 200);
      assert.equal(a.lazy.index.lookup(KEY("/inv")).holders, 0);
      const r = await request(b.port, "/inv");
      assert.match(r.headers.get("x-cache")!, /^MISS/);
      assert.equal(r.text, "v3\n");
    });
  } finally {
    await origin.close();
  }
});

Deno.test("lazy copy: an evicted object's bit is cleared; a stale index entry falls back to the origin", async () => {
  const origin = new TestOrigin((req) => cacheable("e".repeat(2048) + new URL(req.url).pathname));
  try {
    // Each worker's memory tier holds about three of these objects.
    await twoWorkers(origin, async ([a, b], index) => {
      for (let i = 0; i < 6; i++) assert.equal((await request(a.port, `/e/${i}`)).status, 200);
      assert.ok(a.store.stats().evictions > 0);
      const held = Array.from({ length: 6 }, (_, i) => a.lazy.index.lookup(KEY(`/e/${i}`)).holders);
      assert.equal(held[0], 0, `the first object was evicted and withdrawn: ${held}`);
      assert.equal(held[5], 1);
      assert.equal(held.filter((h) => h === 1).length, a.store.stats().objects, "one bit per object held");
      // An entry claiming that worker 0 holds an object it never stored (as if its withdrawal were lost).
      new SharedIndex(index, 0).publish(KEY("/ghost"), Date.now() + 60_000);
      const absent = await copies("absent");
      const r = await request(b.port, "/ghost");
      assert.equal(r.status, 200);
      assert.match(r.headers.get("x-cache")!, /^MISS/);
      assert.equal(origin.count("/ghost"), 1);
      assert.equal(await copies("absent"), absent + 1);
    }, { memory: { maxBytes: "8KiB" } });
  } finally {
    await origin.close();
  }
});

Deno.test("lazy copy: a holder that does not answer in time costs the timeout, then the miss goes to the origin", async () => {
  const origin = new TestOrigin(() => cacheable("from origin\n"));
  const silent = new MessageChannel();
  try {
    await twoWorkers(
      origin,
      async ([_a, b], index) => {
        // Worker 2 is published as a holder but never reads its port.
        b.lazy.connect(2, silent.port1);
        new SharedIndex(index, 2).publish(KEY("/quiet"), Date.now() + 60_000);
        const timeouts = await copies("timeout");
        const t0 = performance.now();
        const r = await request(b.port, "/quiet");
        const took = performance.now() - t0;
        assert.equal(r.text, "from origin\n");
        assert.ok(took >= 90, `waited ${Math.round(took)} ms for the holder`);
        assert.equal(await copies("timeout"), timeouts + 1);
        assert.equal(b.lazy.inFlight, 0);
      },
      {},
      100,
    );
  } finally {
    silent.port2.close();
    await origin.close();
  }
});

Deno.test("lazy copy: ICP answers HIT from the index for an object only another worker holds", async () => {
  const origin = new TestOrigin(() => cacheable("icp\n"));
  try {
    await twoWorkers(origin, async ([a, b]) => {
      // The ICP server runs with the main thread's service (worker 0); worker 1 stores the object.
      const icp = await IcpServer.listen({
        hostname: "127.0.0.1",
        port: 0,
        isFresh: (url) => a.service.handler.lookupFresh(url),
        allows: () => true,
      });
      const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
      const ask = async (url: string, requestNumber: number) => {
        const q = encodeIcpMessage({ opcode: IcpOpcode.QUERY, requestNumber, url });
        await sock.send(q, { transport: "udp", hostname: "127.0.0.1", port: icp.addr.port });
        return decodeIcpMessage((await sock.receive())[0]).opcode;
      };
      try {
        assert.equal(await ask(KEY("/icp"), 1), IcpOpcode.MISS);
        await request(b.port, "/icp");
        assert.equal(a.store.stats().objects, 0);
        assert.equal(await ask(KEY("/icp"), 2), IcpOpcode.HIT);
        await request(a.port, "/icp", { method: "PURGE" });
        assert.equal(await ask(KEY("/icp"), 3), IcpOpcode.MISS);
      } finally {
        sock.close();
        await icp.close();
      }
    });
  } finally {
    await origin.close();
  }
});

Deno.test("lazy copy: a no-cache response is no ICP hit; another worker copies it and revalidates it (RFC 9111 §4.3.1)", async () => {
  const origin = new TestOrigin((req) =>
    req.headers.get("if-none-match") === '"1"'
      ? new Response(null, { status: 304, headers: { etag: '"1"' } })
      : cacheable("nc\n", { "cache-control": "no-cache", etag: '"1"' })
  );
  try {
    await twoWorkers(origin, async ([a, b]) => {
      await request(a.port, "/nc");
      assert.equal(a.lazy.index.lookup(KEY("/nc")).holders, 1);
      assert.equal(await a.service.handler.lookupFresh(KEY("/nc")), false);
      const res = await request(b.port, "/nc");
      assert.equal(res.text, "nc\n");
      assert.equal(origin.count("/nc"), 2, "worker B asked the origin: no-cache is never served unvalidated");
      assert.equal(origin.seen[1].headers.get("if-none-match"), '"1"', "with the copy's validator, not a full refetch");
      assert.match(res.headers.get("x-cache") ?? "", /^REVALIDATED/);
    });
  } finally {
    await origin.close();
  }
});

Deno.test("lazy copy: a stale object held by another worker is copied and revalidated, not refetched whole", async () => {
  const origin = new TestOrigin((req) =>
    req.headers.get("if-modified-since") === "Wed, 01 Jan 2020 00:00:00 GMT"
      ? new Response(null, {
        status: 304,
        headers: { "cache-control": "max-age=60", "last-modified": "Wed, 01 Jan 2020 00:00:00 GMT" },
      })
      : cacheable("old body\n", { "cache-control": "max-age=1", "last-modified": "Wed, 01 Jan 2020 00:00:00 GMT" })
  );
  try {
    await twoWorkers(origin, async ([a, b]) => {
      await request(a.port, "/st");
      await sleep(2100); // stale now
      const res = await request(b.port, "/st");
      assert.equal(res.text, "old body\n");
      assert.equal(origin.count("/st"), 2);
      assert.equal(origin.seen[1].headers.get("if-modified-since"), "Wed, 01 Jan 2020 00:00:00 GMT");
      assert.match(res.headers.get("x-cache") ?? "", /^REVALIDATED/);
      const again = await request(b.port, "/st");
      assert.match(again.headers.get("x-cache") ?? "", /^HIT/, "fresh again after the 304");
      assert.equal(origin.count("/st"), 2);
    });
  } finally {
    await origin.close();
  }
});

Deno.test("lazy copy: a worker whose copy went stale takes another worker's freshly revalidated copy", async () => {
  const lm = "Wed, 01 Jan 2020 00:00:00 GMT";
  const origin = new TestOrigin((req) =>
    req.headers.get("if-modified-since") === lm
      ? new Response(null, { status: 304, headers: { "cache-control": "max-age=60", "last-modified": lm } })
      : cacheable("body\n", { "cache-control": "max-age=1", "last-modified": lm })
  );
  try {
    await twoWorkers(origin, async ([a, b]) => {
      await request(a.port, "/re");
      await request(b.port, "/re"); // copied from A: both workers hold it now
      assert.equal(origin.count("/re"), 1);
      await sleep(2100); // both copies stale
      const viaB = await request(b.port, "/re");
      assert.match(viaB.headers.get("x-cache") ?? "", /^REVALIDATED/);
      assert.equal(origin.count("/re"), 2);
      const viaA = await request(a.port, "/re");
      assert.equal(viaA.text, "body\n");
      assert.match(viaA.headers.get("x-cache") ?? "", /^HIT/, "A serves B's revalidated copy");
      assert.equal(origin.count("/re"), 2, "no second revalidation");
    });
  } finally {
    await origin.close();
  }
});

Deno.test("lazy copy: an object copied from another worker carries no Set-Cookie", async () => {
  const origin = new TestOrigin(() =>
    cacheable("cookie body\n", { "cache-control": "public, max-age=60", "set-cookie": "session=first" })
  );
  try {
    await twoWorkers(origin, async ([a, b]) => {
      const first = await request(a.port, "/cookie");
      assert.equal(first.headers.get("set-cookie"), "session=first");
      const copy = await request(b.port, "/cookie");
      assert.equal(copy.text, "cookie body\n");
      assert.match(copy.headers.get("x-cache") ?? "", /^HIT/);
      assert.equal(copy.headers.get("set-cookie"), null);
      assert.equal(origin.count("/cookie"), 1);
    });
  } finally {
    await origin.close();
  }
});
