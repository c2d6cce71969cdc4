/**
 * RFC 9111 / RFC 5861 rules end to end: what is stored, freshness, request directives,
 * validation with the origin, clients' conditional requests, Vary, invalidation, stale-while-
 * revalidate and stale-if-error. Each test scripts the origin by path.
 */
import { assert, assertEquals } from "../_assert.ts";
import { cacheable, request, sleep, startCache, TestOrigin } from "./_cache_harness.ts";

const HTTP_DATE = (ms: number) => new Date(ms).toUTCString();

async function withCache(
  handler: (req: Request, n: number) => Response | Promise<Response>,
  fn: (port: number, origin: TestOrigin, settle: () => Promise<void>) => Promise<void>,
  cache: Record<string, unknown> = {},
): Promise<void> {
  const origin = new TestOrigin(handler);
  const c = startCache({ defaultOrigin: origin.url, ...cache });
  try {
    // settle(): waits for the cache's background work (revalidations) to end.
    await fn(c.port, origin, () => c.service.handler.settle());
  } finally {
    await c.service.handler.settle();
    await c.close();
    await origin.close();
  }
}

/** Requests `path` twice and returns how many times the origin saw it. */
async function twice(port: number, origin: TestOrigin, path: string, headers: Record<string, string> = {}) {
  await request(port, path, { headers });
  const second = await request(port, path, { headers });
  return { originCount: origin.count(path), second };
}

Deno.test("cache rfc9111: storability of responses", async () => {
  const table: {
    path: string;
    headers: Record<string, string>;
    status?: number;
    req?: Record<string, string>;
    stored: boolean;
  }[] = [
    { path: "/maxage", headers: { "cache-control": "max-age=60" }, stored: true },
    { path: "/nostore", headers: { "cache-control": "no-store" }, stored: false },
    { path: "/private", headers: { "cache-control": "private, max-age=60" }, stored: false },
    { path: "/auth", headers: { "cache-control": "max-age=60" }, req: { Authorization: "Basic YTpi" }, stored: false },
    {
      path: "/auth-public",
      headers: { "cache-control": "public, max-age=60" },
      req: { Authorization: "Basic YTpi" },
      stored: true,
    },
    {
      path: "/auth-smaxage",
      headers: { "cache-control": "s-maxage=60" },
      req: { Authorization: "Basic YTpi" },
      stored: true,
    },
    {
      path: "/auth-mustreval",
      headers: { "cache-control": "max-age=60, must-revalidate" },
      req: { Authorization: "Basic YTpi" },
      stored: true,
    },
    {
      path: "/404-heuristic",
      headers: { "last-modified": HTTP_DATE(Date.now() - 86400_000) },
      status: 404,
      stored: true,
    },
    { path: "/302-plain", headers: {}, status: 302, stored: false },
    { path: "/302-explicit", headers: { "cache-control": "max-age=60" }, status: 302, stored: true },
    { path: "/500-plain", headers: {}, status: 500, stored: false },
    { path: "/vary-star", headers: { "cache-control": "max-age=60", vary: "*" }, stored: false },
    {
      path: "/request-no-store",
      headers: { "cache-control": "max-age=60" },
      req: { "Cache-Control": "no-store" },
      stored: false,
    },
  ];
  await withCache((req) => {
    const p = new URL(req.url).pathname;
    const row = table.find((r) => r.path === p)!;
    return new Response("body", { status: row.status ?? 200, headers: row.headers });
  }, async (port, origin) => {
    for (const row of table) {
      const { originCount } = await twice(port, origin, row.path, row.req);
      assertEquals(originCount, row.stored ? 1 : 2, `${row.path}: stored should be ${row.stored}`);
    }
  });
});

Deno.test("cache rfc9111: POST is passed and not stored", async () => {
  await withCache(() => cacheable("posted"), async (port, origin) => {
    await request(port, "/form", { method: "POST", body: "a=1" });
    const r = await request(port, "/form", { method: "POST", body: "a=2" });
    assertEquals(r.text, "posted");
    assertEquals(origin.count("/form"), 2);
    assertEquals(origin.seen[1].body, "a=2");
  });
});

