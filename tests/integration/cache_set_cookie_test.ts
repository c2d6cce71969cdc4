/**
 * A client's Set-Cookie never reaches another client (issue #14 item 3): responses served from
 * storage — fast hits, other hits, 304s and HEADs from storage, revalidated hits, collapsed clients
 * that did not cause the fetch — carry no Set-Cookie or Set-Cookie2, even when the origin said
 * `public`; the client whose request went to the origin gets its cookie. Requests with
 * Authorization follow RFC 9111 §3.5.
 */
import { assert, assertEquals } from "../_assert.ts";
import { keepAliveGet, RecordingOrigin, request, startCache } from "./_cache_harness.ts";

const cookies = (r: { head: string }) => r.head.split("\r\n").filter((l) => /^set-cookie2?:/i.test(l));

Deno.test("Set-Cookie: only the client that caused the fetch gets it; hits of every kind drop it", async () => {
  const origin = new RecordingOrigin((_r, n) => ({
    headers: [
      ["cache-control", "public, max-age=60"],
      ["etag", '"v1"'],
      ["set-cookie", `session=${n}; Path=/`],
      ["set-cookie2", `legacy=${n}`],
      ["content-type", "text/plain"],
    ],
    body: "shared page",
  }));
  const c = startCache({ defaultOrigin: origin.url });
  try {
    const first = await request(c.port, "/p");
    assertEquals(first.headers.get("x-cache"), "MISS from testcache");
    assertEquals(cookies(first), ["set-cookie: session=1; Path=/", "set-cookie2: legacy=1"]);
    const hits = [
      ["fast hit", await keepAliveGet(c.port, "/p")],
      ["hit", await request(c.port, "/p")],
      ["hit with request Cache-Control", await request(c.port, "/p", { headers: { "cache-control": "max-stale=5" } })],
      ["HEAD hit", await request(c.port, "/p", { method: "HEAD" })],
      ["304 from storage", await request(c.port, "/p", { headers: { "if-none-match": '"v1"' } })],
      ["206 from storage", await request(c.port, "/p", { headers: { range: "bytes=0-3" } })],
      ["other spelling", await request(c.port, "/x/../p")],
    ] as const;
    for (const [name, r] of hits) {
      assert(r.status === 200 || r.status === 304 || r.status === 206, `${name}: status ${r.status}`);
      assert(/^HIT/.test(r.headers.get("x-cache") ?? ""), `${name}: ${r.headers.get("x-cache")}`);
      assertEquals(cookies(r), [], name);
    }
    assertEquals(origin.seen.length, 1);
  } finally {
    await c.close();
    await origin.close();
  }
});

Deno.test("Set-Cookie: a revalidated hit carries neither the stored nor the 304's cookie", async () => {
  const origin = new RecordingOrigin((r, n) =>
    r.headers.get("if-none-match") === '"v1"'
      ? { status: 304, headers: [["etag", '"v1"'], ["set-cookie", `from304=${n}`]] }
      : {
        headers: [["cache-control", "public, max-age=0, must-revalidate"], ["etag", '"v1"'], ["set-cookie", `s=${n}`]],
        body: "revalidated page",
      }
  );
  const c = startCache({ defaultOrigin: origin.url });
  try {
    assertEquals(cookies(await request(c.port, "/rv")), ["set-cookie: s=1"]);
    for (let i = 0; i < 2; i++) {
      const r = await request(c.port, "/rv");
      assertEquals(r.headers.get("x-cache"), "REVALIDATED from testcache");
      assertEquals(r.text, "revalidated page");
      assertEquals(cookies(r), []);
    }
    assertEquals(origin.seen.length, 3);
  } finally {
    await c.close();
    await origin.close();
  }
});

Deno.test("Set-Cookie: of collapsed clients only the one whose request went to the origin gets it", async () => {
  const origin = new RecordingOrigin((_r, n) => ({
    headers: [["cache-control", "public, max-age=60"], ["set-cookie", `session=${n}`]],
    body: "collapsed page",
    delayMs: 400,
  }));
  const c = startCache({ defaultOrigin: origin.url });
  try {
    const all = await Promise.all([0, 1, 2, 3].map((i) => request(c.port, "/c", { timeoutMs: 10000 + i })));
    assertEquals(origin.seen.length, 1);
    for (const r of all) assertEquals(r.text, "collapsed page");
    const withCookie = all.filter((r) => cookies(r).length > 0);
    assertEquals(withCookie.length, 1);
    assertEquals(cookies(withCookie[0]), ["set-cookie: session=1"]);
  } finally {
    await c.close();
    await origin.close();
  }
});

