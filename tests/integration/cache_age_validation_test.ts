/**
 * How the cache handler uses the RFC 9111/5861 semantics on relayed and revalidated responses:
 * `Age` on misses, collapsed and passed-through responses (§4.2.3, §5.1), which origin statuses
 * count as errors for `stale-if-error` (RFC 5861 §4), which stored response a 304 freshens
 * (§4.3.3, §4.3.4) and a 304 that changes `Vary` (§4.1).
 */
import { assert, assertEquals } from "../_assert.ts";
import { cacheable, request, sleep, startCache, TestOrigin } from "./_cache_harness.ts";

const HTTP_DATE = (ms: number) => new Date(ms).toUTCString();

async function withCache(
  handler: (req: Request, n: number) => Response | Promise<Response>,
  fn: (port: number, origin: TestOrigin) => Promise<void>,
): Promise<void> {
  const origin = new TestOrigin(handler);
  const c = startCache({ defaultOrigin: origin.url });
  try {
    await fn(c.port, origin);
  } finally {
    await c.service.handler.settle();
    await c.close();
    await origin.close();
  }
}

function age(r: { headers: Headers }): number {
  const v = r.headers.get("age");
  assert(v !== null, "an Age field is sent");
  return Number(v);
}

Deno.test("cache age: misses and collapsed responses carry the corrected initial age and hits count from it", async () => {
  const now = Date.now();
  await withCache(async (req) => {
    const p = new URL(req.url).pathname;
    if (p === "/slow") {
      // A parent cache's copy, 50 s old, that took over a second to arrive: corrected age ≥ 51 s.
      await sleep(1100);
      return cacheable("slow", { age: "50", "cache-control": "max-age=600" });
    }
    // No Age, but a Date 30 s in the past: apparent age 30 s.
    return cacheable("dated", { date: HTTP_DATE(now - 30_000), "cache-control": "max-age=600" });
  }, async (port, origin) => {
    const [a, b] = await Promise.all([request(port, "/slow"), sleep(300).then(() => request(port, "/slow"))]);
    assertEquals(origin.count("/slow"), 1, "the second request was collapsed onto the first");
    assert(age(a) >= 51, `miss Age ${age(a)} includes the response delay`);
    assert(age(b) >= 51, `collapsed Age ${age(b)} includes the response delay`);
    const hit = await request(port, "/slow");
    assertEquals(hit.headers.get("x-cache"), "HIT from testcache");
    assert(age(hit) >= 51, `hit Age ${age(hit)} counts from the corrected initial age`);

    const d = await request(port, "/dated");
    assert(age(d) >= 30 && age(d) < 40, `miss Age ${age(d)} is the apparent age`);
    const dh = await request(port, "/dated");
    assertEquals(dh.headers.get("x-cache"), "HIT from testcache");
    assert(age(dh) >= 30 && age(dh) < 40, `hit Age ${age(dh)} counts from the apparent age`);
  });
});

Deno.test("cache age: passed-through responses keep the upstream Age, corrected by the response delay", async () => {
  await withCache(async (req) => {
    await sleep(1100);
    if (req.method === "POST") return new Response("posted", { headers: { age: "50" } });
    return new Response("ab", {
      status: 206,
      headers: { age: "50", "content-range": "bytes 0-1/10", "cache-control": "max-age=600" },
    });
  }, async (port) => {
    const post = await request(port, "/p", { method: "POST", body: "x" });
    assertEquals(post.text, "posted");
    assert(age(post) >= 51, `POST Age ${age(post)}`);
    const range = await request(port, "/r", { headers: { Range: "bytes=0-1" } });
    assertEquals(range.status, 206);
    assert(age(range) >= 51, `Range pass Age ${age(range)}`);
  });
});

Deno.test("cache stale-if-error: a 501 is relayed, while 500/502/503/504 serve the stale copy (RFC 5861 §4)", async () => {
  let fail = 0;
  await withCache((req) => {
    const status = Number(new URL(req.url).pathname.slice(1));
    if (fail && req.headers.get("if-none-match")) return new Response("origin says " + status, { status });
    return new Response("good", { headers: { "cache-control": "max-age=0, stale-if-error=60", etag: '"g"' } });
  }, async (port) => {
    for (const s of [500, 501, 502, 503, 504]) await request(port, `/${s}`);
    fail = 1;
    for (const s of [500, 502, 503, 504]) {
      const r = await request(port, `/${s}`);
      assertEquals([r.status, r.text, r.headers.get("x-cache")], [200, "good", "STALE from testcache"], `${s}`);
    }
    const r = await request(port, "/501");
    assertEquals(
      [r.status, r.text],
      [501, "origin says 501"],
      "501 Not Implemented is not an error for stale-if-error",
    );
  });
});

Deno.test("cache 304: a 304 whose validator does not match the stored response leads to an unconditional refetch", async () => {
  await withCache((req, n) => {
    if (req.headers.get("if-none-match")) {
      return new Response(null, { status: 304, headers: { etag: '"other"', "cache-control": "max-age=60" } });
    }
    return new Response(`version ${n}`, { headers: { etag: `"e${n}"`, "cache-control": "max-age=0" } });
  }, async (port, origin) => {
    assertEquals((await request(port, "/m")).text, "version 1");
    const b = await request(port, "/m");
    assertEquals(origin.count("/m"), 3, "conditional request, then an unconditional one");
    assertEquals(origin.seen[1].headers.get("if-none-match"), '"e1"');
    assertEquals(origin.seen[2].headers.get("if-none-match"), null);
    assertEquals(origin.seen[2].headers.get("if-modified-since"), null);
    assertEquals([b.status, b.text, b.headers.get("etag")], [200, "version 3", '"e3"']);
  });
});

Deno.test("cache 304: a 304 that changes Vary does not leave the stored response keyed by the old Vary", async () => {
  let varied = false;
  await withCache((req, n) => {
    const lang = req.headers.get("accept-language") ?? "";
    if (!varied) {
      return new Response(`body ${n} ${lang}`, { headers: { etag: '"x"', "cache-control": "max-age=0" } });
    }
    const headers = { etag: '"x"', "cache-control": "max-age=60", vary: "accept-language" };
    if (req.headers.get("if-none-match") === '"x"') return new Response(null, { status: 304, headers });
    return new Response(`body ${n} ${lang}`, { headers });
  }, async (port, origin) => {
    const en = { "Accept-Language": "en" };
    assertEquals((await request(port, "/v", { headers: en })).text, "body 1 en");
    varied = true;
    const b = await request(port, "/v", { headers: en });
    assertEquals(b.status, 200);
    assert(b.text.endsWith(" en"), b.text);
    const seen = origin.count("/v");
    const fr = await request(port, "/v", { headers: { "Accept-Language": "fr" } });
    assertEquals(origin.count("/v"), seen + 1, "another Accept-Language is another variant now");
    assert(fr.text.endsWith(" fr"), `French request got ${JSON.stringify(fr.text)}`);
    const again = await request(port, "/v", { headers: en });
    assertEquals(again.headers.get("x-cache"), "HIT from testcache");
    assert(again.text.endsWith(" en"), again.text);
    assertEquals(origin.count("/v"), seen + 1);
  });
});
