import { assert, assertEquals } from "../tests/_assert.ts";
import { cacheKey } from "./semantics/mod.ts";
import { RequestFsm } from "./request_fsm.ts";
import { exchange, parseRecorded, planFor, rawResponse, ScriptedOrigin, testContext, testStore } from "./_test_kit.ts";
import type { CacheHandlerConfig } from "./exchange.ts";
import type { Store } from "./store/store.ts";

/** Runs one request through the state machine; returns the exchange after it. */
async function run(fsm: RequestFsm, origin: ScriptedOrigin, head: string) {
  const ex = exchange(head);
  await fsm.lookup(ex, planFor(ex, origin, ex.req.target));
  return { ex, r: parseRecorded(ex.res.text()) };
}

async function withFsm(
  script: ConstructorParameters<typeof ScriptedOrigin>[0],
  fn: (fsm: RequestFsm, origin: ScriptedOrigin, store: ReturnType<typeof testStore>) => Promise<void>,
  config?: Partial<CacheHandlerConfig>,
) {
  const origin = new ScriptedOrigin(script);
  const store = testStore();
  const { ctx, pool } = testContext(store, { config });
  const fsm = new RequestFsm(ctx);
  try {
    await fn(fsm, origin, store);
    await fsm.settle();
  } finally {
    pool.close();
    await origin.close();
  }
}

const GET = (path: string, extra = "") => `GET ${path} HTTP/1.1\r\nHost: example.test\r\n${extra}\r\n`;

Deno.test("RequestFsm: miss stores, the next lookup is a hit without an origin request", async () => {
  await withFsm(
    () => rawResponse(200, [["cache-control", "max-age=60"], ["content-type", "text/plain"]], "hello"),
    async (fsm, origin) => {
      const a = await run(fsm, origin, GET("/a"));
      assertEquals([a.r.status, a.r.body, a.ex.out.code, a.ex.out.result], [200, "hello", "TCP_MISS", "miss"]);
      assertEquals(a.r.headers.get("x-cache"), "MISS from t1");
      const b = await run(fsm, origin, GET("/a"));
      assertEquals([b.r.status, b.r.body, b.ex.out.code], [200, "hello", "TCP_MEM_HIT"]);
      assertEquals(b.r.headers.get("x-cache"), "HIT from t1");
      assertEquals(origin.seen.length, 1);
    },
  );
});

Deno.test("RequestFsm: HEAD miss is fetched as GET and stored; a later GET hits", async () => {
  await withFsm(() => rawResponse(200, [["cache-control", "max-age=60"]], "body!"), async (fsm, origin) => {
    const a = await run(fsm, origin, `HEAD /h HTTP/1.1\r\nHost: example.test\r\n\r\n`);
    assertEquals([a.r.status, a.r.body, a.r.headers.get("content-length")], [200, "", "5"]);
    assertEquals(origin.seen[0].method, "GET");
    const b = await run(fsm, origin, GET("/h"));
    assertEquals([b.r.body, b.ex.out.code], ["body!", "TCP_MEM_HIT"]);
    assertEquals(origin.seen.length, 1);
  });
});

Deno.test("RequestFsm: stale with a validator revalidates conditionally; 304 → REVALIDATED with freshened headers", async () => {
  await withFsm(
    (_req, n) =>
      n === 1
        ? rawResponse(200, [["cache-control", "max-age=0"], ["etag", '"v1"'], ["x-gen", "1"]], "one")
        : rawResponse(304, [["cache-control", "max-age=60"], ["etag", '"v1"'], ["x-gen", "2"]]),
    async (fsm, origin, store) => {
      await run(fsm, origin, GET("/r"));
      const b = await run(fsm, origin, GET("/r"));
      assertEquals(origin.seen[1].headers.get("if-none-match"), '"v1"');
      assertEquals([b.r.status, b.r.body, b.ex.out.code], [200, "one", "TCP_REFRESH_UNMODIFIED"]);
      assertEquals(b.r.headers.get("x-cache"), "REVALIDATED from t1");
      const meta = (await store.variants(cacheKey(`${origin.url}/r`)))[0];
      assertEquals(meta.headers.find(([k]) => k === "x-gen")?.[1], "2");
      const c = await run(fsm, origin, GET("/r"));
      assertEquals(c.ex.out.code, "TCP_MEM_HIT");
      assertEquals(origin.seen.length, 2);
    },
  );
});

