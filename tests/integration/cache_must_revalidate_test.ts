/**
 * must-revalidate and proxy-revalidate on a stale response over real sockets (RFC 9111 §4.2.4,
 * §5.2.2.2, §5.2.2.8): never served without a successful validation, whatever stale-while-revalidate,
 * stale-if-error, max-stale or `cache.staleIfErrorS` allow for other responses.
 */
import { assert, assertEquals } from "../_assert.ts";
import { request, sleep, startCache, TestOrigin } from "./_cache_harness.ts";

/** An origin whose answers a test switches: "ok" (fresh 200 or 304 to a matching validator), "503", "down". */
function switchable(cacheControl: string) {
  const state = { mode: "ok" as "ok" | "503", version: 1 };
  const origin = new TestOrigin((req) => {
    if (state.mode === "503") return new Response("down", { status: 503 });
    const etag = `"v${state.version}"`;
    if (req.headers.get("if-none-match") === etag) {
      return new Response(null, { status: 304, headers: { etag, "cache-control": cacheControl } });
    }
    return new Response(`body ${state.version}`, { headers: { etag, "cache-control": cacheControl } });
  });
  return { origin, state };
}

for (const directive of ["must-revalidate", "proxy-revalidate"]) {
  Deno.test(`cache ${directive}: stale-while-revalidate does not serve it stale; the validation goes out first`, async () => {
    const { origin, state } = switchable(`max-age=1, stale-while-revalidate=600, ${directive}`);
    const c = startCache({ defaultOrigin: origin.url });
    try {
      assertEquals((await request(c.port, "/swr")).text, "body 1");
      await sleep(2100); // stale now
      state.version = 2;
      const r = await request(c.port, "/swr");
      assertEquals(r.text, "body 2", "the changed body, not the stale one");
      assertEquals(origin.seen[1].headers.get("if-none-match"), '"v1"');
      assert(r.headers.get("x-cache")?.startsWith("MISS"), r.headers.get("x-cache") ?? "");
    } finally {
      await c.close();
      await origin.close();
    }
  });

  Deno.test(`cache ${directive}: an origin error is passed on despite stale-if-error and cache.staleIfErrorS`, async () => {
    const { origin, state } = switchable(`max-age=1, stale-if-error=600, ${directive}`);
    const c = startCache({ defaultOrigin: origin.url, staleIfErrorS: 3600 });
    try {
      assertEquals((await request(c.port, "/sie")).text, "body 1");
      await sleep(2100);
      state.mode = "503";
      const r = await request(c.port, "/sie", { headers: { "cache-control": "max-stale=600, stale-if-error=600" } });
      assertEquals([r.status, r.text], [503, "down"]);
      assertEquals(origin.seen[1].headers.get("if-none-match"), '"v1"', "a conditional request went out");
      // The origin recovers with a 304: the stored response is validated and served again.
      state.mode = "ok";
      const ok = await request(c.port, "/sie");
      assertEquals([ok.status, ok.text, ok.headers.get("x-cache")?.startsWith("REVALIDATED")], [200, "body 1", true]);
    } finally {
      await c.close();
      await origin.close();
    }
  });

  Deno.test(`cache ${directive}: origin down answers 504; a plain stale response is served under cache.staleIfErrorS`, async () => {
    const { origin } = switchable(`max-age=1, ${directive}`);
    const plain = new TestOrigin(() =>
      new Response("plain body", { headers: { etag: '"p"', "cache-control": "max-age=1" } })
    );
    const strict = startCache({ defaultOrigin: origin.url, staleIfErrorS: 3600 });
    const lenient = startCache({ defaultOrigin: plain.url, staleIfErrorS: 3600 });
    try {
      assertEquals((await request(strict.port, "/down")).text, "body 1");
      assertEquals((await request(lenient.port, "/down")).text, "plain body");
      await origin.close();
      await plain.close();
      await sleep(2100);
      const r = await request(strict.port, "/down");
      assertEquals(r.status, 504);
      assert(!r.text.includes("body 1"), r.text);
      const s = await request(lenient.port, "/down");
      assertEquals([s.status, s.text], [200, "plain body"]);
      assert(s.headers.get("x-cache")?.startsWith("STALE"), s.headers.get("x-cache") ?? "");
    } finally {
      await strict.close();
      await lenient.close();
      await origin.close().catch(() => {});
      await plain.close().catch(() => {});
    }
  });
}
