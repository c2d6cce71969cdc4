import { assert, assertEquals, assertRejects, assertThrows } from "../tests/_assert.ts";
import { findHeadEnd, latin1Decode } from "./head_codec.ts";
import {
  isRequestBodyFailure,
  MAX_INTERIM_RESPONSES,
  OriginError,
  OriginPool,
  sweepPeriodMs,
} from "./origin_client.ts";

const TE = new TextEncoder();

/** A raw TCP origin on port 0: `answer` scripts each request on each connection. */
function rawOrigin(answer: (conn: Deno.Conn, head: string, n: number) => Promise<void>) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const tasks: Promise<void>[] = [];
  const conns = new Set<Deno.Conn>();
  let requests = 0;
  let accepted = 0;
  const loop = (async () => {
    for await (const conn of listener) {
      accepted++;
      conns.add(conn);
      tasks.push((async () => {
        const buf = new Uint8Array(16384);
        let have = 0;
        try {
          while (true) {
            const n = await conn.read(buf.subarray(have));
            if (n === null) return;
            have += n;
            const end = findHeadEnd(buf, 0, have);
            if (end === -1) continue;
            const head = latin1Decode(buf.subarray(0, end));
            buf.copyWithin(0, end, have);
            have -= end;
            await answer(conn, head, ++requests);
          }
        } catch {
          /* closed by the test or the client */
        } finally {
          conns.delete(conn);
          try {
            conn.close();
          } catch { /* closed */ }
        }
      })());
    }
  })();
  return {
    to: { hostname: "127.0.0.1", port: listener.addr.port },
    get accepted() {
      return accepted;
    },
    async close() {
      listener.close();
      await loop;
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await Promise.all(tasks);
    },
  };
}

