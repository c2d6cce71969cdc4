/**
 * Request bodies cannot stall forever and malformed ones are the client's fault (issue #14 item
 * 6): every chunk-size grammar violation answers 400 without a 502, without bumping the origin
 * failure counters and without pushing the ICP load guard towards MISS_NOFETCH; a stalled or
 * trickling upload answers 408 and its origin connection is closed, not pooled.
 */
import { assert, assertEquals } from "../_assert.ts";
import { parseRaw, rawExchange, sleep, startCache, writeText } from "./_cache_harness.ts";
import { okResponse, ScriptedOrigin } from "./_scripted_origin.ts";
import { until } from "./_cluster_harness.ts";
import { counters } from "../../cache/metrics.ts";
import { LoadGuard } from "../../cache/peering/load_guard.ts";

const enc = (s: string) => new TextEncoder().encode(s);

const CHUNKED_HEAD = "POST /up HTTP/1.1\r\nHost: test.example\r\nTransfer-Encoding: chunked\r\n\r\n";

/** Malformed chunked bodies: each must answer 400. */
const BAD_BODIES: { name: string; body: string }[] = [
  { name: "two sizes `5 6`", body: "5 6\r\nhello\r\n0\r\n\r\n" },
  { name: "trailing junk `5g`", body: "5g\r\nhello\r\n0\r\n\r\n" },
  { name: "whitespace then CRLF `5 `", body: "5 \r\nhello\r\n0\r\n\r\n" },
  { name: "missing CRLF after chunk data", body: "5\r\nhelloXY0\r\n\r\n" },
  { name: "missing CRLF after data, then next size", body: "5\r\nhello5\r\nworld\r\n0\r\n\r\n" },
  { name: "oversize chunk-size hex", body: "fffffffffffffffff\r\nhello\r\n0\r\n\r\n" },
  { name: "12 hex digits", body: "000000000005\r\nhello\r\n0\r\n\r\n" },
  { name: "negative size", body: "-5\r\nhello\r\n0\r\n\r\n" },
  { name: "0x prefix", body: "0x5\r\nhello\r\n0\r\n\r\n" },
  { name: "empty size line", body: "\r\nhello\r\n0\r\n\r\n" },
  { name: "bare LF after size", body: "5\nhello\r\n0\r\n\r\n" },
  { name: "bare LF after data", body: "5\r\nhello\n0\r\n\r\n" },
  { name: "bare LF after last chunk", body: "5\r\nhello\r\n0\n\r\n" },
  { name: "bare LF ending the trailers", body: "5\r\nhello\r\n0\r\n\n" },
  { name: "bare CR after size", body: "5\rhello\r\n0\r\n\r\n" },
  { name: "control byte in extension", body: "5;a\x01b\r\nhello\r\n0\r\n\r\n" },
  { name: "bare LF in extension", body: "5;a\nhello\r\n0\r\n\r\n" },
  { name: "trailer without colon", body: "5\r\nhello\r\n0\r\nnot a field\r\n\r\n" },
  { name: "bad chunk after a good one", body: "3\r\nabc\r\nzz\r\n" },
];

Deno.test("cache request body: every malformed chunked body answers 400 as a client error, never as an origin failure", async () => {
  const origin = new ScriptedOrigin((req) => okResponse(`got ${req.path}`));
  const c = startCache({ defaultOrigin: origin.url });
  const guard = new LoadGuard({ originFailures: 1 });
  let failed = 0;
  c.service.handler.setOriginObserver((url, ok) => {
    guard.originResult(url, ok);
    if (!ok) failed++;
  });
  const failuresBefore = { ...counters.originFailures };
  const errorsBefore = counters.requests.error ?? 0;
  try {
    for (const row of BAD_BODIES) {
      const r = parseRaw(await rawExchange(c.port, enc(CHUNKED_HEAD + row.body), 3000));
      assertEquals(r.status, 400, row.name);
      assertEquals(r.headers.get("connection"), "close", row.name);
    }
    assertEquals(counters.originFailures, failuresBefore, "origin failure counters untouched");
    assertEquals(failed, 0, "the origin observer saw no failure");
    assertEquals(guard.reason("http://test.example/up"), undefined, "ICP would still answer MISS");
    assertEquals((counters.requests.error ?? 0) - errorsBefore, BAD_BODIES.length, "counted as client errors");
    // Nothing half-sent was pooled: the origin still answers a good upload.
    const ok = parseRaw(
      await rawExchange(
        c.port,
        enc(CHUNKED_HEAD.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n") + "5\r\nhello\r\n0\r\n\r\n"),
      ),
    );
    assertEquals(ok.status, 200);
    assertEquals(ok.text, "got /up");
    const complete = origin.seen.filter((s) => s.bodyDone);
    assertEquals(complete.length, 1, "only the good upload reached the origin whole");
  } finally {
    await c.close();
    await origin.close();
  }
});

/** Sends `head + body`, half-closes, and reads the answer. */
async function cutShort(port: number, data: string): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await writeText(conn, data);
    await conn.closeWrite();
    const chunks: number[] = [];
    const buf = new Uint8Array(4096);
    while (true) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) break;
      chunks.push(...buf.subarray(0, n));
    }
    return parseRaw(new Uint8Array(chunks)).status;
  } finally {
    conn.close();
  }
}

