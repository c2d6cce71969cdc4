/**
 * Interim responses (RFC 9110 §15.2) through the cache over real sockets: 1xx heads from the
 * origin reach the client in order and as they arrive, are never stored, and none of their fields
 * end up in the stored or final response.
 */
import { assert, assertEquals } from "../_assert.ts";
import {
  parseRaw,
  rawExchange,
  RawOrigin,
  readRequestHead,
  request,
  sleep,
  startCache,
  writeText,
} from "./_cache_harness.ts";

const dec = new TextDecoder();

const EARLY = "HTTP/1.1 103 Early Hints\r\nLink: </app.css>; rel=preload; as=style\r\nX-Hint: only-interim\r\n\r\n";

/** Reads from `conn` until `until` appears in what was read (or the connection closes). */
async function readUntil(conn: Deno.Conn, until: string, timeoutMs = 3000): Promise<string> {
  let text = "";
  const buf = new Uint8Array(65536);
  const deadline = Date.now() + timeoutMs;
  while (!text.includes(until) && Date.now() < deadline) {
    const n = await conn.read(buf);
    if (n === null) break;
    text += dec.decode(buf.subarray(0, n));
  }
  return text;
}

Deno.test("cache interim: 102 and 103 reach the client before the final response, which is stored without their fields", async () => {
  let requests = 0;
  const origin = new RawOrigin(async (conn) => {
    await readRequestHead(conn);
    requests++;
    await writeText(conn, "HTTP/1.1 102 Processing\r\n\r\n" + EARLY);
    await sleep(300); // the origin "thinks": the hints must already be at the client
    await writeText(
      conn,
      "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Type: text/html\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello",
    );
  });
  const c = startCache({ defaultOrigin: origin.url });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: c.port });
    try {
      await writeText(conn, "GET /page HTTP/1.1\r\nHost: test.example\r\nConnection: close\r\n\r\n");
      const early2 = await readUntil(conn, "only-interim\r\n\r\n");
      assert(!early2.includes("HTTP/1.1 200"), `hints arrive before the final response: ${JSON.stringify(early2)}`);
      const rest = early2 + await readUntil(conn, "hello");
      assert(rest.startsWith("HTTP/1.1 102 Processing\r\n\r\nHTTP/1.1 103 Early Hints\r\n"), rest);
      assert(rest.includes("link: </app.css>; rel=preload; as=style\r\n"), rest);
      const final = parseRaw(new TextEncoder().encode(rest.slice(rest.indexOf("HTTP/1.1 200"))));
      assertEquals([final.status, final.text, final.headers.get("link"), final.headers.get("x-hint")], [
        200,
        "hello",
        null,
        null,
      ]);
    } finally {
      conn.close();
    }
    // The stored response: a hit, no interim response, none of the interim fields.
    const hit = await request(c.port, "/page");
    assertEquals([hit.status, hit.text, hit.headers.get("x-cache")?.startsWith("HIT"), requests], [
      200,
      "hello",
      true,
      1,
    ]);
    assert(hit.head.startsWith("HTTP/1.1 200"), hit.head);
    assertEquals([hit.headers.get("link"), hit.headers.get("x-hint")], [null, null]);
  } finally {
    await c.close();
    await origin.close();
  }
});

Deno.test("cache interim: a POST with Expect gets one 100 Continue (the cache's), then the origin's 103, then the answer", async () => {
  const origin = new RawOrigin(async (conn) => {
    const head = await readRequestHead(conn);
    if (!head.includes("\r\n\r\nabc")) {
      const buf = new Uint8Array(16);
      await conn.read(buf);
    }
    await writeText(conn, "HTTP/1.1 100 Continue\r\n\r\n" + EARLY);
    await writeText(conn, "HTTP/1.1 201 Created\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok");
  });
  const c = startCache({ defaultOrigin: origin.url });
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: c.port });
    try {
      await writeText(
        conn,
        "POST /form HTTP/1.1\r\nHost: test.example\r\nContent-Length: 3\r\nExpect: 100-continue\r\nConnection: close\r\n\r\n",
      );
      const cont = await readUntil(conn, "\r\n\r\n");
      assertEquals(cont, "HTTP/1.1 100 Continue\r\n\r\n");
      await writeText(conn, "abc");
      const rest = await readUntil(conn, "\r\n\r\nok");
      assert(rest.startsWith("HTTP/1.1 103 Early Hints\r\n"), rest);
      assertEquals(rest.split("HTTP/1.1 100").length, 1, "no second 100 Continue");
      assert(rest.includes("HTTP/1.1 201 Created"), rest);
    } finally {
      conn.close();
    }
  } finally {
    await c.close();
    await origin.close();
  }
});

Deno.test("cache interim: an HTTP/1.0 client gets only the final response", async () => {
  const origin = new RawOrigin(async (conn) => {
    await readRequestHead(conn);
    await writeText(
      conn,
      EARLY + "HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 3\r\nConnection: close\r\n\r\nold",
    );
  });
  const c = startCache({ defaultOrigin: origin.url });
  try {
    const bytes = await rawExchange(
      c.port,
      new TextEncoder().encode("GET /ten HTTP/1.0\r\nHost: test.example\r\n\r\n"),
    );
    const text = dec.decode(bytes);
    assert(text.startsWith("HTTP/1.1 200 OK\r\n"), text);
    assert(!text.includes("103"), text);
  } finally {
    await c.close();
    await origin.close();
  }
});