Deno.test("RequestFsm: a 304 not selecting the stored response (other ETag) → unconditional refetch replaces it", async () => {
  await withFsm(
    (_req, n) =>
      n === 1
        ? rawResponse(200, [["cache-control", "max-age=0"], ["etag", '"v1"']], "one")
        : n === 2
        ? rawResponse(304, [["cache-control", "max-age=60"], ["etag", '"v2"']])
        : rawResponse(200, [["cache-control", "max-age=60"], ["etag", '"v2"']], "two"),
    async (fsm, origin) => {
      await run(fsm, origin, GET("/e"));
      const b = await run(fsm, origin, GET("/e"));
      assertEquals(origin.seen.length, 3);
      assertEquals(origin.seen[2].headers.get("if-none-match"), null);
      assertEquals([b.r.status, b.r.body], [200, "two"]);
      assertEquals((await run(fsm, origin, GET("/e"))).r.body, "two");
    },
  );
});

Deno.test("RequestFsm: stale-while-revalidate serves STALE and revalidates in the background", async () => {
  await withFsm(
    (_req, n) =>
      n === 1
        ? rawResponse(200, [["cache-control", "max-age=0, stale-while-revalidate=60"], ["etag", '"s"']], "old")
        : rawResponse(200, [["cache-control", "max-age=60"], ["etag", '"s2"']], "new"),
    async (fsm, origin) => {
      await run(fsm, origin, GET("/s"));
      const b = await run(fsm, origin, GET("/s"));
      assertEquals([b.r.body, b.ex.out.code, b.r.headers.get("x-cache")], ["old", "TCP_STALE_HIT", "STALE from t1"]);
      await fsm.settle();
      assertEquals(origin.seen.length, 2);
      assertEquals(origin.seen[1].headers.get("if-none-match"), '"s"');
      const c = await run(fsm, origin, GET("/s"));
      assertEquals([c.r.body, c.ex.out.code], ["new", "TCP_MEM_HIT"]);
    },
  );
});

Deno.test("RequestFsm: revalidation failing with 503 serves STALE under stale-if-error, relays 503 without", async () => {
  await withFsm(
    (req) =>
      req.target === "/sie"
        ? (req.headers.has("if-none-match")
          ? rawResponse(503, [], "down")
          : rawResponse(200, [["cache-control", "max-age=0, stale-if-error=60"], ["etag", '"a"']], "keep"))
        : (req.headers.has("if-none-match")
          ? rawResponse(503, [], "down")
          : rawResponse(200, [["cache-control", "max-age=0"], ["etag", '"b"']], "plain")),
    async (fsm, origin) => {
      await run(fsm, origin, GET("/sie"));
      const a = await run(fsm, origin, GET("/sie"));
      assertEquals([a.r.status, a.r.body, a.ex.out.code], [200, "keep", "TCP_REFRESH_FAIL_OLD"]);
      await run(fsm, origin, GET("/plain"));
      const b = await run(fsm, origin, GET("/plain"));
      assertEquals([b.r.status, b.r.body], [503, "down"]);
    },
  );
});

Deno.test("RequestFsm: only-if-cached on a miss answers 504 without asking the origin", async () => {
  await withFsm(() => rawResponse(200, [], "x"), async (fsm, origin) => {
    const a = await run(fsm, origin, GET("/o", "Cache-Control: only-if-cached\r\n"));
    assertEquals([a.r.status, a.ex.out.result], [504, "only_if_cached"]);
    assertEquals(origin.seen.length, 0);
  });
});

Deno.test("RequestFsm: a Range request for an object not stored is passed and never stored", async () => {
  await withFsm(
    () => rawResponse(206, [["cache-control", "max-age=60"], ["content-range", "bytes 0-1/10"]], "01"),
    async (fsm, origin, store) => {
      const a = await run(fsm, origin, GET("/p", "Range: bytes=0-1\r\n"));
      assertEquals([a.r.status, a.r.body, a.ex.out.result], [206, "01", "pass"]);
      assertEquals(origin.seen[0].headers.get("range"), "bytes=0-1");
      assertEquals(await store.variants(cacheKey(`${origin.url}/p`)), []);
    },
  );
});