Deno.test("cache request body: a body cut short by the client answers 400 without an origin failure", async () => {
  const origin = new ScriptedOrigin((req) => okResponse(`got ${req.path}`));
  const c = startCache({ defaultOrigin: origin.url });
  const failuresBefore = { ...counters.originFailures };
  try {
    const small = "POST /small HTTP/1.1\r\nHost: test.example\r\nContent-Length: 10\r\n\r\nabc";
    assertEquals(await cutShort(c.port, small), 400, "Content-Length body cut short");
    assertEquals(await cutShort(c.port, CHUNKED_HEAD + "5\r\nhel"), 400, "chunked body cut short");
    assertEquals(counters.originFailures, failuresBefore);
  } finally {
    await c.close();
    await origin.close();
  }
});

Deno.test("cache request body: a stalled upload answers 408 and its origin connection is closed, not pooled", async () => {
  const origin = new ScriptedOrigin((req) => okResponse(`got ${req.path}`));
  const c = startCache({ defaultOrigin: origin.url, client: { bodyIdleTimeoutMs: 300 } });
  const failuresBefore = { ...counters.originFailures };
  try {
    assertEquals(
      parseRaw(await rawExchange(c.port, enc("GET /warm HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"))).status,
      200,
    );
    const t0 = Date.now();
    // A chunked upload that stops after its first chunk (streamed to the origin as it comes).
    const stalled = parseRaw(await rawExchange(c.port, enc(CHUNKED_HEAD + "5\r\nhello\r\n"), 5000));
    const took = Date.now() - t0;
    assertEquals(stalled.status, 408);
    assert(took >= 250 && took < 3000, `answered after ${took} ms`);
    const up = origin.seen.find((s) => s.path === "/up")!;
    assertEquals(up.bodyDone, false);
    await until(
      "the origin connection of the stalled upload closed",
      () => origin.closedByPeer.includes(up.conn),
      5000,
    );
    // A small Content-Length body is read before the origin is asked: it never gets there.
    const small = parseRaw(
      await rawExchange(c.port, enc("POST /small HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc"), 5000),
    );
    assertEquals(small.status, 408);
    assertEquals(origin.count("/small"), 0);
    const next = parseRaw(
      await rawExchange(c.port, enc("GET /after HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")),
    );
    assertEquals(next.text, "got /after");
    assert(origin.seen.find((s) => s.path === "/after")!.conn !== up.conn);
    assertEquals(counters.originFailures, failuresBefore, "a stalled client is not an origin failure");
  } finally {
    await c.close();
    await origin.close();
  }
});

Deno.test("cache request body: a trickling upload ends with 408 at the total body timeout", async () => {
  const origin = new ScriptedOrigin((req) => okResponse(`got ${req.path}`));
  const c = startCache({ defaultOrigin: origin.url, client: { bodyIdleTimeoutMs: 5000, bodyTimeoutMs: 800 } });
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: c.port });
  try {
    await writeText(conn, CHUNKED_HEAD);
    const t0 = Date.now();
    const reply = (async () => {
      const got: number[] = [];
      const buf = new Uint8Array(4096);
      while (true) {
        const n = await conn.read(buf).catch(() => null);
        if (n === null) return new Uint8Array(got);
        got.push(...buf.subarray(0, n));
      }
    })();
    // One byte of data every 100 ms: never idle, never done.
    let writing = true;
    const trickle = (async () => {
      while (writing) {
        await writeText(conn, "1\r\na\r\n").catch(() => {
          writing = false;
        });
        await sleep(100);
      }
    })();
    const r = parseRaw(await reply);
    writing = false;
    await trickle;
    const took = Date.now() - t0;
    assertEquals(r.status, 408);
    assert(took >= 700 && took < 3000, `answered after ${took} ms`);
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
    await c.close();
    await origin.close();
  }
});