Deno.test("Authorization: answers to authenticated requests are shared only as RFC 9111 §3.5 allows", async () => {
  const origin = new RecordingOrigin((r, n) => ({
    headers: r.target.startsWith("/public")
      ? [["cache-control", "public, max-age=60"], ["set-cookie", `user=${r.headers.get("authorization")}`]]
      : [["cache-control", "max-age=60"]],
    body: `answer ${n} for ${r.headers.get("authorization") ?? "anonymous"}`,
  }));
  const c = startCache({ defaultOrigin: origin.url });
  try {
    const alice = await request(c.port, "/private", { headers: { authorization: "Basic YWxpY2U6cw==" } });
    assertEquals(alice.text, "answer 1 for Basic YWxpY2U6cw==");
    const anon = await request(c.port, "/private");
    assertEquals(anon.text, "answer 2 for anonymous"); // alice's answer was not stored
    assertEquals((await request(c.port, "/private")).headers.get("x-cache"), "HIT from testcache");
    // `public` allows sharing; the authenticated client's cookie still stays its own.
    const a2 = await request(c.port, "/public", { headers: { authorization: "Basic YWxpY2U6cw==" } });
    assertEquals(cookies(a2), ["set-cookie: user=Basic YWxpY2U6cw=="]);
    const other = await request(c.port, "/public");
    assertEquals(other.headers.get("x-cache"), "HIT from testcache");
    assertEquals(cookies(other), []);
  } finally {
    await c.close();
    await origin.close();
  }
});

Deno.test("Set-Cookie: copies from a sibling or a parent's hit never carry one; a parent's miss does", async () => {
  const origin = new RecordingOrigin((_r, n) => ({
    headers: [["cache-control", "public, max-age=60"], ["set-cookie", `session=${n}`]],
    body: "sibling page",
  }));
  // A sibling that leaks its stored cookies (not a webcache), and a webcache sibling.
  const leaky = new RecordingOrigin(() => ({
    headers: [["cache-control", "public, max-age=60"], ["set-cookie", "someone-else=1"], ["x-cache", "HIT from leaky"]],
    body: "leaky sibling page",
  }));
  const a = startCache({ defaultOrigin: origin.url }, [{ mode: "accel" }], "cachea");
  const b = startCache({ defaultOrigin: origin.url }, [{ mode: "accel" }], "cacheb");
  const sibling = (port: number, name: string) => ({
    select: () => ({
      kind: "peer" as const,
      name,
      hostname: "127.0.0.1",
      port,
      onlyIfCached: true,
      type: "sibling" as const,
    }),
  });
  try {
    assertEquals(cookies(await request(a.port, "/s")), ["set-cookie: session=1"]);
    b.service.handler.setPeerSelector(sibling(a.port, "cachea"));
    const viaA = await request(b.port, "/s");
    assertEquals(viaA.text, "sibling page");
    assertEquals(cookies(viaA), []);
    b.service.handler.setPeerSelector(sibling(leaky.port, "leaky"));
    const viaLeaky = await request(b.port, "/l");
    assertEquals(viaLeaky.text, "leaky sibling page");
    assertEquals(cookies(viaLeaky), []);
    assertEquals(origin.seen.length, 1);
    // A parent's hit is a stored copy too; a parent's miss was fetched for this client.
    const parent = (port: number) => ({
      select: () => ({
        kind: "peer" as const,
        name: "parent",
        hostname: "127.0.0.1",
        port,
        onlyIfCached: false,
        type: "parent" as const,
      }),
    });
    b.service.handler.setPeerSelector(parent(leaky.port));
    assertEquals(cookies(await request(b.port, "/parent-hit")), []);
    b.service.handler.setPeerSelector(parent(a.port));
    assertEquals(cookies(await request(b.port, "/parent-miss")), ["set-cookie: session=2"]);
  } finally {
    await a.close();
    await b.close();
    await origin.close();
    await leaky.close();
  }
});