async function write(conn: Deno.Conn, s: string): Promise<void> {
  const b = TE.encode(s);
  let off = 0;
  while (off < b.length) off += await conn.write(b.subarray(off));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const OPTS = { connectTimeoutMs: 1000, readTimeoutMs: 1000, maxIdlePerHost: 4 };

Deno.test("OriginPool readWhole() returns a body that came with its head at once and pools the connection", async () => {
  const origin = rawOrigin((c, _h, n) => write(c, `HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nbody-${n}`));
  const pool = new OriginPool(OPTS);
  try {
    for (const n of [1, 2]) {
      const r = await pool.request(origin.to, { method: "GET", target: "/a", headers: [["host", "h"]] });
      assertEquals(r.framing, { kind: "length", length: 6 });
      const got = r.readWhole();
      assert(!(got instanceof Promise), "no promise for a buffered body");
      assertEquals(latin1Decode(got), `body-${n}`);
      assertEquals(pool.idleCount, 1);
    }
    assertEquals(origin.accepted, 1, "the second request reused the connection");
  } finally {
    pool.close();
    await origin.close();
  }
});

Deno.test("OriginPool readWhole() reads a body sent in several pieces after the head", async () => {
  const body = "x".repeat(50_000);
  const origin = rawOrigin(async (c) => {
    await write(c, `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n\r\n`);
    await sleep(20);
    await write(c, body.slice(0, 20_000));
    await sleep(20);
    await write(c, body.slice(20_000));
  });
  const pool = new OriginPool(OPTS);
  try {
    const r = await pool.request(origin.to, { method: "GET", target: "/a", headers: [["host", "h"]] });
    assertEquals(latin1Decode(await r.readWhole()), body);
    assertEquals(pool.idleCount, 1);
  } finally {
    pool.close();
    await origin.close();
  }
});

Deno.test("OriginPool readWhole() fails with reason reset when the origin cuts the body short", async () => {
  const origin = rawOrigin(async (c) => {
    await write(c, "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly-part");
    c.close();
  });
  const pool = new OriginPool(OPTS);
  try {
    const r = await pool.request(origin.to, { method: "GET", target: "/a", headers: [["host", "h"]] });
    const e = await assertRejects(async () => await r.readWhole(), OriginError, "91 bytes missing");
    assertEquals(e.reason, "reset");
    assertEquals(pool.idleCount, 0, "a broken connection is not pooled");
  } finally {
    pool.close();
    await origin.close();
  }
});

Deno.test("OriginPool readWhole() refuses chunked bodies, which body() reads", async () => {
  const origin = rawOrigin((c) =>
    write(c, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
  );
  const pool = new OriginPool(OPTS);
  try {
    const r = await pool.request(origin.to, { method: "GET", target: "/a", headers: [["host", "h"]] });
    assertThrows(() => r.readWhole(), TypeError, "not length-delimited");
    let text = "";
    for await (const c of r.body()) text += latin1Decode(c);
    assertEquals(text, "abc");
    assertEquals(pool.idleCount, 1);
  } finally {
    pool.close();
    await origin.close();
  }
});

Deno.test("OriginPool times out a silent origin by its sweep, leaving answered requests alone", async () => {
  // Request 1 is never answered; request 2 is answered after 150 ms (within the 300 ms timeout).
  const origin = rawOrigin(async (c, head) => {
    if (head.includes("/silent")) return void await c.read(new Uint8Array(1)); // silent until the client closes
    await sleep(150);
    await write(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
  });
  const pool = new OriginPool({ ...OPTS, readTimeoutMs: 300 });
  try {
    const t0 = Date.now();
    const silent = pool.request(origin.to, { method: "GET", target: "/silent", headers: [["host", "h"]] });
    const answered = pool.request(origin.to, { method: "GET", target: "/ok", headers: [["host", "h"]] });
    const r = await answered;
    assertEquals(latin1Decode(await r.readWhole()), "ok");
    const e = await assertRejects(() => silent, OriginError, "no response head in 300 ms");
    const took = Date.now() - t0;
    assertEquals(e.reason, "timeout");
    assert(took >= 300 && took < 300 + sweepPeriodMs(300) + 250, `timed out after ${took} ms`);
  } finally {
    pool.close();
    await origin.close();
  }
});

Deno.test("sweepPeriodMs() is a quarter of the timeout within 10 and 250 ms", () => {
  for (const [timeout, period] of [[20, 10], [300, 75], [1000, 250], [30_000, 250]]) {
    assertEquals(sweepPeriodMs(timeout), period, `timeout ${timeout}`);
  }
});

Deno.test("OriginPool sends each request's exact bytes on one reused connection, whatever its size and body", async () => {
  // An origin that records each request: the head, then the body its framing announces.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const seen: string[] = [];
  let accepted = 0;
  const served = (async () => {
    for await (const conn of listener) {
      accepted++;
      let data = "";
      const buf = new Uint8Array(65536);
      try {
        while (true) {
          const n = await conn.read(buf);
          if (n === null) break;
          data += latin1Decode(buf.subarray(0, n));
          while (true) {
            const end = data.indexOf("\r\n\r\n");
            if (end === -1) break;
            const head = data.slice(0, end + 4);
            const cl = /content-length: (\d+)/.exec(head);
            let bodyEnd = end + 4 + (cl ? Number(cl[1]) : 0);
            if (/transfer-encoding: chunked/.test(head)) {
              const last = data.indexOf("\r\n0\r\n\r\n", end);
              if (last === -1 && !data.slice(end + 4).startsWith("0\r\n\r\n")) break;
              bodyEnd = last === -1 ? end + 9 : last + 7;
            }
            if (data.length < bodyEnd) break;
            seen.push(data.slice(0, bodyEnd));
            data = data.slice(bodyEnd);
            await write(conn, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
          }
        }
      } finally {
        conn.close();
      }
    }
  })();
  const pool = new OriginPool(OPTS);
  const big = "v".repeat(20_000);
  async function* stream() {
    yield TE.encode("ab");
    yield new Uint8Array(0);
    yield TE.encode("cde");
  }
  const table: { name: string; method: string; headers: [string, string][]; body?: unknown; wire: string }[] = [
    {
      name: "GET, framing fields dropped",
      method: "GET",
      headers: [["host", "h"], ["content-length", "9"], ["x-a", "1"], ["transfer-encoding", "chunked"], ["x-a", "2"]],
      wire: "GET /t HTTP/1.1\r\nhost: h\r\nx-a: 1\r\nx-a: 2\r\n\r\n",
    },
    {
      name: "head larger than the connection's buffer",
      method: "GET",
      headers: [["host", "h"], ["x-big", big]],
      wire: `GET /t HTTP/1.1\r\nhost: h\r\nx-big: ${big}\r\n\r\n`,
    },
    {
      name: "short GET after a long one",
      method: "GET",
      headers: [["host", "h"]],
      wire: "GET /t HTTP/1.1\r\nhost: h\r\n\r\n",
    },
    {
      name: "buffered body",
      method: "POST",
      headers: [["host", "h"], ["content-length", "1"]],
      body: TE.encode("hello"),
      wire: "POST /t HTTP/1.1\r\nhost: h\r\ncontent-length: 5\r\n\r\nhello",
    },
    {
      name: "buffered body larger than the connection's buffer",
      method: "PUT",
      headers: [["host", "h"]],
      body: TE.encode(big),
      wire: `PUT /t HTTP/1.1\r\nhost: h\r\ncontent-length: ${big.length}\r\n\r\n${big}`,
    },
    {
      name: "streamed body",
      method: "POST",
      headers: [["host", "h"]],
      body: stream(),
      wire: "POST /t HTTP/1.1\r\nhost: h\r\ntransfer-encoding: chunked\r\n\r\n2\r\nab\r\n3\r\ncde\r\n0\r\n\r\n",
    },
    {
      name: "ISO-8859-1 value",
      method: "GET",
      headers: [["x-n", "caf\u00e9"]],
      wire: "GET /t HTTP/1.1\r\nx-n: caf\u00e9\r\n\r\n",
    },
  ];
  try {
    for (const row of table) {
      const r = await pool.request({ hostname: "127.0.0.1", port: listener.addr.port }, {
        method: row.method,
        target: "/t",
        headers: row.headers,
        body: row.body as Uint8Array | undefined,
      });
      assertEquals(r.head.status, 200, row.name);
      assertEquals((await r.readWhole()).length, 0);
      assertEquals(seen.at(-1), row.wire, row.name);
    }
    assertEquals(seen.length, table.length);
    assertEquals(accepted, 1, "every request on the same pooled connection");
  } finally {
    pool.close();
    listener.close();
    await served;
  }
});

Deno.test("OriginPool keeps its header-timeout sweep between requests and stops it once nothing waits", async () => {
  const origin = rawOrigin(async (c, _h, n) => {
    if (n === 1) await sleep(60);
    await write(c, "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n");
  });
  const pool = new OriginPool({ ...OPTS, readTimeoutMs: 400 });
  try {
    assertEquals(pool.sweeping, false, "an unused pool has no timer");
    const slow = pool.request(origin.to, { method: "GET", target: "/a", headers: [["host", "h"]] });
    await sleep(20);
    assertEquals(pool.sweeping, true, "a request waits for its head");
    assertEquals((await (await slow).readWhole()).length, 0);
    assertEquals(pool.sweeping, true, "not stopped as soon as the head came");
    const r = await pool.request(origin.to, { method: "GET", target: "/b", headers: [["host", "h"]] });
    assertEquals((await r.readWhole()).length, 0);
    await sleep(sweepPeriodMs(400) * 2 + 50);
    assertEquals(pool.sweeping, false, "stopped by the first sweep that found nothing waiting");
  } finally {
    pool.close();
    await origin.close();
  }
});

Deno.test("OriginPool closes a connection with bytes after the body and marks the response not clean", async () => {
  const table: { name: string; method: string; answer: string; read: "whole" | "stream" | "none" }[] = [
    {
      name: "short Content-Length",
      method: "GET",
      answer: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokX",
      read: "whole",
    },
    {
      name: "chunked with garbage",
      method: "GET",
      answer: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\nX",
      read: "stream",
    },
    { name: "body on HEAD", method: "HEAD", answer: "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", read: "none" },
    { name: "body on 304", method: "GET", answer: "HTTP/1.1 304 Not Modified\r\n\r\nok", read: "none" },
    {
      name: "204 announcing a body",
      method: "GET",
      answer: "HTTP/1.1 204 No Content\r\nContent-Length: 2\r\n\r\n",
      read: "none",
    },
    {
      name: "HTTP/1.0 with Transfer-Encoding",
      method: "GET",
      answer: "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
      read: "stream",
    },
  ];
  for (const row of table) {
    const origin = rawOrigin(async (c, _h, n) => {
      await write(c, n === 1 ? row.answer : "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext");
    });
    const pool = new OriginPool(OPTS);
    try {
      const r = await pool.request(origin.to, { method: row.method, target: "/a", headers: [["host", "h"]] });
      if (row.read === "whole") await r.readWhole();
      else if (row.read === "stream") { for await (const _ of r.body()) { /* read */ } }
      assertEquals(r.clean, false, row.name);
      assertEquals(pool.idleCount, 0, row.name);
      const next = await pool.request(origin.to, { method: "GET", target: "/b", headers: [["host", "h"]] });
      assertEquals(latin1Decode(await next.readWhole()), "next", row.name);
      assertEquals(next.clean, true, row.name);
      assertEquals(origin.accepted, 2, `${row.name}: a new connection`);
    } finally {
      pool.close();
      await origin.close();
    }
  }
});

Deno.test("OriginPool discards an idle connection on which bytes or a close arrive, and reuses a quiet one", async () => {
  const origin = rawOrigin(async (c, head, n) => {
    await write(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok");
    if (head.includes("/stray")) {
      await sleep(30);
      await write(c, "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nPOISON");
    }
    if (head.includes("/close")) throw new Error(`close after request ${n}`);
  });
  const pool = new OriginPool(OPTS);
  const get = async (target: string) => {
    const r = await pool.request(origin.to, { method: "GET", target, headers: [["host", "h"]] });
    return latin1Decode(await r.readWhole());
  };
  try {
    assertEquals(await get("/quiet"), "ok");
    await sleep(80);
    assertEquals(pool.idleCount, 1);
    const stray = await pool.request(origin.to, { method: "GET", target: "/stray", headers: [["host", "h"]] });
    let late = 0;
    stray.onLateTrouble(() => late++);
    assertEquals(latin1Decode(await stray.readWhole()), "ok");
    assertEquals(stray.clean, true, "clean when read");
    assertEquals(origin.accepted, 1, "the quiet connection was reused");
    await sleep(80);
    assertEquals(pool.idleCount, 0, "stray bytes discarded it");
    assertEquals([late, stray.clean], [1, false], "and told the response before it");
    assertEquals(await get("/close"), "ok");
    assertEquals(origin.accepted, 2);
    await sleep(80);
    assertEquals(pool.idleCount, 0, "the origin's close discarded it");
    assertEquals(await get("/after"), "ok");
    assertEquals(origin.accepted, 3);
  } finally {
    pool.close();
    await origin.close();
  }
});

Deno.test("OriginPool passes a request body's own error through, closes the connection and does not retry", async () => {
  let heads = 0;
  const origin = rawOrigin(async () => {
    heads++;
    await sleep(500);
  });
  const pool = new OriginPool(OPTS);
  const boom = new SyntaxError("bad chunk from the client");
  async function* body() {
    yield TE.encode("abc");
    throw boom;
  }
  try {
    const e = await assertRejects(() =>
      pool.request(origin.to, { method: "POST", target: "/u", headers: [["host", "h"]], body: body() })
    );
    assert(e === boom, "the body's error, unchanged");
    assert(isRequestBodyFailure(e));
    assert(!(e instanceof OriginError));
    assertEquals(pool.idleCount, 0);
    await sleep(50);
    assertEquals(heads, 1, "sent once");
  } finally {
    pool.close();
    await origin.close();
  }
});

Deno.test("OriginPool rejects an unasked 101 and more than MAX_INTERIM_RESPONSES 1xx answers", async () => {
  for (
    const answer of [
      "HTTP/1.1 101 Switching Protocols\r\n\r\n",
      "HTTP/1.1 100 Continue\r\n\r\n".repeat(MAX_INTERIM_RESPONSES + 1),
    ]
  ) {
    const origin = rawOrigin(async (c) => await write(c, answer));
    const pool = new OriginPool(OPTS);
    try {
      const e = await assertRejects(
        () => pool.request(origin.to, { method: "GET", target: "/", headers: [["host", "h"]] }),
        OriginError,
      );
      assertEquals(e.reason, "protocol");
    } finally {
      pool.close();
      await origin.close();
    }
  }
});

Deno.test("OriginPool times out a response body that stalls, with reason timeout", async () => {
  const origin = rawOrigin(async (c, head) => {
    const chunked = head.includes("/chunked");
    await write(
      c,
      chunked
        ? "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n"
        : "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok",
    );
    await sleep(1500);
  });
  const pool = new OriginPool({ ...OPTS, readTimeoutMs: 200 });
  try {
    const whole = await pool.request(origin.to, { method: "GET", target: "/whole", headers: [["host", "h"]] });
    const e1 = await assertRejects(async () => await whole.readWhole(), OriginError);
    assertEquals(e1.reason, "timeout");
    const streamed = await pool.request(origin.to, { method: "GET", target: "/chunked", headers: [["host", "h"]] });
    const t0 = Date.now();
    const e2 = await assertRejects(async () => {
      for await (const _ of streamed.body()) { /* read */ }
    }, OriginError);
    assertEquals(e2.reason, "timeout");
    assert(Date.now() - t0 < 1000);
    assertEquals(pool.idleCount, 0);
  } finally {
    pool.close();
    await origin.close();
  }
});

Deno.test("OriginPool request() with checkRemote: a refused peer, new or pooled, gets nothing sent", async () => {
  let requests = 0;
  const origin = rawOrigin((c) => (requests++, write(c, "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")));
  const pool = new OriginPool(OPTS);
  const seen: string[] = [];
  const refuse = (remote: Deno.Addr) => {
    seen.push(remote.transport === "tcp" ? `${remote.hostname}:${remote.port}` : remote.transport);
    throw new RangeError("refused peer");
  };
  try {
    await assertRejects(
      () => pool.request(origin.to, { method: "GET", target: "/", headers: [["host", "h"]], checkRemote: refuse }),
      RangeError,
    );
    assertEquals(seen, [`127.0.0.1:${origin.to.port}`]);
    // A pooled connection is checked again when it is reused.
    const r = await pool.request(origin.to, { method: "GET", target: "/", headers: [["host", "h"]] });
    r.readWhole();
    assertEquals(pool.idleCount, 1);
    await assertRejects(
      () => pool.request(origin.to, { method: "GET", target: "/", headers: [["host", "h"]], checkRemote: refuse }),
      RangeError,
    );
    assertEquals(seen.length, 2);
    assertEquals(pool.idleCount, 0);
    await sleep(50);
    assertEquals(requests, 1);
  } finally {
    pool.close();
    await origin.close();
  }
});

Deno.test("OriginPool to an https:// origin that never answers the ClientHello fails at the connect timeout", async () => {
  // A TCP origin that accepts and stays silent: the TLS handshake must not wait forever.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const held: Deno.Conn[] = [];
  const loop = (async () => {
    for await (const c of listener) held.push(c);
  })();
  const pool = new OriginPool({ ...OPTS, connectTimeoutMs: 300 });
  try {
    const started = Date.now();
    const err = await assertRejects(
      () =>
        Promise.race([
          pool.request({ hostname: "127.0.0.1", port: listener.addr.port, tls: true, serverName: "o" }, {
            method: "GET",
            target: "/",
            headers: [["host", "o"]],
          }),
          sleep(5000).then(() => Promise.reject(new Error("still waiting after 5 s"))),
        ]),
      OriginError,
    );
    assertEquals((err as OriginError).reason, "timeout");
    assert(Date.now() - started < 3000, `failed after ${Date.now() - started} ms`);
    // And the origin sees the connection closed (the socket was not left open mid-handshake).
    const buf = new Uint8Array(1024);
    const giveUp = setTimeout(() => held[0].close(), 3000);
    let n: number | null = 0;
    while (n !== null) n = await held[0].read(buf).catch(() => null);
    clearTimeout(giveUp);
    assert(Date.now() - started < 3000, `origin saw the close after ${Date.now() - started} ms`);
  } finally {
    pool.close();
    listener.close();
    await loop;
    for (const c of held) {
      try {
        c.close();
      } catch { /* closed */ }
    }
  }
});
