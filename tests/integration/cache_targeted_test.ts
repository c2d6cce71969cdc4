/**
 * Targeted cache control (RFC 9213, `CDN-Cache-Control` and `cache.targetedCacheControl`) and
 * Squid-style refresh rules (`cache.refreshPatterns`) end to end: a scripted origin on
 * 127.0.0.1, the cache in this process, raw HTTP/1.1 clients.
 */
import { assertEquals, assertStringIncludes } from "../_assert.ts";
import { runWebcache } from "../_bin.ts";
import { request, sleep, startCache, TestOrigin } from "./_cache_harness.ts";

const HTTP_DATE = (ms: number) => new Date(ms).toUTCString();

async function withCache(
  handler: (req: Request, n: number) => Response | Promise<Response>,
  fn: (port: number, origin: TestOrigin) => Promise<void>,
  cache: Record<string, unknown> = {},
): Promise<void> {
  const origin = new TestOrigin(handler);
  const c = startCache({ defaultOrigin: origin.url, ...cache });
  try {
    await fn(c.port, origin);
  } finally {
    await c.service.handler.settle();
    await c.close();
    await origin.close();
  }
}

/** Origin answers by path: `headers[path]` plus a body naming the request number. */
function scripted(headers: Record<string, Record<string, string>>) {
  return (req: Request, n: number) => {
    const path = new URL(req.url).pathname;
    return new Response(`body ${n}`, { headers: { "content-type": "text/plain", ...headers[path] } });
  };
}

const CDN_TABLE: { path: string; headers: Record<string, string>; originCount: number; why: string }[] = [
  {
    path: "/cdn-over-cc-max-age-0",
    headers: { "cache-control": "max-age=0", "cdn-cache-control": "max-age=60" },
    originCount: 1,
    why: "a CDN max-age makes fresh what Cache-Control says is stale",
  },
  {
    path: "/cdn-max-age-0",
    headers: { "cache-control": "max-age=3600", "cdn-cache-control": "max-age=0" },
    originCount: 2,
    why: "a CDN max-age=0 wins over a long Cache-Control max-age",
  },
  {
    path: "/cdn-no-store",
    headers: { "cache-control": "max-age=3600", "cdn-cache-control": "no-store", expires: HTTP_DATE(Date.now() + 1e7) },
    originCount: 2,
    why: "a CDN no-store is not stored",
  },
  {
    path: "/cdn-private",
    headers: { "cache-control": "max-age=3600", "cdn-cache-control": "private" },
    originCount: 2,
    why: "a CDN private is not stored by this shared cache",
  },
  {
    path: "/cc-no-store-cdn-max-age",
    headers: { "cache-control": "no-store", "cdn-cache-control": "max-age=60" },
    originCount: 1,
    why: "a CDN max-age stores what Cache-Control: no-store keeps out of other caches",
  },
  {
    path: "/cdn-s-maxage",
    headers: { "cache-control": "max-age=0", "cdn-cache-control": "s-maxage=60" },
    originCount: 1,
    why: "a CDN s-maxage applies to this shared cache",
  },
  {
    path: "/cdn-age",
    headers: { "cdn-cache-control": "max-age=3600", age: "7200" },
    originCount: 2,
    why: "an upstream Age above the CDN max-age is stale",
  },
  {
    path: "/cdn-invalid-space",
    headers: { "cache-control": "no-store", "cdn-cache-control": "max-age =100" },
    originCount: 2,
    why: "a CDN field that is not a Dictionary is ignored (Cache-Control: no-store applies)",
  },
  {
    path: "/cdn-invalid-type",
    headers: { "cache-control": "no-store", "cdn-cache-control": 'max-age="100"' },
    originCount: 2,
    why: "a CDN max-age of the wrong type makes the field ignored",
  },
  {
    path: "/cdn-past-expires",
    headers: { "cdn-cache-control": "max-age=3600", expires: HTTP_DATE(Date.now() - 1e7) },
    originCount: 1,
    why: "Expires is ignored under a CDN field",
  },
];

Deno.test("cache targeted: CDN-Cache-Control decides storing and reuse over Cache-Control and Expires", async () => {
  const headers = Object.fromEntries(CDN_TABLE.map((r) => [r.path, r.headers]));
  await withCache(scripted(headers), async (port, origin) => {
    for (const row of CDN_TABLE) {
      const first = await request(port, row.path);
      assertEquals(first.status, 200, row.path);
      // The targeted field goes downstream unchanged (RFC 9213 §2.2 leaves it to the cache).
      assertEquals(first.headers.get("cdn-cache-control"), row.headers["cdn-cache-control"], row.path);
      const second = await request(port, row.path);
      assertEquals(origin.count(row.path), row.originCount, `${row.path}: ${row.why}`);
      assertEquals(second.headers.get("cdn-cache-control"), row.headers["cdn-cache-control"], row.path);
      if (row.originCount === 1) {
        assertEquals(second.headers.get("x-cache"), "HIT from testcache", row.path);
        assertEquals(second.text, "body " + (origin.seen.findIndex((s) => s.path === row.path) + 1), row.path);
      }
    }
  });
});

