/**
 * Accelerator basics over real sockets: miss then hit, X-Cache/Age/Via, HEAD from a cached GET,
 * hop-by-hop fields, loops, PURGE, access log, /status counters.
 */
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import { cacheable, request, sleep, startCache, TestOrigin, writeText } from "./_cache_harness.ts";

Deno.test("cache accel: a miss is fetched once, then served as a HIT with Age, Via and X-Cache", async () => {
  const origin = new TestOrigin(() => cacheable("hello", { etag: '"v1"' }));
  const cache = startCache({ defaultOrigin: origin.url });
  try {
    const a = await request(cache.port, "/obj?x=1");
    assertEquals(a.status, 200);
    assertEquals(a.text, "hello");
    assertEquals(a.headers.get("x-cache"), "MISS from testcache");
    assertEquals(a.headers.get("via"), "1.1 testcache");
    await sleep(1100);
    const b = await request(cache.port, "/obj?x=1");
    assertEquals(b.text, "hello");
    assertEquals(b.headers.get("x-cache"), "HIT from testcache");
    assert(Number(b.headers.get("age")) >= 1, `age ${b.headers.get("age")}`);
    assertEquals(b.headers.get("etag"), '"v1"');
    assertEquals(origin.count(), 1);
    // The query string is part of the key.
    const c = await request(cache.port, "/obj?x=2");
    assertEquals(c.headers.get("x-cache"), "MISS from testcache");
    assertEquals(origin.count(), 2);
    // The origin saw Via and X-Forwarded-For.
    assertEquals(origin.seen[0].headers.get("via"), "1.1 testcache");
    assertEquals(origin.seen[0].headers.get("x-forwarded-for"), "127.0.0.1");
    assertEquals(origin.seen[0].headers.get("host"), "test.example");
  } finally {
    await cache.close();
    await origin.close();
  }
});

Deno.test("cache accel: HEAD is answered from a cached GET, and a HEAD miss stores the GET", async () => {
  const origin = new TestOrigin(() => cacheable("0123456789"));
  const cache = startCache({ defaultOrigin: origin.url });
  try {
    const h1 = await request(cache.port, "/h", { method: "HEAD" });
    assertEquals(h1.status, 200);
    assertEquals(h1.headers.get("content-length"), "10");
    assertEquals(origin.seen[0].method, "GET");
    const h2 = await request(cache.port, "/h", { method: "HEAD" });
    assertEquals(h2.headers.get("x-cache"), "HIT from testcache");
    assertEquals(h2.headers.get("content-length"), "10");
    assertEquals(h2.body.length, 0);
    const g = await request(cache.port, "/h");
    assertEquals(g.text, "0123456789");
    assertEquals(origin.count(), 1);
  } finally {
    await cache.close();
    await origin.close();
  }
});

Deno.test("cache accel: hop-by-hop fields are removed both ways", async () => {
  const origin = new TestOrigin(() =>
    new Response("x", {
      headers: {
        "cache-control": "max-age=60",
        "connection": "x-secret-hop",
        "x-secret-hop": "1",
        "keep-alive": "timeout=5",
        "x-end-to-end": "kept",
      },
    })
  );
  const cache = startCache({ defaultOrigin: origin.url });
  try {
    const r = await request(cache.port, "/hop", {
      headers: {
        "Connection": "X-Client-Hop",
        "X-Client-Hop": "1",
        "TE": "trailers",
        "Upgrade": "websocket",
        "Proxy-Authorization": "Basic Zm9vOmJhcg==",
        "X-Client-E2E": "kept",
      },
    });
    assertEquals(r.status, 200);
    assertEquals(r.headers.get("x-secret-hop"), null);
    assertEquals(r.headers.get("keep-alive"), null);
    assertEquals(r.headers.get("x-end-to-end"), "kept");
    const seen = origin.seen[0].headers;
    assertEquals(seen.get("x-client-hop"), null);
    assertEquals(seen.get("te"), null);
    assertEquals(seen.get("upgrade"), null);
    assertEquals(seen.get("proxy-authorization"), null);
    assertEquals(seen.get("x-client-e2e"), "kept");
    // Stored without them too.
    const r2 = await request(cache.port, "/hop");
    assertEquals(r2.headers.get("x-cache"), "HIT from testcache");
    assertEquals(r2.headers.get("x-secret-hop"), null);
  } finally {
    await cache.close();
    await origin.close();
  }
});

Deno.test("cache accel: a request already carrying this cache in Via is a loop (508)", async () => {
  const origin = new TestOrigin(() => cacheable("x"));
  const cache = startCache({ defaultOrigin: origin.url });
  try {
    const r = await request(cache.port, "/loop", { headers: { Via: "1.1 other, 1.1 testcache" } });
    assertEquals(r.status, 508);
    assertEquals(origin.count(), 0);
  } finally {
    await cache.close();
    await origin.close();
  }
});

Deno.test("cache accel: cache.origins picks the origin by Host; unknown hosts without a default get 503", async () => {
  const a = new TestOrigin(() => cacheable("site-a"));
  const b = new TestOrigin(() => cacheable("site-b"));
  const cache = startCache({ origins: { "a.example": a.url, "b.example": b.url } });
  try {
    assertEquals((await request(cache.port, "/", { host: "a.example" })).text, "site-a");
    assertEquals((await request(cache.port, "/", { host: "b.example:80" })).text, "site-b");
    assertEquals((await request(cache.port, "/", { host: "c.example" })).status, 503);
  } finally {
    await cache.close();
    await a.close();
    await b.close();
  }
});

