import { assert, assertEquals, assertThrows } from "../tests/_assert.ts";
import { makeTestCa } from "../tests/integration/_tls_ca.ts";
import { errorResponseBytes, HttpServer, RequestBodyError } from "./server.ts";
import { tlsHandshakes } from "./metrics.ts";

const TE = new TextEncoder();

/** A server whose handler reads the whole body and reports what reading it ended with. */
function bodyServer(opts: { bodyIdleTimeoutMs?: number; bodyTimeoutMs?: number } = {}) {
  const outcomes: string[] = [];
  const server = new HttpServer({ hostname: "127.0.0.1", port: 0, maxHeaderBytes: 4096, ...opts }, async (req, res) => {
    try {
      let n = 0;
      for await (const c of req.body()) n += c.length;
      outcomes.push(`ok ${n}`);
      await res.write(TE.encode("HTTP/1.1 204 No Content\r\n\r\n"));
    } catch (e) {
      outcomes.push(e instanceof RequestBodyError ? `${e.status}` : `other ${(e as Error).name}`);
      res.close = true;
      await res.write(errorResponseBytes((e as RequestBodyError).status ?? 500, (e as Error).message));
    }
  }).start();
  return { server, outcomes, port: server.addr.port };
}

async function send(port: number, data: string, opts: { halfClose?: boolean } = {}): Promise<string> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    await conn.write(TE.encode(data));
    if (opts.halfClose) await conn.closeWrite();
    let out = "";
    const buf = new Uint8Array(4096);
    while (true) {
      const n = await conn.read(buf).catch(() => null);
      if (n === null) return out;
      out += new TextDecoder().decode(buf.subarray(0, n));
    }
  } finally {
    conn.close();
  }
}

const HEAD = "POST / HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n";

