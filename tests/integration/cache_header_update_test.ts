/**
 * Stored header updates over real sockets (RFC 9111 §3.2, §4.3.4, §4.3.5): a 304 and a HEAD 200
 * from the origin replace the stored response's end-to-end fields, never its framing or coding
 * fields, and never hop-by-hop ones.
 */
import { assert, assertEquals } from "../_assert.ts";
import { RawOrigin, readRequestHead, request, sleep, startCache, writeText } from "./_cache_harness.ts";
import { cacheKey } from "../../cache/semantics/mod.ts";

Deno.test("cache header update: a 304's fields replace the stored ones; Content-Length, Content-Encoding and hop-by-hop fields do not", async () => {
  const seen: string[] = [];
  const origin = new RawOrigin(async (conn) => {
    while (true) {
      const head = await readRequestHead(conn);
      if (!head) return;
      seen.push(head);
      if (seen.length === 1) {
        await writeText(
          conn,
          'HTTP/1.1 200 OK\r\nCache-Control: max-age=1\r\nETag: "e1"\r\nContent-Type: text/plain\r\n' +
            "X-Version: 1\r\nContent-Length: 11\r\n\r\nhello world",
        );
      } else {
        await writeText(
          conn,
          'HTTP/1.1 304 Not Modified\r\nCache-Control: max-age=600\r\nETag: "e1"\r\n' +
            "Content-Type: text/plain; charset=utf-8\r\nExpires: Fri, 01 Jan 2100 00:00:00 GMT\r\nX-Version: 2\r\n" +
            "Set-Cookie: seen=1\r\nContent-Encoding: br\r\nContent-Length: 0\r\nConnection: keep-alive, X-Hop\r\n" +
            "X-Hop: secret\r\nKeep-Alive: timeout=5\r\n\r\n",
        );
      }
    }
  });
  const c = startCache({ defaultOrigin: origin.url });
  try {
    assertEquals((await request(c.port, "/u")).text, "hello world");
    await sleep(2100);
    const r = await request(c.port, "/u");
    assert(seen[1].toLowerCase().includes('if-none-match: "e1"'), seen[1]);
    assertEquals(r.status, 200);
    assert(r.headers.get("x-cache")?.startsWith("REVALIDATED"), r.headers.get("x-cache") ?? "");
    assertEquals(r.text, "hello world");
    assertEquals(r.headers.get("content-length"), "11");
    assertEquals(r.headers.get("content-type"), "text/plain; charset=utf-8");
    assertEquals(r.headers.get("cache-control"), "max-age=600");
    assertEquals(r.headers.get("expires"), "Fri, 01 Jan 2100 00:00:00 GMT");
    assertEquals(r.headers.get("x-version"), "2");
    assertEquals(r.headers.get("content-encoding"), null, "the 304 must not re-label the stored body's coding");
    assertEquals([r.headers.get("x-hop"), r.headers.get("keep-alive")], [null, null]);
    // The response with Set-Cookie is still stored and updated, but the cookie is not kept: what is
    // stored is served to other clients.
    const [meta] = await c.service.store.variants(cacheKey("http://test.example/u"));
    assertEquals(meta.headers.filter(([k]) => k === "set-cookie").map(([, v]) => v), []);
    assertEquals(r.headers.get("set-cookie"), null, "a revalidated hit is served from storage");
    assertEquals(meta.headers.filter(([k]) => ["content-length", "content-encoding", "x-hop"].includes(k)), []);
    // Fresh for 600 s now: a hit, the origin is not asked again.
    const hit = await request(c.port, "/u");
    assert(hit.headers.get("x-cache")?.startsWith("HIT"), hit.headers.get("x-cache") ?? "");
    assertEquals([hit.headers.get("x-version"), seen.length], ["2", 2]);
  } finally {
    await c.close();
    await origin.close();
  }
});