Deno.test("cache rfc9111: max-age expiry, s-maxage over max-age, Expires, Age from upstream", async () => {
  const now = Date.now();
  await withCache((req) => {
    const p = new URL(req.url).pathname;
    if (p === "/short") return new Response("s", { headers: { "cache-control": "max-age=2" } });
    if (p === "/smax") return new Response("s", { headers: { "cache-control": "max-age=0, s-maxage=60" } });
    if (p === "/expires") {
      return new Response("e", { headers: { date: HTTP_DATE(now), expires: HTTP_DATE(now + 60_000) } });
    }
    if (p === "/expired") {
      return new Response("e", { headers: { date: HTTP_DATE(now), expires: HTTP_DATE(now - 1000) } });
    }
    if (p === "/aged") return new Response("a", { headers: { "cache-control": "max-age=10", age: "10" } });
    return new Response("x", { status: 404 });
  }, async (port, origin) => {
    await request(port, "/short");
    assertEquals((await request(port, "/short")).headers.get("x-cache"), "HIT from testcache");
    await sleep(2100);
    await request(port, "/short");
    assertEquals(origin.count("/short"), 2, "stale after max-age");
    assertEquals((await twice(port, origin, "/smax")).originCount, 1, "s-maxage wins in a shared cache");
    assertEquals((await twice(port, origin, "/expires")).originCount, 1, "Expires gives freshness");
    assertEquals((await twice(port, origin, "/expired")).originCount, 2, "past Expires is stale");
    assertEquals((await twice(port, origin, "/aged")).originCount, 2, "Age equal to max-age means stale");
  });
});

Deno.test("cache rfc9111: heuristic freshness is 10% of the Last-Modified age", async () => {
  await withCache((req) => {
    const p = new URL(req.url).pathname;
    const lm = p === "/old" ? Date.now() - 100 * 86400_000 : Date.now() - 5_000; // 10% = 0.5 s
    return new Response("h", { headers: { "last-modified": HTTP_DATE(lm), date: HTTP_DATE(Date.now()) } });
  }, async (port, origin) => {
    assertEquals((await twice(port, origin, "/old")).originCount, 1);
    await request(port, "/young");
    await sleep(1100);
    await request(port, "/young");
    assertEquals(origin.count("/young"), 2, "heuristic lifetime of 0.5 s has passed");
  });
});

Deno.test("cache rfc9111: request max-age, min-fresh, max-stale, no-cache and only-if-cached", async () => {
  await withCache(
    () => new Response("r", { headers: { "cache-control": "max-age=3", etag: '"r1"' } }),
    async (port, origin) => {
      await request(port, "/r");
      await sleep(1100); // age ≈ 1 s of 2 s
      const ma = await request(port, "/r", { headers: { "Cache-Control": "max-age=0" } });
      assertEquals(origin.count("/r"), 2, "max-age=0 forces revalidation");
      assertEquals(ma.status, 200);
      await request(port, "/r");
      assertEquals(origin.count("/r"), 2, "fresh again after the refetch");
      await request(port, "/r", { headers: { "Cache-Control": "min-fresh=5" } });
      assertEquals(origin.count("/r"), 3, "min-fresh beyond the remaining lifetime revalidates");
      await request(port, "/r", { headers: { "Cache-Control": "no-cache" } });
      assertEquals(origin.count("/r"), 4, "no-cache revalidates");
      await request(port, "/r", { headers: { Pragma: "no-cache" } });
      assertEquals(origin.count("/r"), 5, "Pragma: no-cache revalidates");
      await sleep(3100); // stale now
      const ms = await request(port, "/r", { headers: { "Cache-Control": "max-stale=60" } });
      assertEquals(ms.headers.get("x-cache"), "STALE from testcache");
      assertEquals(origin.count("/r"), 5, "max-stale serves the stale copy");
      const oic = await request(port, "/r", { headers: { "Cache-Control": "only-if-cached" } });
      assertEquals(oic.status, 504, "stale + only-if-cached");
      const none = await request(port, "/never", { headers: { "Cache-Control": "only-if-cached" } });
      assertEquals(none.status, 504, "not stored + only-if-cached");
      assertEquals(origin.count("/never"), 0);
    },
  );
});