Deno.test("HttpServer body(): malformed and cut bodies throw RequestBodyError 400", async () => {
  const { server, outcomes, port } = bodyServer();
  try {
    assertEquals((await send(port, HEAD + "5 6\r\nhello\r\n0\r\n\r\n")).slice(0, 12), "HTTP/1.1 400");
    assertEquals((await send(port, HEAD + "5\r\nhelloXX")).slice(0, 12), "HTTP/1.1 400");
    assertEquals((await send(port, HEAD + "5\r\nhel", { halfClose: true })).slice(0, 12), "HTTP/1.1 400");
    assertEquals(
      (await send(port, "POST / HTTP/1.1\r\nHost: h\r\nContent-Length: 9\r\n\r\nabc", { halfClose: true })).slice(
        0,
        12,
      ),
      "HTTP/1.1 400",
    );
    assertEquals(
      (await send(port, HEAD.replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n") + "3\r\nabc\r\n0\r\n\r\n")).slice(
        0,
        12,
      ),
      "HTTP/1.1 204",
    );
    assertEquals(outcomes, ["400", "400", "400", "400", "ok 3"]);
  } finally {
    await server.close();
  }
});

Deno.test("HttpServer body(): the idle and total body timeouts throw RequestBodyError 408", async () => {
  const idle = bodyServer({ bodyIdleTimeoutMs: 200, bodyTimeoutMs: 60_000 });
  const total = bodyServer({ bodyIdleTimeoutMs: 60_000, bodyTimeoutMs: 300 });
  try {
    const t0 = Date.now();
    assertEquals((await send(idle.port, HEAD + "5\r\nhello\r\n")).slice(0, 12), "HTTP/1.1 408");
    assert(Date.now() - t0 < 2000);
    assertEquals(idle.outcomes, ["408"]);
    // Total: bytes keep coming, the body never ends.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: total.port });
    await conn.write(TE.encode(HEAD));
    let answer = "";
    const reading = (async () => {
      const buf = new Uint8Array(4096);
      while (true) {
        const n = await conn.read(buf).catch(() => null);
        if (n === null) return;
        answer += new TextDecoder().decode(buf.subarray(0, n));
      }
    })();
    for (let i = 0; i < 20 && answer === ""; i++) {
      await conn.write(TE.encode("1\r\na\r\n")).catch(() => {});
      await new Promise((r) => setTimeout(r, 50));
    }
    await reading;
    conn.close();
    assertEquals(answer.slice(0, 12), "HTTP/1.1 408");
    assertEquals(total.outcomes, ["408"]);
  } finally {
    await idle.server.close();
    await total.server.close();
  }
});

Deno.test("HttpServer with tls: requests are marked tls, keep-alive works, and PROXY before TLS is refused", async () => {
  const ca = await makeTestCa();
  const files = await ca.issue("s", ["IP:127.0.0.1"]);
  assertThrows(
    () =>
      new HttpServer(
        { hostname: "127.0.0.1", port: 0, maxHeaderBytes: 8192, tls: files, proxyProtocol: true },
        () => Promise.resolve(),
      ),
    TypeError,
    "PROXY header before TLS",
  );
  const seen: (boolean | undefined)[] = [];
  const server = new HttpServer(
    { hostname: "127.0.0.1", port: 0, maxHeaderBytes: 8192, tls: files },
    async (req, res) => {
      seen.push(req.tls);
      await res.write(new TextEncoder().encode("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"));
    },
  ).start();
  const conn = await Deno.connectTls({ hostname: "127.0.0.1", port: server.addr.port, caCerts: [ca.caPem] });
  try {
    const buf = new Uint8Array(1024);
    for (let i = 0; i < 2; i++) {
      await conn.write(new TextEncoder().encode("GET / HTTP/1.1\r\nhost: x\r\n\r\n"));
      const n = await conn.read(buf);
      assert(new TextDecoder().decode(buf.subarray(0, n ?? 0)).endsWith("ok"));
    }
    assertEquals(seen, [true, true]);
    assertEquals(server.reloadCertificates(), { ok: true, reloaded: true });
  } finally {
    conn.close();
    await server.close();
    await ca.remove();
  }
});

async function handshakeCount(result: string): Promise<number> {
  const m = await tlsHandshakes.get();
  return m.values.find((v) => v.labels.result === result)?.value ?? 0;
}

Deno.test("HttpServer with tls: failed handshakes (plain text, stalled client) are counted and closed; good ones too", async () => {
  const ca = await makeTestCa();
  const files = await ca.issue("s", ["IP:127.0.0.1"]);
  const server = new HttpServer(
    { hostname: "127.0.0.1", port: 0, maxHeaderBytes: 8192, tls: files, headerTimeoutMs: 300 },
    async (_req, res) => {
      await res.write(new TextEncoder().encode("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok"));
    },
  ).start();
  const [ok0, failed0] = [await handshakeCount("ok"), await handshakeCount("failed")];
  try {
    // Plain HTTP to the TLS port: the handshake fails and the connection is closed.
    const plain = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    await plain.write(new TextEncoder().encode("GET / HTTP/1.1\r\nhost: x\r\n\r\n"));
    const buf = new Uint8Array(1024);
    while ((await plain.read(buf).catch(() => null)) !== null) { /* until closed */ }
    plain.close();
    assertEquals(await handshakeCount("failed"), failed0 + 1);
    // A client that connects and says nothing is closed after the header timeout.
    const started = Date.now();
    const silent = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
    // (Deno's close() alone would keep the socket open, mid-handshake, until the client left.)
    const giveUp = setTimeout(() => silent.close(), 5000);
    while ((await silent.read(buf).catch(() => null)) !== null) { /* until closed */ }
    clearTimeout(giveUp);
    try {
      silent.close();
    } catch { /* closed by giveUp */ }
    const waited = Date.now() - started;
    assert(waited >= 250 && waited < 5000, `closed after ${waited} ms`);
    assertEquals(await handshakeCount("failed"), failed0 + 2);
    const good = await Deno.connectTls({ hostname: "127.0.0.1", port: server.addr.port, caCerts: [ca.caPem] });
    await good.write(new TextEncoder().encode("GET / HTTP/1.1\r\nhost: x\r\n\r\n"));
    const n = await good.read(buf);
    assert(new TextDecoder().decode(buf.subarray(0, n ?? 0)).endsWith("ok"));
    good.close();
    assertEquals(await handshakeCount("ok"), ok0 + 1);
  } finally {
    await server.close();
    await ca.remove();
  }
});
