/**
 * Request collapsing with a bounded wait, bodies streamed while stored, objects above
 * cache.maxObjectBytes passed through, and clients that go away mid-body.
 */
import { assert, assertEquals, assertStringIncludes } from "../_assert.ts";
import { cacheable, request, sleep, startCache, TestOrigin, writeText } from "./_cache_harness.ts";
import { until } from "./_cluster_harness.ts";

Deno.test("cache collapse: concurrent misses make one origin request", async () => {
  const origin = new TestOrigin(async () => {
    await sleep(200);
    return cacheable("collapsed body");
  });
  const c = startCache({ defaultOrigin: origin.url });
  try {
    const before = c.service.stats().counters.collapsed;
    const all = await Promise.all(Array.from({ length: 10 }, () => request(c.port, "/same")));
    for (const r of all) assertEquals(r.text, "collapsed body");
    assertEquals(origin.count("/same"), 1);
    assertEquals(c.service.stats().counters.collapsed - before, 9);
  } finally {
    await c.close();
    await origin.close();
  }
});

Deno.test("cache collapse: waiting requests give up after collapse.waitMs and fetch themselves", async () => {
  const origin = new TestOrigin(async (_req, n) => {
    if (n === 1) await sleep(2000);
    return cacheable(`answer ${n}`);
  });
  const c = startCache({ defaultOrigin: origin.url, collapse: { waitMs: 100 } });
  try {
    const first = request(c.port, "/slow");
    // The second request follows once the first one's fetch is at the origin (it leads).
    await until("the first request at the origin", () => origin.count("/slow") === 1, 5000);
    const t0 = Date.now();
    const second = await request(c.port, "/slow");
    const waited = Date.now() - t0;
    assertEquals(second.status, 200);
    assert(waited < 1500, `follower waited ${waited} ms (the bound is 100, the leader's fetch 2000)`);
    assertEquals((await first).text, "answer 1");
    assertEquals(origin.count("/slow"), 2);
  } finally {
    await c.close();
    await origin.close();
  }
});

/** An origin whose /stream body is released by the test in two parts. */
function streamingOrigin(size2 = 5) {
  let release!: () => void;
  const gate = new Promise<void>((r) => release = r);
  const origin = new TestOrigin(() => {
    const body = new ReadableStream<Uint8Array>({
      async start(ctl) {
        ctl.enqueue(new TextEncoder().encode("part1"));
        await gate;
        ctl.enqueue(new TextEncoder().encode("p".repeat(size2)));
        ctl.close();
      },
    });
    return new Response(body, { headers: { "cache-control": "max-age=60" } });
  });
  return { origin, release };
}

Deno.test("cache collapse: the body streams to the client while it is being stored", async () => {
  const { origin, release } = streamingOrigin();
  const c = startCache({ defaultOrigin: origin.url });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: c.port });
  try {
    await writeText(conn, "GET /stream HTTP/1.1\r\nHost: s.example\r\nConnection: close\r\n\r\n");
    let got = "";
    const buf = new Uint8Array(4096);
    while (!got.includes("part1")) {
      const n = await conn.read(buf);
      if (n === null) break;
      got += new TextDecoder().decode(buf.subarray(0, n));
    }
    assertStringIncludes(got, "part1", "first part arrives before the origin finished");
    release();
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      got += new TextDecoder().decode(buf.subarray(0, n));
    }
    assertStringIncludes(got, "ppppp");
    const hit = await request(c.port, "/stream", { host: "s.example" });
    assertEquals(hit.headers.get("x-cache"), "HIT from testcache");
    assertEquals(hit.text, "part1ppppp");
    assertEquals(origin.count(), 1);
  } finally {
    conn.close();
    await c.close();
    await origin.close();
  }
});

Deno.test("cache collapse: a client that goes away mid-body does not corrupt the stored object", async () => {
  const { origin, release } = streamingOrigin(100_000);
  const c = startCache({ defaultOrigin: origin.url });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: c.port });
    await writeText(conn, "GET /stream HTTP/1.1\r\nHost: g.example\r\n\r\n");
    const buf = new Uint8Array(4096);
    let got = "";
    while (!got.includes("part1")) {
      const n = await conn.read(buf);
      if (n === null) break;
      got += new TextDecoder().decode(buf.subarray(0, n));
    }
    conn.close(); // the client leaves
    release();
    let hit;
    for (let i = 0; i < 50; i++) {
      await sleep(20);
      hit = await request(c.port, "/stream", { host: "g.example" });
      if (hit.headers.get("x-cache")?.startsWith("HIT")) break;
    }
    assertEquals(hit!.headers.get("x-cache"), "HIT from testcache");
    assertEquals(hit!.body.length, 100_005);
    assertEquals(hit!.text, "part1" + "p".repeat(100_000));
    assertEquals(origin.count(), 1);
  } finally {
    await c.close();
    await origin.close();
  }
});

Deno.test("cache collapse: objects above cache.maxObjectBytes are passed through, not stored", async () => {
  const big = "b".repeat(2000);
  const origin = new TestOrigin((req) => {
    if (new URL(req.url).pathname === "/chunked") {
      const body = new ReadableStream<Uint8Array>({
        start(ctl) {
          for (let i = 0; i < 4; i++) ctl.enqueue(new TextEncoder().encode("c".repeat(500)));
          ctl.close();
        },
      });
      return new Response(body, { headers: { "cache-control": "max-age=60" } });
    }
    return cacheable(big);
  });
  const c = startCache({ defaultOrigin: origin.url, maxObjectBytes: 1000 });
  try {
    for (const p of ["/big", "/chunked"]) {
      const a = await request(c.port, p);
      assertEquals(a.body.length, 2000, p);
      const b = await request(c.port, p);
      assertEquals(b.body.length, 2000, p);
      assertEquals(origin.count(p), 2, `${p} not stored`);
    }
    assertEquals(c.service.stats().store.objects, 0);
  } finally {
    await c.close();
    await origin.close();
  }
});