Deno.test("cache rfc9111: revalidation with If-None-Match/If-Modified-Since; 304 updates headers", async () => {
  const lm = HTTP_DATE(Date.now() - 3600_000);
  await withCache((req, n) => {
    if (req.headers.get("if-none-match") === '"v1"') {
      return new Response(null, {
        status: 304,
        headers: { "cache-control": "max-age=60", etag: '"v1"', "x-version": `${n}` },
      });
    }
    return new Response("validated body", {
      headers: { "cache-control": "max-age=0", etag: '"v1"', "last-modified": lm, "x-version": `${n}` },
    });
  }, async (port, origin) => {
    const a = await request(port, "/v");
    assertEquals(a.headers.get("x-version"), "1");
    const b = await request(port, "/v");
    assertEquals(origin.count("/v"), 2);
    assertEquals(origin.seen[1].headers.get("if-none-match"), '"v1"');
    assertEquals(origin.seen[1].headers.get("if-modified-since"), lm);
    assertEquals(b.status, 200);
    assertEquals(b.text, "validated body");
    assertEquals(b.headers.get("x-cache"), "REVALIDATED from testcache");
    assertEquals(b.headers.get("x-version"), "2", "headers updated from the 304");
    const c = await request(port, "/v");
    assertEquals(c.headers.get("x-cache"), "HIT from testcache", "the 304's max-age=60 now applies");
    assertEquals(origin.count("/v"), 2);
  });
});

Deno.test("cache rfc9111: a 304 that omits the validators answers the cache's conditional request (§4.3.4)", async () => {
  await withCache((req, n) => {
    // This origin breaks RFC 9110 §15.4.5 (a 304 must repeat the ETag); its 304 still means "the
    // representation you named is current", and the stored one is the only one named.
    if (req.headers.get("if-none-match") === '"v1"') {
      return new Response(null, { status: 304, headers: { "cache-control": "max-age=60", "x-version": `${n}` } });
    }
    if (req.headers.has("if-none-match")) return new Response("wrong validator", { status: 500 });
    return new Response("only body", { headers: { "cache-control": "max-age=0", etag: '"v1"', "x-version": `${n}` } });
  }, async (port, origin) => {
    await request(port, "/bare304");
    const b = await request(port, "/bare304");
    assertEquals(origin.count("/bare304"), 2, "no unconditional refetch after the 304");
    assertEquals(b.status, 200);
    assertEquals(b.text, "only body");
    assertEquals(b.headers.get("x-cache"), "REVALIDATED from testcache");
    assertEquals(b.headers.get("etag"), '"v1"', "the stored validator is kept");
    assertEquals(b.headers.get("x-version"), "2", "headers updated from the 304");
    const c = await request(port, "/bare304");
    assertEquals(c.headers.get("x-cache"), "HIT from testcache");
    assertEquals(origin.count("/bare304"), 2);
  });
});

Deno.test("cache rfc9111: a 200 answer to revalidation replaces the stored object", async () => {
  await withCache(
    (_req, n) => new Response(`version ${n}`, { headers: { "cache-control": "max-age=0", etag: `"e${n}"` } }),
    async (port) => {
      assertEquals((await request(port, "/rep")).text, "version 1");
      const b = await request(port, "/rep");
      assertEquals(b.text, "version 2");
      assertEquals(b.headers.get("x-cache"), "MISS from testcache");
    },
  );
});

Deno.test("cache rfc9111: clients' conditional requests are answered from cache (304, 412)", async () => {
  const lm = HTTP_DATE(Date.now() - 3600_000);
  await withCache(() => cacheable("cond", { etag: '"c1"', "last-modified": lm }), async (port, origin) => {
    await request(port, "/c");
    const inm = await request(port, "/c", { headers: { "If-None-Match": '"x", "c1"' } });
    assertEquals(inm.status, 304);
    assertEquals(inm.body.length, 0);
    assertEquals(inm.headers.get("etag"), '"c1"');
    const ims = await request(port, "/c", { headers: { "If-Modified-Since": HTTP_DATE(Date.now()) } });
    assertEquals(ims.status, 304);
    const changed = await request(port, "/c", { headers: { "If-None-Match": '"other"' } });
    assertEquals(changed.status, 200);
    assertEquals(changed.text, "cond");
    const im = await request(port, "/c", { headers: { "If-Match": '"nope"' } });
    assertEquals(im.status, 412);
    assertEquals(origin.count("/c"), 1);
    // On a miss, the client's validators are not sent to the origin; the cache answers 304 itself.
    const miss = await request(port, "/c2", { headers: { "If-None-Match": '"c1"' } });
    assertEquals(miss.status, 304);
    assertEquals(origin.seen.find((r) => r.path === "/c2")!.headers.get("if-none-match"), null);
    assertEquals((await request(port, "/c2")).text, "cond");
  });
});

