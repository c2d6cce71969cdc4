import { assert, assertEquals } from "../tests/_assert.ts";
import { HeaderList } from "../http/header_list.ts";
import { OriginPool } from "../http/origin_client.ts";
import type { FetchPlan } from "./fetch_plan.ts";
import { FetchStage, WHOLE_BODY_BYTES } from "./fetch_stage.ts";
import type { Inflight } from "./inflight.ts";
import { cacheKey } from "./semantics/mod.ts";
import type { StoredMeta } from "./store/store.ts";
import { rawResponse, ScriptedOrigin, testConfig, testStore } from "./_test_kit.ts";

const dec = new TextDecoder();

function plan(origin: ScriptedOrigin, path: string, over: Partial<FetchPlan> = {}): FetchPlan {
  const url = `${origin.url}${path}`;
  return {
    method: "GET",
    url,
    primary: cacheKey(url),
    origin: { hostname: "127.0.0.1", port: origin.port },
    host: `127.0.0.1:${origin.port}`,
    path,
    headers: [["host", `127.0.0.1:${origin.port}`]],
    reqHeaders: new HeaderList([["host", "example.test"]]),
    store: true,
    ...over,
  };
}

async function readAll(f: Inflight, slot?: object): Promise<string> {
  let s = "";
  for await (const c of f.read(slot)) s += dec.decode(c, { stream: true });
  return s;
}

async function withStage(
  script: ConstructorParameters<typeof ScriptedOrigin>[0],
  fn: (
    stage: FetchStage,
    origin: ScriptedOrigin,
    store: ReturnType<typeof testStore>,
    invalidated: string[][],
  ) => Promise<void>,
  config = testConfig(),
) {
  const origin = new ScriptedOrigin(script);
  const store = testStore();
  const pool = new OriginPool({ connectTimeoutMs: 1000, readTimeoutMs: 3000, maxIdlePerHost: 4 });
  const invalidated: string[][] = [];
  const invalidate = async (keys: string[]) => {
    invalidated.push(keys);
    let n = 0;
    for (const k of keys) n += await store.delete(k);
    return n;
  };
  const stage = new FetchStage({ store, pool, config, invalidate });
  try {
    await fn(stage, origin, store, invalidated);
  } finally {
    pool.close();
    await origin.close();
  }
}

const source = () => ({ hierarchy: "", peer: "" });

Deno.test("FetchStage: a small response is stored whole (Date added, Content-Length dropped) and read by the leader", async () => {
  await withStage(() => rawResponse(200, [["cache-control", "max-age=60"]], "small"), async (stage, origin, store) => {
    const p = plan(origin, "/s");
    const src = source();
    const { f, slot, task } = stage.start(p, { lead: true, leaderReads: true, source: src });
    assertEquals(stage.joinable(p.primary), f);
    const head = await f.waitHead();
    assertEquals([head?.status, head?.shareable, head?.bodyBytes], [200, true, 5]);
    assertEquals(await readAll(f, slot), "small");
    f.unreserve(slot!);
    await task;
    assertEquals([src.hierarchy, src.peer], ["HIER_DIRECT", "127.0.0.1"]);
    assertEquals(stage.joinable(p.primary), undefined, "leadership released when done");
    const obj = await store.get({ primary: p.primary, variant: "" });
    assertEquals(dec.decode(obj!.body!), "small");
    const names = obj!.meta.headers.map(([k]) => k);
    assert(names.includes("date"), "Date added");
    assert(!names.includes("content-length"), "Content-Length not stored");
  });
});

Deno.test("FetchStage: a small body that came with its head is complete when the head's waiters resume (one write, no iteration)", async () => {
  await withStage(() => rawResponse(200, [["cache-control", "max-age=60"]], "small"), async (stage, origin) => {
    for (const path of ["/w1", "/w2"]) { // a new connection, then a pooled one
      const p = plan(origin, path);
      const { f, slot, task } = stage.start(p, { lead: true, leaderReads: true, source: source() });
      const head = await f.waitHead();
      assertEquals(head?.status, 200);
      // serve_inflight.ts sends head and body in one write only when the body is complete here.
      assertEquals(dec.decode(f.completeBody()), "small");
      f.unreserve(slot!);
      await task;
    }
  });
});

Deno.test("FetchStage: a chunked body above WHOLE_BODY_BYTES streams into the store", async () => {
  const big = "x".repeat(WHOLE_BODY_BYTES * 2 + 17);
  const chunked = (s: string) => {
    let out = "";
    for (let i = 0; i < s.length; i += 10_000) {
      const c = s.slice(i, i + 10_000);
      out += `${c.length.toString(16)}\r\n${c}\r\n`;
    }
    return out + "0\r\n\r\n";
  };
  await withStage(
    () => `HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\ntransfer-encoding: chunked\r\n\r\n${chunked(big)}`,
    async (stage, origin, store) => {
      const p = plan(origin, "/big");
      const { f, slot, task } = stage.start(p, { lead: true, leaderReads: true, source: source() });
      await f.waitHead();
      assertEquals((await readAll(f, slot)).length, big.length);
      f.unreserve(slot!);
      await task;
      const obj = await store.get({ primary: p.primary, variant: "" });
      assertEquals(obj?.meta.bodyBytes, big.length);
      assert(!obj!.meta.headers.some(([k]) => k === "transfer-encoding"));
    },
  );
});

Deno.test("FetchStage: a response above maxObjectBytes streams to the reader but is not stored", async () => {
  await withStage(
    () => rawResponse(200, [["cache-control", "max-age=60"]], "0123456789"),
    async (stage, origin, store) => {
      const p = plan(origin, "/large");
      const { f, slot, task } = stage.start(p, { lead: true, leaderReads: true, source: source() });
      const head = await f.waitHead();
      assertEquals(head?.shareable, false);
      assertEquals(await readAll(f, slot), "0123456789");
      f.unreserve(slot!);
      await task;
      assertEquals(await store.variants(p.primary), []);
    },
    testConfig({ maxObjectBytes: 5 }),
  );
});