Deno.test("RequestFsm: concurrent misses of one URL collapse into one origin request", async () => {
  await withFsm(
    () => ({ raw: rawResponse(200, [["cache-control", "max-age=60"]], "shared"), delayMs: 150 }),
    async (fsm, origin) => {
      const all = await Promise.all([1, 2, 3].map(() => run(fsm, origin, GET("/c"))));
      assertEquals(all.map((x) => x.r.body), ["shared", "shared", "shared"]);
      assertEquals(origin.seen.length, 1);
    },
  );
});

Deno.test("RequestFsm: a client conditional on a stored object answers 304 from the store", async () => {
  await withFsm(
    () => rawResponse(200, [["cache-control", "max-age=60"], ["etag", '"z"']], "zz"),
    async (fsm, origin) => {
      await run(fsm, origin, GET("/i"));
      const a = await run(fsm, origin, GET("/i", 'If-None-Match: "z"\r\n'));
      assertEquals([a.r.status, a.ex.out.code], [304, "TCP_IMS_HIT"]);
      assert(!a.ex.res.text().endsWith("zz"));
      assertEquals(origin.seen.length, 1);
    },
  );
});

const EARLY_HINTS = "HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\nX-Interim: 1\r\n\r\n";

Deno.test("RequestFsm: interim responses of a miss reach the client first, in order, and are never stored", async () => {
  await withFsm(
    () => "HTTP/1.1 102 Processing\r\n\r\n" + EARLY_HINTS + rawResponse(200, [["cache-control", "max-age=60"]], "page"),
    async (fsm, origin, store) => {
      const a = await run(fsm, origin, GET("/ih"));
      const text = a.ex.res.text();
      assert(
        text.startsWith("HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </s.css>; rel=preload\r\n"),
        text,
      );
      const final = parseRecorded(text.slice(text.indexOf("HTTP/1.1 200")));
      assertEquals([final.status, final.body, final.headers.get("link"), final.headers.get("x-interim")], [
        200,
        "page",
        null,
        null,
      ]);
      const meta = (await store.variants(cacheKey(`${origin.url}/ih`)))[0];
      assertEquals(meta.headers.filter(([k]) => k === "link" || k === "x-interim"), []);
      const b = await run(fsm, origin, GET("/ih"));
      assert(b.ex.res.text().startsWith("HTTP/1.1 200"), "a hit sends no interim response");
    },
  );
});

Deno.test("RequestFsm: interim responses before a revalidation's 304 are relayed; the stored response keeps none of their fields", async () => {
  await withFsm(
    (_req, n) =>
      n === 1
        ? rawResponse(200, [["cache-control", "max-age=0"], ["etag", '"r"']], "v")
        : EARLY_HINTS + rawResponse(304, [["cache-control", "max-age=60"], ["etag", '"r"']]),
    async (fsm, origin, store) => {
      await run(fsm, origin, GET("/ir"));
      const ex = exchange(GET("/ir"));
      await fsm.lookup(ex, planFor(ex, origin, "/ir"));
      const text = ex.res.text();
      assert(text.startsWith("HTTP/1.1 103 Early Hints\r\n"), text);
      assertEquals(ex.out.code, "TCP_REFRESH_UNMODIFIED");
      const meta = (await store.variants(cacheKey(`${origin.url}/ir`)))[0];
      assertEquals(meta.headers.filter(([k]) => k === "link" || k === "x-interim"), []);
    },
  );
});

Deno.test("RequestFsm: an HTTP/1.0 client gets no interim response", async () => {
  await withFsm(
    () => EARLY_HINTS + rawResponse(200, [["cache-control", "max-age=60"]], "old-client"),
    async (fsm, origin) => {
      const ex = exchange("GET /h10 HTTP/1.0\r\nHost: example.test\r\n\r\n");
      await fsm.lookup(ex, planFor(ex, origin, "/h10"));
      assert(ex.res.text().startsWith("HTTP/1.1 200"), ex.res.text());
    },
  );
});

// ---- must-revalidate / proxy-revalidate on a stale response (RFC 9111 §4.2.4, §5.2.2.2, §5.2.2.8) ----