Deno.test("cache rfc9111: response no-cache, must-revalidate and proxy-revalidate go to the origin when needed", async () => {
  let up = true;
  await withCache((req) => {
    if (!up) return new Response("down", { status: 503 });
    const p = new URL(req.url).pathname;
    if (p === "/nc") return new Response("nc", { headers: { "cache-control": "no-cache", etag: '"n"' } });
    if (p === "/pr") {
      return new Response("pr", { headers: { "cache-control": "max-age=1, proxy-revalidate, stale-if-error=60" } });
    }
    return new Response("mr", { headers: { "cache-control": "max-age=1, must-revalidate, stale-if-error=60" } });
  }, async (port, origin) => {
    await request(port, "/nc");
    await request(port, "/nc");
    assertEquals(origin.count("/nc"), 2, "no-cache: revalidated every time");
    await request(port, "/mr");
    await request(port, "/pr");
    await sleep(1100);
    up = false;
    const r = await request(port, "/mr", { headers: { "Cache-Control": "max-stale=60" } });
    assertEquals(r.status, 503, "must-revalidate forbids serving stale, even with max-stale or stale-if-error");
    const pr = await request(port, "/pr", { headers: { "Cache-Control": "max-stale=60" } });
    assertEquals(pr.status, 503, "proxy-revalidate binds a shared cache the same way");
  });
});

Deno.test("cache rfc9111: fields named by no-cache=/private= reach the client that fetched, never a later one", async () => {
  await withCache(async (req) => {
    if (new URL(req.url).pathname === "/slow") await sleep(300);
    return cacheable("shared body", {
      "cache-control": 'max-age=60, no-cache="x-secret", private="x-user"',
      "x-secret": "s1",
      "x-user": "alice",
      "x-shared": "yes",
    });
  }, async (port, origin) => {
    const first = await request(port, "/q");
    assertEquals(first.headers.get("x-cache"), "MISS from testcache");
    assertEquals(first.headers.get("x-secret"), "s1", "RFC 9111 §5.2.2.4 limits reuse, not this response");
    assertEquals(first.headers.get("x-user"), "alice");
    const hit = await request(port, "/q");
    assertEquals(hit.headers.get("x-cache"), "HIT from testcache");
    assertEquals(hit.headers.get("x-secret"), null);
    assertEquals(hit.headers.get("x-user"), null);
    assertEquals(hit.headers.get("x-shared"), "yes");
    assertEquals(origin.count("/q"), 1);
    // Two clients collapsed on one fetch: only the one whose request went out gets the fields.
    const [a, b] = await Promise.all([request(port, "/slow"), sleep(50).then(() => request(port, "/slow"))]);
    assertEquals(origin.count("/slow"), 1);
    assertEquals([a.headers.get("x-user"), b.headers.get("x-user")], ["alice", null]);
    assertEquals(b.headers.get("x-secret"), null);
  });
});

Deno.test("cache rfc9111: Vary stores one variant per request header value", async () => {
  await withCache((req) => {
    const lang = req.headers.get("accept-language") ?? "none";
    return cacheable(`lang=${lang}`, { vary: "Accept-Language" });
  }, async (port, origin) => {
    const en = { "Accept-Language": "en" };
    const fr = { "Accept-Language": "fr" };
    assertEquals((await request(port, "/v", { headers: en })).text, "lang=en");
    assertEquals((await request(port, "/v", { headers: fr })).text, "lang=fr");
    const en2 = await request(port, "/v", { headers: en });
    assertEquals(en2.text, "lang=en");
    assertEquals(en2.headers.get("x-cache"), "HIT from testcache");
    const fr2 = await request(port, "/v", { headers: fr });
    assertEquals(fr2.text, "lang=fr");
    assertEquals(fr2.headers.get("x-cache"), "HIT from testcache");
    assertEquals(origin.count("/v"), 2);
    assertEquals((await request(port, "/v")).text, "lang=none");
    assertEquals(origin.count("/v"), 3);
    // Language ranges are case-insensitive (RFC 9110 §12.5.4): another spelling of "en" is a hit;
    // another order is another request (order may carry preference).
    const enUpper = await request(port, "/v", { headers: { "Accept-Language": "EN" } });
    assertEquals(enUpper.headers.get("x-cache"), "HIT from testcache");
    assertEquals(enUpper.text, "lang=en");
    await request(port, "/v", { headers: { "Accept-Language": "en, fr" } });
    const swapped = await request(port, "/v", { headers: { "Accept-Language": "fr, en" } });
    assertEquals(swapped.headers.get("x-cache"), "MISS from testcache");
    assertEquals(origin.count("/v"), 5);
  });
});