Deno.test("cache targeted: CDN-Cache-Control no-cache revalidates every hit despite Cache-Control max-age", async () => {
  await withCache(
    (req) => {
      if (req.headers.get("if-none-match") === '"v1"') {
        return new Response(null, { status: 304, headers: { etag: '"v1"' } });
      }
      return new Response("cdn no-cache", {
        headers: { "cache-control": "max-age=3600", "cdn-cache-control": "max-age=3600, no-cache", etag: '"v1"' },
      });
    },
    async (port, origin) => {
      // fetch() keeps the connection alive, so the second GET may take the fast hit path.
      const client = Deno.createHttpClient({});
      try {
        for (let i = 0; i < 2; i++) {
          const r = await fetch(`http://127.0.0.1:${port}/nc`, { client });
          assertEquals(r.status, 200);
          assertEquals(await r.text(), "cdn no-cache");
          if (i === 1) assertEquals(r.headers.get("x-cache"), "REVALIDATED from testcache");
        }
      } finally {
        client.close();
      }
      assertEquals(origin.count("/nc"), 2);
      assertEquals(origin.seen[1].headers.get("if-none-match"), '"v1"');
    },
  );
});

Deno.test("cache targeted: cache.targetedCacheControl chooses the fields, first listed wins; [] ignores them", async () => {
  const h = {
    "/t": { "cache-control": "max-age=0", "cdn-cache-control": "max-age=0", "acme-cache-control": "max-age=60" },
  };
  await withCache(scripted(h), async (port, origin) => {
    await request(port, "/t");
    assertEquals((await request(port, "/t")).headers.get("x-cache"), "HIT from testcache");
    assertEquals(origin.count("/t"), 1);
  }, { targetedCacheControl: ["Acme-Cache-Control", "CDN-Cache-Control"] });
  await withCache(scripted(h), async (port, origin) => {
    await request(port, "/t");
    await request(port, "/t");
    assertEquals(origin.count("/t"), 2, "CDN-Cache-Control: max-age=0 is the only listed field");
  });
  const cdnOnly = { "/t": { "cache-control": "max-age=0", "cdn-cache-control": "max-age=60" } };
  await withCache(scripted(cdnOnly), async (port, origin) => {
    await request(port, "/t");
    await request(port, "/t");
    assertEquals(origin.count("/t"), 2, "with [] the CDN field is not obeyed");
  }, { targetedCacheControl: [] });
});

Deno.test("cache refresh patterns: first matching rule sets heuristic min, percent and max", async () => {
  const lm = HTTP_DATE(Date.now() - 1_000_000);
  const h = {
    "/a.css": { "last-modified": lm },
    "/b.html": { "last-modified": lm },
    "/c.JPG": { "last-modified": lm },
    "/min.txt": {},
    "/nomin.txt": {},
    "/capped.js": { "last-modified": lm },
  };
  await withCache(scripted(h), async (port, origin) => {
    for (const p of Object.keys(h)) await request(port, p);
    for (const p of Object.keys(h)) await request(port, p);
    // percent 0, min 0: stale at once; Last-Modified is a validator, so the second is conditional.
    assertEquals(origin.count("/a.css"), 2);
    assertEquals(origin.seen.filter((s) => s.path === "/a.css")[1].headers.get("if-modified-since"), lm);
    // No rule matches: the default 10% of 1,000,000 s (capped at heuristicMaxS) keeps it fresh.
    assertEquals(origin.count("/b.html"), 1);
    // ignoreCase rule: the 600 s floor makes it fresh.
    assertEquals(origin.count("/c.JPG"), 1);
    // minS makes a response without Last-Modified (and without validator) storable and fresh.
    assertEquals(origin.count("/min.txt"), 1);
    assertEquals(origin.count("/nomin.txt"), 2);
    // maxS 1 caps 100% of 1,000,000 s: fresh now, stale after a second.
    assertEquals(origin.count("/capped.js"), 1);
    await sleep(1100);
    await request(port, "/capped.js");
    assertEquals(origin.count("/capped.js"), 2);
  }, {
    refreshPatterns: [
      { regex: "\\.css$", minS: 0, percent: 0, maxS: 0 },
      { regex: "\\.jpg$", ignoreCase: true, minS: 600, percent: 0, maxS: 3600 },
      { regex: "/min\\.txt$", minS: 600, percent: 10, maxS: 3600 },
      { regex: "\\.js$", minS: 0, percent: 100, maxS: 1 },
    ],
  });
});

Deno.test("cache refresh patterns: an explicit max-age is never overridden", async () => {
  const h = { "/x.css": { "cache-control": "max-age=0", "last-modified": HTTP_DATE(Date.now() - 1_000_000) } };
  await withCache(scripted(h), async (port, origin) => {
    await request(port, "/x.css");
    await request(port, "/x.css");
    assertEquals(origin.count("/x.css"), 2);
  }, { refreshPatterns: [{ regex: "\\.css$", minS: 3600, percent: 100, maxS: 86400 }] });
});

Deno.test("cache cli: a bad refresh pattern regex exits with status 2 naming key and value", async () => {
  const file = await Deno.makeTempFile({ prefix: "wc-refresh-", suffix: ".yaml" });
  try {
    await Deno.writeTextFile(
      file,
      'cache:\n  refreshPatterns:\n    - { regex: "img(", minS: 0, percent: 10, maxS: 60 }\n',
    );
    const r = await runWebcache(["cache", "--config", file, "--listen", "127.0.0.1:0"]);
    assertEquals(r.code, 2);
    assertStringIncludes(r.stderr, "cache.refreshPatterns[0].regex");
    assertStringIncludes(r.stderr, '"img("');
  } finally {
    await Deno.remove(file);
  }
});