for (const directive of ["must-revalidate", "proxy-revalidate"]) {
  Deno.test(`RequestFsm: stale ${directive} under stale-while-revalidate is validated before it is served`, async () => {
    await withFsm(
      (_req, n) =>
        n === 1
          ? rawResponse(200, [["cache-control", `max-age=0, stale-while-revalidate=600, ${directive}`], [
            "etag",
            '"m"',
          ]], "v1")
          : rawResponse(200, [["cache-control", "max-age=60"], ["etag", '"m2"']], "v2"),
      async (fsm, origin) => {
        await run(fsm, origin, GET("/m"));
        const b = await run(fsm, origin, GET("/m"));
        assertEquals(origin.seen.length, 2, "a conditional request went out before answering");
        assertEquals(origin.seen[1].headers.get("if-none-match"), '"m"');
        assertEquals([b.r.body, b.ex.out.code], ["v2", "TCP_REFRESH_MODIFIED"]);
      },
    );
  });

  Deno.test(`RequestFsm: stale ${directive} with stale-if-error: a 503 answering the validation is relayed, not the stale copy`, async () => {
    await withFsm(
      (_req, n) =>
        n === 1
          ? rawResponse(200, [["cache-control", `max-age=0, stale-if-error=600, ${directive}`], ["etag", '"e"']], "v1")
          : rawResponse(503, [], "down"),
      async (fsm, origin) => {
        await run(fsm, origin, GET("/e"));
        const b = await run(fsm, origin, GET("/e", "Cache-Control: stale-if-error=600, max-stale=600\r\n"));
        assertEquals(origin.seen[1].headers.get("if-none-match"), '"e"');
        assertEquals([b.r.status, b.r.body], [503, "down"]);
      },
      { staleIfErrorS: 3600 },
    );
  });

  Deno.test(`RequestFsm: stale ${directive} with the origin unreachable answers 504, even with cache.staleIfErrorS`, async () => {
    await withFsm(
      () => ({
        raw: rawResponse(200, [["cache-control", `max-age=0, ${directive}`], ["etag", '"d"']], "v1"),
        close: true,
      }),
      async (fsm, origin) => {
        await run(fsm, origin, GET("/d"));
        await origin.close();
        const b = await run(fsm, origin, GET("/d", "Cache-Control: max-stale=600, stale-if-error=600\r\n"));
        assertEquals([b.r.status, b.ex.out.result], [504, "error"]);
        assert(!b.ex.res.text().includes("v1"), "the stale body is not served");
      },
      { staleIfErrorS: 3600 },
    );
  });
}

Deno.test("RequestFsm: cache.staleIfErrorS serves a stale response (no directives) when the origin is unreachable", async () => {
  await withFsm(
    () => ({ raw: rawResponse(200, [["cache-control", "max-age=0"], ["etag", '"o"']], "v1"), close: true }),
    async (fsm, origin) => {
      await run(fsm, origin, GET("/o"));
      await origin.close();
      const b = await run(fsm, origin, GET("/o"));
      assertEquals([b.r.status, b.r.body, b.ex.out.code], [200, "v1", "TCP_REFRESH_FAIL_OLD"]);
    },
    { staleIfErrorS: 3600 },
  );
});

Deno.test("RequestFsm: without cache.staleIfErrorS or stale-if-error an unreachable origin is a 502", async () => {
  await withFsm(
    () => ({ raw: rawResponse(200, [["cache-control", "max-age=0"], ["etag", '"o"']], "v1"), close: true }),
    async (fsm, origin) => {
      await run(fsm, origin, GET("/o"));
      await origin.close();
      const b = await run(fsm, origin, GET("/o"));
      assertEquals(b.r.status, 502);
    },
  );
});

// ---- header updates from an inbound HEAD (RFC 9111 §4.3.5) ----