Deno.test("cache rfc9111: unsafe methods invalidate the URL and same-host Location/Content-Location", async () => {
  await withCache((req) => {
    const p = new URL(req.url).pathname;
    if (req.method === "POST") {
      return new Response("ok", {
        status: 201,
        headers: { location: "/created", "content-location": "http://elsewhere.example/other" },
      });
    }
    if (req.method === "DELETE") return new Response(null, { status: 500 });
    return cacheable(`get ${p}`);
  }, async (port, origin) => {
    for (const p of ["/col", "/created", "/other", "/err"]) await request(port, p);
    await request(port, "/col", { method: "POST", body: "x" });
    await request(port, "/err", { method: "DELETE" });
    for (const p of ["/col", "/created", "/other", "/err"]) await request(port, p);
    assertEquals(origin.count("/col"), 3, "target invalidated");
    assertEquals(origin.count("/created"), 2, "Location on the same host invalidated");
    assertEquals(origin.count("/other"), 1, "other host's URL untouched");
    assertEquals(origin.count("/err"), 2, "an error answer invalidates nothing (GET + DELETE only)");
  });
});

Deno.test("cache rfc9111: stale-while-revalidate serves stale and refreshes in the background", async () => {
  await withCache(
    // The refreshed copy lives longer, so the final HIT does not depend on Date's 1-second granularity.
    (_req, n) =>
      new Response(`swr ${n}`, {
        headers: { "cache-control": `max-age=${n === 1 ? 1 : 60}, stale-while-revalidate=30` },
      }),
    async (port, origin, settle) => {
      assertEquals((await request(port, "/swr")).text, "swr 1");
      await sleep(1100);
      const stale = await request(port, "/swr");
      assertEquals(stale.text, "swr 1");
      assertEquals(stale.headers.get("x-cache"), "STALE from testcache");
      await settle(); // the background revalidation has stored the refreshed object
      const fresh = await request(port, "/swr");
      assertEquals(fresh.text, "swr 2");
      assertEquals(fresh.headers.get("x-cache"), "HIT from testcache");
      assertEquals(origin.count("/swr"), 2);
    },
  );
});

Deno.test("cache rfc9111: stale-if-error serves the stale copy when the origin fails or answers 5xx", async () => {
  let mode: "ok" | "500" | "down" = "ok";
  const origin = new TestOrigin(() => {
    if (mode === "500") return new Response("boom", { status: 500 });
    return new Response("good", { headers: { "cache-control": "max-age=1, stale-if-error=60" } });
  });
  const c = startCache({ defaultOrigin: origin.url });
  const other = startCache({ defaultOrigin: "http://127.0.0.1:1" });
  try {
    await request(c.port, "/sie");
    await sleep(1100);
    mode = "500";
    const r = await request(c.port, "/sie");
    assertEquals(r.status, 200);
    assertEquals(r.text, "good");
    assertEquals(r.headers.get("x-cache"), "STALE from testcache");
    // Origin unreachable: another cache with the object stored and a dead origin.
    mode = "ok";
    await origin.close();
    const r2 = await request(c.port, "/sie");
    assertEquals(r2.text, "good");
    assertEquals(r2.headers.get("x-cache"), "STALE from testcache");
    const none = await request(other.port, "/sie");
    assert(none.status === 502, `no stale copy: 502, got ${none.status}`);
  } finally {
    await c.close();
    await other.close();
    await origin.close().catch(() => {});
  }
});
