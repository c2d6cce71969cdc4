/**
 * Bad input and faults: malformed requests (400), oversized heads (431), request smuggling
 * attempts, origin refused/timeouts/garbage (502/504), slow clients, keep-alive and pipelining.
 */
import { assert, assertEquals, assertMatch } from "../_assert.ts";
import {
  cacheable,
  parseRaw,
  rawExchange,
  RawOrigin,
  readRequestHead,
  request,
  sleep,
  startCache,
  TestOrigin,
  writeText,
} from "./_cache_harness.ts";

const enc = (s: string) => new TextEncoder().encode(s);

Deno.test("cache errors: malformed and smuggling requests are rejected before reaching the origin", async () => {
  const origin = new TestOrigin(() => cacheable("x"));
  const c = startCache({ defaultOrigin: origin.url, maxHeaderBytes: 2048 });
  const table: { name: string; raw: string; status: number }[] = [
    { name: "garbage request line", raw: "HELLO\r\n\r\n", status: 400 },
    { name: "space in target", raw: "GET /a b HTTP/1.1\r\nHost: x\r\n\r\n", status: 400 },
    { name: "HTTP/1.1 without Host", raw: "GET / HTTP/1.1\r\n\r\n", status: 400 },
    { name: "two Host fields", raw: "GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", status: 400 },
    { name: "space before colon", raw: "GET / HTTP/1.1\r\nHost : x\r\n\r\n", status: 400 },
    { name: "obs-fold", raw: "GET / HTTP/1.1\r\nHost: x\r\nX-A: 1\r\n 2\r\n\r\n", status: 400 },
    { name: "HTTP/2.0 in text", raw: "GET / HTTP/2.0\r\nHost: x\r\n\r\n", status: 505 },
    {
      name: "Content-Length and Transfer-Encoding",
      raw: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
      status: 400,
    },
    {
      name: "two different Content-Lengths",
      raw: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nContent-Length: 5\r\n\r\nabcde",
      status: 400,
    },
    {
      name: "Transfer-Encoding not ending in chunked",
      raw: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
      status: 400,
    },
    {
      name: "header section above maxHeaderBytes",
      raw: `GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(3000)}\r\n\r\n`,
      status: 431,
    },
  ];
  try {
    for (const row of table) {
      const r = parseRaw(await rawExchange(c.port, enc(row.raw)));
      assertEquals(r.status, row.status, row.name);
      assertEquals(r.headers.get("connection"), "close", row.name);
    }
    assertEquals(origin.count(), 0);
    // Repeated equal Content-Length values are fine.
    const ok = parseRaw(
      await rawExchange(
        c.port,
        enc("POST /p HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\nConnection: close\r\n\r\nabc"),
      ),
    );
    assertEquals(ok.status, 200);
    assertEquals(origin.seen[0].body, "abc");
  } finally {
    await c.close();
    await origin.close();
  }
});

Deno.test("cache errors: refused origin gives 502, a silent origin 504, a garbage answer 502", async () => {
  const silent = new RawOrigin(async (conn) => {
    await readRequestHead(conn);
    await sleep(1500);
  });
  const garbage = new RawOrigin(async (conn) => {
    await readRequestHead(conn);
    await writeText(conn, "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
  });
  const refused = startCache({ defaultOrigin: "http://127.0.0.1:1" });
  const slow = startCache({ defaultOrigin: silent.url, origin: { readTimeoutMs: 300 } });
  const bad = startCache({ defaultOrigin: garbage.url });
  try {
    const r1 = await request(refused.port, "/");
    assertEquals(r1.status, 502);
    assertEquals(refused.service.stats().counters.originFailures.refused > 0, true);
    const t0 = Date.now();
    const r2 = await request(slow.port, "/");
    assertEquals(r2.status, 504);
    assert(Date.now() - t0 < 1400, "answered at the read timeout");
    const r3 = await request(bad.port, "/");
    assertEquals(r3.status, 502);
  } finally {
    await refused.close();
    await slow.close();
    await bad.close();
    await silent.close();
    await garbage.close();
  }
});

Deno.test("cache errors: a slow client does not block others and is cut off at the header timeout", async () => {
  const origin = new TestOrigin(() => cacheable("fast"));
  const c = startCache({ defaultOrigin: origin.url, client: { headerTimeoutMs: 300 } });
  const slowConn = await Deno.connect({ hostname: "127.0.0.1", port: c.port });
  try {
    await writeText(slowConn, "GET /slow HTTP/1.1\r\nHo"); // and then nothing
    const t0 = Date.now();
    const r = await request(c.port, "/fast");
    assertEquals(r.text, "fast");
    assert(Date.now() - t0 < 250, "not blocked by the slow client");
    const buf = new Uint8Array(100);
    const n = await slowConn.read(buf).catch(() => null);
    assertEquals(n, null, "the slow client was disconnected");
    assert(Date.now() - t0 >= 200);
  } finally {
    slowConn.close();
    await c.close();
    await origin.close();
  }
});

Deno.test("cache errors: keep-alive and pipelined requests are answered in order on one connection", async () => {
  const origin = new TestOrigin((req) => cacheable(`body of ${new URL(req.url).pathname}`));
  const c = startCache({ defaultOrigin: origin.url });
  try {
    const pipelined = "GET /one HTTP/1.1\r\nHost: x\r\n\r\n" +
      "GET /two HTTP/1.1\r\nHost: x\r\n\r\n" +
      "GET /one HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    const all = new TextDecoder().decode(await rawExchange(c.port, enc(pipelined)));
    const bodies = [...all.matchAll(/body of \/(one|two)/g)].map((m) => m[0]);
    assertEquals(bodies, ["body of /one", "body of /two", "body of /one"]);
    assertMatch(all, /x-cache: HIT from testcache/);
    // HTTP/1.0 without keep-alive closes; with keep-alive stays open.
    const r10 = new TextDecoder().decode(await rawExchange(c.port, enc("GET /one HTTP/1.0\r\nHost: x\r\n\r\n")));
    assertMatch(r10, /connection: close/);
  } finally {
    await c.close();
    await origin.close();
  }
});

Deno.test("cache errors: a chunked request body is forwarded to the origin", async () => {
  const origin = new TestOrigin(() => new Response("ok"));
  const c = startCache({ defaultOrigin: origin.url });
  try {
    const raw = "PUT /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
      "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    const r = parseRaw(await rawExchange(c.port, enc(raw)));
    assertEquals(r.status, 200);
    assertEquals(origin.seen[0].body, "hello world");
  } finally {
    await c.close();
    await origin.close();
  }
});

Deno.test("cache errors: idle origin connections the origin closed are retried on a new connection", async () => {
  let conns = 0;
  const origin = new RawOrigin(async (conn) => {
    conns++;
    const head = await readRequestHead(conn);
    if (!head) return;
    await sleep(100); // keep the five first requests in flight together
    await writeText(conn, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nCache-Control: no-store\r\n\r\nok");
    await sleep(30); // then close the idle keep-alive connection, as origins do after their timeout
  });
  const c = startCache({ defaultOrigin: origin.url });
  try {
    const first = await Promise.all(Array.from({ length: 5 }, (_, i) => request(c.port, `/p${i}`)));
    for (const r of first) assertEquals(r.status, 200);
    await sleep(100); // five stale connections sit in the pool now
    const r = await request(c.port, "/after");
    assertEquals(r.status, 200);
    assertEquals(r.text, "ok");
    assert(conns >= 6, `a new connection was opened (${conns})`);
  } finally {
    await c.close();
    await origin.close();
  }
});