Deno.test("RequestFsm: a HEAD that is not to be stored goes upstream as HEAD; its 200 updates the stored GET", async () => {
  await withFsm(
    (req, n) =>
      n === 1
        ? rawResponse(200, [["cache-control", "max-age=0"], ["etag", '"h"'], ["content-type", "text/plain"]], "body")
        : `HTTP/1.1 200 OK\r\ncache-control: max-age=600\r\netag: "h"\r\ncontent-type: text/csv\r\ncontent-length: 4\r\n\r\n` +
          (req.method === "HEAD" ? "" : "body"),
    async (fsm, origin, store) => {
      await run(fsm, origin, GET("/hd"));
      const ex = exchange("HEAD /hd HTTP/1.1\r\nHost: example.test\r\nCache-Control: no-store\r\n\r\n");
      await fsm.lookup(ex, planFor(ex, origin, "/hd"));
      assertEquals(origin.seen[1].method, "HEAD");
      assertEquals(parseRecorded(ex.res.text()).status, 200);
      const meta = (await store.variants(cacheKey(`${origin.url}/hd`)))[0];
      assertEquals(meta.headers.find(([k]) => k === "cache-control")?.[1], "max-age=600");
      assertEquals(meta.headers.find(([k]) => k === "content-type")?.[1], "text/csv");
      const hit = await run(fsm, origin, GET("/hd"));
      assertEquals([hit.r.body, hit.ex.out.code, hit.r.headers.get("content-length")], ["body", "TCP_MEM_HIT", "4"]);
      assertEquals(origin.seen.length, 2);
    },
  );
});

Deno.test("RequestFsm: a HEAD 200 with another ETag drops the stored GET; the next GET fetches it again", async () => {
  await withFsm(
    (req, n) =>
      n === 1
        ? rawResponse(200, [["cache-control", "max-age=0"], ["etag", '"old"']], "old!")
        : `HTTP/1.1 200 OK\r\ncache-control: max-age=600\r\netag: "new"\r\ncontent-length: 4\r\n\r\n` +
          (req.method === "HEAD" ? "" : "new!"),
    async (fsm, origin, store) => {
      await run(fsm, origin, GET("/hx"));
      const ex = exchange("HEAD /hx HTTP/1.1\r\nHost: example.test\r\nCache-Control: no-store\r\n\r\n");
      await fsm.lookup(ex, planFor(ex, origin, "/hx"));
      assertEquals(await store.variants(cacheKey(`${origin.url}/hx`)), []);
      const b = await run(fsm, origin, GET("/hx"));
      assertEquals([b.r.body, b.ex.out.code], ["new!", "TCP_MISS"]);
    },
  );
});

Deno.test("RequestFsm: a store answering with promises finds the matching variant past others, and a vanished one is a miss", async () => {
  const origin = new ScriptedOrigin((req) =>
    rawResponse(
      200,
      [["cache-control", "max-age=60"], ["vary", "accept-language"]],
      `in ${req.headers.get("accept-language")}`,
    )
  );
  const store = testStore();
  const { ctx, pool } = testContext(store);
  // The state machine looks up through an asynchronous store (a disk tier answers so); the fetch
  // stage stores into the memory store underneath.
  let vanish = "";
  const asyncStore: Store = Object.create(store);
  asyncStore.variants = (primary: string) => Promise.resolve(store.variants(primary));
  asyncStore.get = (key) => Promise.resolve(key.variant === vanish ? undefined : store.get(key));
  ctx.store = asyncStore;
  const fsm = new RequestFsm(ctx);
  try {
    for (const lang of ["en", "de", "fr"]) {
      const a = await run(fsm, origin, GET("/v", `Accept-Language: ${lang}\r\n`));
      assertEquals([a.r.body, a.ex.out.code], [`in ${lang}`, "TCP_MISS"]);
    }
    assertEquals((await store.variants(cacheKey(`${origin.url}/v`))).length, 3);
    for (const lang of ["fr", "de", "en"]) {
      const b = await run(fsm, origin, GET("/v", `Accept-Language: ${lang}\r\n`));
      assertEquals([b.r.body, b.ex.out.code], [`in ${lang}`, "TCP_MEM_HIT"]);
    }
    assertEquals(origin.seen.length, 3);
    vanish = (await store.variants(cacheKey(`${origin.url}/v`))).find((m) => m.variant.includes("de"))!.variant;
    const c = await run(fsm, origin, GET("/v", "Accept-Language: de\r\n"));
    assertEquals([c.r.body, c.ex.out.code], ["in de", "TCP_MISS"]);
    assertEquals(origin.seen.length, 4);
    await fsm.settle();
  } finally {
    pool.close();
    await origin.close();
  }
});