Deno.test("cache header update: a HEAD answer updates the stored GET (same ETag) or drops it (another ETag)", async () => {
  let etag = '"h1"';
  let cc = "max-age=1";
  const methods: string[] = [];
  const origin = new RawOrigin(async (conn) => {
    while (true) {
      const head = await readRequestHead(conn);
      if (!head) return;
      const method = head.slice(0, head.indexOf(" "));
      methods.push(method);
      const body = `body ${etag}`;
      await writeText(
        conn,
        `HTTP/1.1 200 OK\r\nCache-Control: ${cc}\r\nETag: ${etag}\r\nContent-Type: text/plain\r\n` +
          `X-Seen: ${methods.length}\r\nContent-Length: ${body.length}\r\n\r\n${method === "HEAD" ? "" : body}`,
      );
    }
  });
  const c = startCache({ defaultOrigin: origin.url });
  try {
    assertEquals((await request(c.port, "/h")).text, 'body "h1"');
    await sleep(2100);
    cc = "max-age=600";
    const h = await request(c.port, "/h", { method: "HEAD", headers: { "cache-control": "no-store" } });
    assertEquals([h.status, methods[1]], [200, "HEAD"]);
    const hit = await request(c.port, "/h");
    assert(hit.headers.get("x-cache")?.startsWith("HIT"), `updated by the HEAD: ${hit.headers.get("x-cache")}`);
    assertEquals([hit.text, hit.headers.get("x-seen"), hit.headers.get("cache-control")], [
      'body "h1"',
      "2",
      "max-age=600",
    ]);
    // The representation changes: a HEAD shows another ETag, so the stored GET is dropped.
    etag = '"h2"';
    await request(c.port, "/h", { method: "HEAD", headers: { "cache-control": "no-cache, no-store" } });
    const again = await request(c.port, "/h");
    assertEquals(again.text, 'body "h2"');
    assert(again.headers.get("x-cache")?.startsWith("MISS"), again.headers.get("x-cache") ?? "");
    assertEquals(methods, ["GET", "HEAD", "HEAD", "GET"]);
  } finally {
    await c.close();
    await origin.close();
  }
});

Deno.test("cache header update: a 304 with a strong ETag freshens every stored variant with it, not only the one asked for", async () => {
  let n = 0;
  const origin = new RawOrigin(async (conn) => {
    while (true) {
      const head = await readRequestHead(conn);
      if (!head) return;
      n++;
      const lang = /accept-language: (\w+)/i.exec(head)?.[1] ?? "en";
      if (/if-none-match: "same"/i.test(head)) {
        await writeText(conn, 'HTTP/1.1 304 Not Modified\r\nETag: "same"\r\nCache-Control: max-age=600\r\n\r\n');
      } else {
        await writeText(
          conn,
          'HTTP/1.1 200 OK\r\nCache-Control: max-age=1\r\nETag: "same"\r\nVary: Accept-Language\r\n' +
            `Content-Length: 2\r\n\r\n${lang}`,
        );
      }
    }
  });
  const c = startCache({ defaultOrigin: origin.url });
  try {
    assertEquals((await request(c.port, "/v", { headers: { "accept-language": "en" } })).text, "en");
    assertEquals((await request(c.port, "/v", { headers: { "accept-language": "fr" } })).text, "fr");
    await sleep(2100);
    const en = await request(c.port, "/v", { headers: { "accept-language": "en" } });
    assert(en.headers.get("x-cache")?.startsWith("REVALIDATED"), en.headers.get("x-cache") ?? "");
    assertEquals(n, 3);
    const fr = await request(c.port, "/v", { headers: { "accept-language": "fr" } });
    assertEquals(fr.text, "fr");
    assert(fr.headers.get("x-cache")?.startsWith("HIT"), `fr freshened by en's 304: ${fr.headers.get("x-cache")}`);
    assertEquals(n, 3);
  } finally {
    await c.close();
    await origin.close();
  }
});