Deno.test("cache accel: PURGE removes an object (200), then 404; outside cache.acl.purge it is 403", async () => {
  const origin = new TestOrigin(() => cacheable("p"));
  const cache = startCache({ defaultOrigin: origin.url });
  const denied = startCache({ defaultOrigin: origin.url, acl: { purge: ["10.0.0.0/8"] } });
  try {
    await request(cache.port, "/p");
    assertEquals((await request(cache.port, "/p")).headers.get("x-cache"), "HIT from testcache");
    assertEquals((await request(cache.port, "/p", { method: "PURGE" })).status, 200);
    assertEquals((await request(cache.port, "/p", { method: "PURGE" })).status, 404);
    assertEquals((await request(cache.port, "/p")).headers.get("x-cache"), "MISS from testcache");
    await request(denied.port, "/p");
    assertEquals((await request(denied.port, "/p", { method: "PURGE" })).status, 403);
    assertEquals((await request(denied.port, "/p")).headers.get("x-cache"), "HIT from testcache");
  } finally {
    await cache.close();
    await denied.close();
    await origin.close();
  }
});

Deno.test("cache accel: Squid native access.log lines and store statistics", async () => {
  const origin = new TestOrigin(() => cacheable("logged", { "content-type": "text/html; charset=utf-8" }));
  const file = await Deno.makeTempFile({ prefix: "wc-access-" });
  const cache = startCache({ defaultOrigin: origin.url, accessLog: file });
  try {
    const before = cache.service.stats().counters.requests;
    await request(cache.port, "/log");
    await request(cache.port, "/log");
    const st = cache.service.stats();
    assertEquals(st.store.objects, 1);
    assertEquals(st.counters.requests.miss - (before.miss ?? 0), 1);
    assertEquals(st.counters.requests.hit - (before.hit ?? 0), 1);
    await cache.service.accessLog.flush();
    const lines = (await Deno.readTextFile(file)).trim().split("\n");
    assertEquals(lines.length, 2);
    const re =
      /^\d{10}\.\d{3} +\d+ 127\.0\.0\.1 (TCP_MISS|TCP_MEM_HIT)\/200 \d+ GET http:\/\/test\.example\/log - (HIER_DIRECT\/127\.0\.0\.1|HIER_NONE\/-) text\/html$/;
    assertMatch(lines[0], re);
    assertMatch(lines[0], / TCP_MISS\/200 .* HIER_DIRECT\//);
    assertMatch(lines[1], / TCP_MEM_HIT\/200 .* HIER_NONE\/- /);
  } finally {
    await cache.close();
    await origin.close();
    await Deno.remove(file);
  }
});

Deno.test("cache accel: an upstream Age is passed on by the miss and grows on later hits", async () => {
  const origin = new TestOrigin(() => cacheable("aged", { age: "30", "cache-control": "max-age=600" }));
  const cache = startCache({ defaultOrigin: origin.url });
  try {
    const a = await request(cache.port, "/aged");
    assertEquals(a.headers.get("age"), "30");
    const b = await request(cache.port, "/aged");
    assertEquals(b.headers.get("x-cache"), "HIT from testcache");
    assert(Number(b.headers.get("age")) >= 30, `age ${b.headers.get("age")}`);
    const plain = await request(cache.port, "/aged?fresh", {});
    assertEquals(plain.headers.get("age"), "30");
  } finally {
    await cache.close();
    await origin.close();
  }
});

Deno.test("cache accel: small request bodies reach the origin with Content-Length", async () => {
  const origin = new TestOrigin(() => new Response("created", { status: 201 }));
  const cache = startCache({ defaultOrigin: origin.url });
  try {
    const r = await request(cache.port, "/items", {
      method: "POST",
      body: "name=x",
      headers: { "Content-Type": "text/plain" },
    });
    assertEquals(r.status, 201);
    assertEquals(origin.seen[0].body, "name=x");
    assertEquals(origin.seen[0].headers.get("content-length"), "6");
    assertEquals(origin.seen[0].headers.get("transfer-encoding"), null);
  } finally {
    await cache.close();
    await origin.close();
  }
});

Deno.test("cache accel: Expect: 100-continue is answered by the cache before it reads the body", async () => {
  const origin = new TestOrigin(() => new Response("stored", { status: 201 }));
  const cache = startCache({ defaultOrigin: origin.url });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: cache.port });
  try {
    await writeText(
      conn,
      "PUT /up HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
    );
    const buf = new Uint8Array(1024);
    const n = await conn.read(buf);
    assertMatch(new TextDecoder().decode(buf.subarray(0, n ?? 0)), /^HTTP\/1\.1 100 Continue\r\n\r\n/);
    await writeText(conn, "data");
    let rest = "";
    while (true) {
      const m = await conn.read(buf);
      if (m === null) break;
      rest += new TextDecoder().decode(buf.subarray(0, m));
    }
    assertMatch(rest, /HTTP\/1\.1 201 /);
    assertEquals(origin.seen[0].body, "data");
    assertEquals(origin.seen[0].headers.get("expect"), null);
  } finally {
    conn.close();
    await cache.close();
    await origin.close();
  }
});
