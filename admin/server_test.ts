import { assertEquals, assertMatch, assertStringIncludes } from "../tests/_assert.ts";
import { AdminServer } from "./server.ts";

function start(opts: { allow?: string[]; token?: string } = {}) {
  const ac = new AbortController();
  const drains: string[] = [];
  const admin = new AdminServer({
    hostname: "127.0.0.1",
    port: 0,
    allow: opts.allow ?? ["127.0.0.0/8"],
    token: opts.token,
    node: "test-node",
    role: "cache",
    signal: ac.signal,
  });
  admin.status("demo", () => ({ objects: 3 }));
  admin.route("/echo", (_req, client) => new Response(client));
  admin.route("/drain", (req) => {
    if (req.method !== "POST") return new Response("use POST\n", { status: 405 });
    drains.push(new URL(req.url).search);
    return Response.json(["drained"]);
  });
  admin.start();
  const base = `http://127.0.0.1:${admin.addr.port}`;
  return { admin, base, drains, port: admin.addr.port, stop: () => admin.stop() };
}

Deno.test("AdminServer serves /healthz, /metrics and /status over a real socket", async () => {
  const { base, stop } = start();
  try {
    const h = await fetch(`${base}/healthz`);
    assertEquals([h.status, await h.text()], [200, "ok\n"]);
    const m = await fetch(`${base}/metrics`);
    assertEquals(m.status, 200);
    assertStringIncludes(m.headers.get("content-type") ?? "", "text/plain");
    const text = await m.text();
    assertMatch(text, /# TYPE webcache_process_start_time_seconds gauge/);
    assertMatch(text, /webcache_process_heap_used_bytes \d+/);
    const s = await (await fetch(`${base}/status`)).json();
    assertEquals([s.node, s.role, s.demo.objects], ["test-node", "cache", 3]);
    const e = await fetch(`${base}/echo`);
    assertEquals(await e.text(), "127.0.0.1");
    const nf = await fetch(`${base}/nope`);
    assertEquals(nf.status, 404);
    await nf.body?.cancel();
  } finally {
    await stop();
  }
});

Deno.test("AdminServer refuses clients outside admin.allow without the token", async () => {
  const { base, stop } = start({ allow: ["10.0.0.0/8"], token: "0123456789abcdef-token" });
  try {
    const denied = await fetch(`${base}/status`);
    assertEquals(denied.status, 403);
    await denied.body?.cancel();
    const wrong = await fetch(`${base}/status`, { headers: { authorization: "Bearer 0123456789abcdef-tokeX" } });
    assertEquals(wrong.status, 403);
    await wrong.body?.cancel();
    const ok = await fetch(`${base}/healthz`, { headers: { authorization: "Bearer 0123456789abcdef-token" } });
    assertEquals(ok.status, 200);
    await ok.body?.cancel();
  } finally {
    await stop();
  }
});

Deno.test("AdminServer refuses strangers when no token is configured", async () => {
  const { base, stop } = start({ allow: [] });
  try {
    const r = await fetch(`${base}/metrics`);
    assertEquals(r.status, 403);
    await r.body?.cancel();
  } finally {
    await stop();
  }
});

/** Sends one raw request (fetch would fix the Host field) and returns the status code. */
async function rawStatus(port: number, head: string, body = ""): Promise<number> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    const bytes = new TextEncoder().encode(
      `${head}\r\nContent-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
    );
    let off = 0;
    while (off < bytes.length) off += await conn.write(bytes.subarray(off));
    const buf = new Uint8Array(65536);
    let text = "";
    while (true) {
      const n = await conn.read(buf);
      if (n === null) break;
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
    return Number(/^HTTP\/1\.1 (\d{3})/.exec(text)?.[1] ?? 0);
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
}

Deno.test("AdminServer refuses a browser's cross-site form post, a rebound Host and a query token", async () => {
  const token = "0123456789abcdef-token";
  const { port, drains, stop } = start({ token });
  const h = `Host: 127.0.0.1:${port}`;
  try {
    // A page on another site makes the operator's browser post a form to the loopback admin endpoint.
    const form = "Content-Type: application/x-www-form-urlencoded\r\nOrigin: http://evil.example";
    assertEquals(await rawStatus(port, `POST /drain?server=a HTTP/1.1\r\n${h}\r\n${form}`, "server=a"), 403);
    assertEquals(await rawStatus(port, `POST /drain?server=a HTTP/1.1\r\n${h}\r\nContent-Type: text/plain`, "x"), 403);
    assertEquals(await rawStatus(port, `POST /drain?server=a HTTP/1.1\r\n${h}`), 403);
    // JSON from another origin, a preflight, and DNS rebinding (Host: evil.example) fail too.
    const json = "Content-Type: application/json";
    assertEquals(await rawStatus(port, `POST /drain HTTP/1.1\r\n${h}\r\n${json}\r\nOrigin: http://evil.example`), 403);
    assertEquals(await rawStatus(port, `OPTIONS /drain HTTP/1.1\r\n${h}\r\nOrigin: http://evil.example`), 405);
    assertEquals(await rawStatus(port, `POST /drain HTTP/1.1\r\nHost: evil.example:${port}\r\n${json}`, "{}"), 421);
    assertEquals(await rawStatus(port, `GET /status HTTP/1.1\r\nHost: evil.example:${port}`), 421);
    // An IP that is not the listen address (127.0.0.1) nor loopback is not this endpoint either.
    assertEquals(await rawStatus(port, `GET /status HTTP/1.1\r\nHost: 10.1.2.3:${port}`), 421);
    assertEquals(await rawStatus(port, `GET /status HTTP/1.1\r\nHost: [::1]:${port}`), 200);
    // A token in the query string does not count.
    assertEquals(await rawStatus(port, `POST /drain?token=${token} HTTP/1.1\r\n${h}`), 403);
    assertEquals(drains, []);
    // What the CLI sends is accepted: JSON, or the bearer token.
    assertEquals(await rawStatus(port, `POST /drain?server=b HTTP/1.1\r\n${h}\r\n${json}`, "{}"), 200);
    assertEquals(
      await rawStatus(port, `POST /drain?server=c HTTP/1.1\r\nHost: localhost:${port}\r\n${json}`, "{}"),
      200,
    );
    assertEquals(await rawStatus(port, `POST /drain?server=d HTTP/1.1\r\n${h}\r\nAuthorization: Bearer ${token}`), 200);
    assertEquals(drains, ["?server=b", "?server=c", "?server=d"]);
  } finally {
    await stop();
  }
});

Deno.test("AdminServer takes the token only from the Authorization header", async () => {
  const token = "0123456789abcdef-token";
  const { base, stop } = start({ allow: ["10.0.0.0/8"], token });
  try {
    const byQuery = await fetch(`${base}/status?token=${token}`);
    assertEquals(byQuery.status, 403);
    await byQuery.body?.cancel();
    const byHeader = await fetch(`${base}/status`, { headers: { authorization: `Bearer ${token}` } });
    assertEquals(byHeader.status, 200);
    await byHeader.body?.cancel();
  } finally {
    await stop();
  }
});