Deno.test("FetchStage: a body cut short fails the inflight and stores nothing", async () => {
  await withStage(
    () => ({
      raw: "HTTP/1.1 200 OK\r\ncache-control: max-age=60\r\ncontent-length: 100\r\n\r\nonly-part",
      close: true,
    }),
    async (stage, origin, store) => {
      const p = plan(origin, "/cut");
      const { f, slot, task } = stage.start(p, { lead: true, leaderReads: true, source: source() });
      await f.waitHead();
      await readAll(f, slot).catch(() => {});
      f.unreserve(slot!);
      await task;
      assert(f.error, "inflight failed");
      assertEquals(await store.variants(p.primary), []);
    },
  );
});

Deno.test("FetchStage: an unreachable origin fails the inflight; the task never rejects and leadership is released", async () => {
  const store = testStore();
  const pool = new OriginPool({ connectTimeoutMs: 1000, readTimeoutMs: 1000, maxIdlePerHost: 1 });
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close(); // nothing listens there now
  try {
    const stage = new FetchStage({ store, pool, config: testConfig(), invalidate: () => Promise.resolve(0) });
    const url = `http://127.0.0.1:${port}/x`;
    const p: FetchPlan = {
      method: "GET",
      url,
      primary: cacheKey(url),
      origin: { hostname: "127.0.0.1", port },
      host: `127.0.0.1:${port}`,
      path: "/x",
      headers: [],
      reqHeaders: new HeaderList([]),
      store: true,
    };
    const { f, task } = stage.start(p, { lead: true, leaderReads: false, source: source() });
    assertEquals(await f.waitHead(), undefined);
    await task;
    assert(f.error);
    assertEquals(stage.joinable(p.primary), undefined);
  } finally {
    pool.close();
  }
});

/** Stores an object for `p` directly, as a stale response with ETag "v1". */
function putStale(store: ReturnType<typeof testStore>, p: FetchPlan, extra: [string, string][] = []): StoredMeta {
  const now = Date.now();
  const meta: StoredMeta = {
    primary: p.primary,
    variant: "",
    status: 200,
    headers: [["cache-control", "max-age=0"], ["etag", '"v1"'], ["content-type", "text/plain"], ...extra],
    vary: [],
    requestTime: now - 10_000,
    responseTime: now - 10_000,
    expiresAt: now - 10_000,
    bodyBytes: 3,
  };
  store.put(meta, new TextEncoder().encode("old"));
  return meta;
}

Deno.test("FetchStage: a 304 to a revalidation freshens the stored headers and publishes not-modified", async () => {
  await withStage(
    () => rawResponse(304, [["cache-control", "max-age=120"], ["etag", '"v1"'], ["x-new", "yes"]]),
    async (stage, origin, store) => {
      const p = plan(origin, "/rv");
      const meta = putStale(store, p);
      p.revalidating = meta;
      p.headers.push(["if-none-match", '"v1"']);
      const { f, task } = stage.start(p, { lead: true, leaderReads: false, source: source() });
      const head = await f.waitHead();
      await task;
      assertEquals(head?.kind, "not-modified");
      assertEquals(origin.seen[0].headers.get("if-none-match"), '"v1"');
      const obj = await store.get({ primary: p.primary, variant: "" });
      assertEquals(dec.decode(obj!.body!), "old");
      assertEquals(obj!.meta.headers.find(([k]) => k === "x-new")?.[1], "yes");
      assertEquals(obj!.meta.headers.find(([k]) => k === "cache-control")?.[1], "max-age=120");
      assert(obj!.meta.expiresAt > Date.now() + 100_000);
    },
  );
});

Deno.test("FetchStage: a 304 that changes Vary drops the URL's variants and refetches without conditions", async () => {
  await withStage(
    (_req, n) =>
      n === 1
        ? rawResponse(304, [["cache-control", "max-age=60"], ["etag", '"v1"'], ["vary", "accept-language"]])
        : rawResponse(200, [["cache-control", "max-age=60"], ["etag", '"v1"'], ["vary", "accept-language"]], "new"),
    async (stage, origin, store, invalidated) => {
      const p = plan(origin, "/vary");
      p.revalidating = putStale(store, p);
      p.headers.push(["if-none-match", '"v1"']);
      const { f, slot, task } = stage.start(p, { lead: true, leaderReads: true, source: source() });
      const head = await f.waitHead();
      assertEquals([head?.kind, head?.status], ["response", 200]);
      assertEquals(await readAll(f, slot), "new");
      f.unreserve(slot!);
      await task;
      assertEquals(invalidated, [[p.primary]]);
      assertEquals(origin.seen[1].headers.get("if-none-match"), null);
      const variants = await store.variants(p.primary);
      assertEquals(variants.map((m) => m.vary), [["accept-language"]]);
    },
  );
});

Deno.test("FetchStage: a 5xx answering a revalidation is never stored over the stale object", async () => {
  await withStage(() => rawResponse(503, [["cache-control", "max-age=60"]], "down"), async (stage, origin, store) => {
    const p = plan(origin, "/5xx");
    p.revalidating = putStale(store, p);
    const { f, task } = stage.start(p, { lead: true, leaderReads: false, source: source() });
    const head = await f.waitHead();
    await task;
    assertEquals([head?.status, head?.shareable], [503, false]);
    const obj = await store.get({ primary: p.primary, variant: "" });
    assertEquals(dec.decode(obj!.body!), "old");
  });
});
