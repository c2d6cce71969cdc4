/**
 * Listener modes: forward proxy (absolute-form, CONNECT tunnels, ACL), transparent proxy (origin
 * from Host, ACL), and the PROXY protocol carrying the real client address.
 */
import { assertEquals, assertMatch } from "../_assert.ts";
import { encodeProxyV2 } from "../../http/proxy_protocol.ts";
import { proxyProtocolRefused } from "../../http/metrics.ts";
import {
  cacheable,
  parseRaw,
  rawExchange,
  RawOrigin,
  request,
  startCache,
  TestOrigin,
  writeText,
} from "./_cache_harness.ts";

const enc = (s: string) => new TextEncoder().encode(s);
/** The test origins listen on loopback, which forward and transparent requests may reach only when allowed. */
const LOCAL_ORIGINS = { allowDestinations: ["127.0.0.0/8"] };

Deno.test("cache forward: absolute-form requests are proxied and cached; origin-form is refused", async () => {
  const origin = new TestOrigin(() => cacheable("via forward proxy"));
  const c = startCache({ acl: LOCAL_ORIGINS }, [{ mode: "forward" }]);
  try {
    const url = `${origin.url}/fw?q=1`;
    const a = await request(c.port, url, { host: `127.0.0.1:${origin.port}` });
    assertEquals(a.status, 200);
    assertEquals(a.text, "via forward proxy");
    const b = await request(c.port, url, { host: `127.0.0.1:${origin.port}` });
    assertEquals(b.headers.get("x-cache"), "HIT from testcache");
    assertEquals(origin.count("/fw?q=1"), 1);
    assertEquals(origin.seen[0].headers.get("host"), `127.0.0.1:${origin.port}`);
    assertEquals((await request(c.port, "/fw")).status, 400);
    // https:// is fetched over TLS now (cache_tls_test.ts); other schemes are still not implemented.
    assertEquals((await request(c.port, "ftp://example.org/")).status, 501);
  } finally {
    await c.close();
    await origin.close();
  }
});

Deno.test("cache forward: clients outside cache.acl.forward get 403 and nothing is fetched", async () => {
  const origin = new TestOrigin(() => cacheable("secret"));
  const c = startCache({ acl: { ...LOCAL_ORIGINS, forward: ["10.0.0.0/8"] } }, [
    { mode: "forward" },
    { mode: "transparent" },
  ]);
  try {
    assertEquals((await request(c.ports[0], `${origin.url}/x`)).status, 403);
    assertEquals((await request(c.ports[1], "/x", { host: `127.0.0.1:${origin.port}` })).status, 403);
    const connect = parseRaw(
      await rawExchange(c.ports[0], enc(`CONNECT 127.0.0.1:${origin.port} HTTP/1.1\r\nHost: a\r\n\r\n`)),
    );
    assertEquals(connect.status, 403);
    assertEquals(origin.count(), 0);
  } finally {
    await c.close();
    await origin.close();
  }
});

Deno.test("cache forward: CONNECT tunnels bytes both ways unchanged; other ports and listeners refuse", async () => {
  const echo = new RawOrigin(async (conn) => {
    const buf = new Uint8Array(65536);
    while (true) {
      const n = await conn.read(buf);
      if (n === null) return;
      await writeText(conn, buf.slice(0, n));
    }
  });
  const port = echo.listener.addr.port;
  const c = startCache({ acl: { ...LOCAL_ORIGINS, connectPorts: [port] } }, [{ mode: "forward" }, { mode: "accel" }]);
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: c.ports[0] });
  try {
    const payload = new Uint8Array(300_000).map((_, i) => (i * 7) & 0xff);
    const head = enc(`CONNECT 127.0.0.1:${port} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    const first = new Uint8Array(head.length + 10);
    first.set(head);
    first.set(payload.subarray(0, 10), head.length); // bytes right behind the head are tunnelled too
    await writeText(conn, first);
    const writer = writeText(conn, payload.subarray(10));
    const got: number[] = [];
    const buf = new Uint8Array(65536);
    let text = "";
    while (!text.includes("\r\n\r\n")) {
      const n = await conn.read(buf);
      if (n === null) break;
      for (let i = 0; i < n; i++) {
        if (!text.includes("\r\n\r\n")) text += String.fromCharCode(buf[i]);
        else got.push(buf[i]);
      }
    }
    assertMatch(text, /^HTTP\/1\.1 200 /);
    while (got.length < payload.length) {
      const n = await conn.read(buf);
      if (n === null) break;
      for (let i = 0; i < n; i++) got.push(buf[i]);
    }
    await writer;
    assertEquals(got.length, payload.length);
    assertEquals(new Uint8Array(got), payload);
    conn.close();
    const other = parseRaw(await rawExchange(c.ports[0], enc("CONNECT 127.0.0.1:1 HTTP/1.1\r\nHost: a\r\n\r\n")));
    assertEquals(other.status, 403);
    const accel = parseRaw(await rawExchange(c.ports[1], enc(`CONNECT 127.0.0.1:${port} HTTP/1.1\r\nHost: a\r\n\r\n`)));
    assertEquals(accel.status, 405);
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
    await c.close();
    await echo.close();
  }
});

Deno.test("cache transparent: the origin comes from the Host header", async () => {
  const origin = new TestOrigin(() => cacheable("transparent"));
  const c = startCache({ acl: LOCAL_ORIGINS }, [{ mode: "transparent" }]);
  try {
    const host = `127.0.0.1:${origin.port}`;
    assertEquals((await request(c.port, "/t", { host })).text, "transparent");
    assertEquals((await request(c.port, "/t", { host })).headers.get("x-cache"), "HIT from testcache");
    assertEquals(origin.count("/t"), 1);
  } finally {
    await c.close();
    await origin.close();
  }
});

Deno.test("cache proxy protocol: v1 and v2 headers give the real client address to ACLs and origins", async () => {
  const origin = new TestOrigin(() => cacheable("pp"));
  const c = startCache({ defaultOrigin: origin.url, acl: { ...LOCAL_ORIGINS, forward: ["10.9.8.0/24"] } }, [
    { mode: "accel", proxyProtocol: true },
    { mode: "forward", proxyProtocol: true },
  ]);
  try {
    const req = enc("GET /pp HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const v2 = encodeProxyV2({ srcAddr: "10.9.8.7", srcPort: 5555, dstAddr: "192.0.2.1", dstPort: 80 });
    const both = new Uint8Array(v2.length + req.length);
    both.set(v2);
    both.set(req, v2.length);
    assertEquals(parseRaw(await rawExchange(c.ports[0], both)).text, "pp");
    assertEquals(origin.seen[0].headers.get("x-forwarded-for"), "10.9.8.7");
    const v1 = enc(
      "PROXY TCP4 10.9.8.6 192.0.2.1 4444 80\r\nGET /pp2 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assertEquals(parseRaw(await rawExchange(c.ports[0], v1)).status, 200);
    assertEquals(origin.seen[1].headers.get("x-forwarded-for"), "10.9.8.6");
    // The forward ACL admits 10.9.8.0/24 (the PROXY source), not loopback.
    const fwd = enc(
      `PROXY TCP4 10.9.8.5 192.0.2.1 4444 3128\r\nGET ${origin.url}/f HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    assertEquals(parseRaw(await rawExchange(c.ports[1], fwd)).status, 200);
    const direct = enc(
      `PROXY TCP4 127.0.0.1 192.0.2.1 4444 3128\r\nGET ${origin.url}/f HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    assertEquals(parseRaw(await rawExchange(c.ports[1], direct)).status, 403);
    // Without a PROXY header the connection is dropped.
    assertEquals((await rawExchange(c.ports[0], req)).length, 0);
  } finally {
    await c.close();
    await origin.close();
  }
});

Deno.test("cache proxy protocol: a sender outside cache.acl.proxyProtocol cannot claim another address", async () => {
  const origin = new TestOrigin(() => cacheable("pp"));
  // The forward ACL admits only 10.9.8.0/24; the only trusted PROXY sender is 10.1.1.1 (not us on loopback).
  const c = startCache({ defaultOrigin: origin.url, acl: { forward: ["10.9.8.0/24"], proxyProtocol: ["10.1.1.1"] } }, [
    { mode: "accel", proxyProtocol: true },
    { mode: "forward", proxyProtocol: true },
  ]);
  try {
    const before = (await proxyProtocolRefused.get()).values[0]?.value ?? 0;
    const claimV1 = enc(
      `PROXY TCP4 10.9.8.5 192.0.2.1 4444 3128\r\nGET ${origin.url}/f HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
    );
    assertEquals((await rawExchange(c.ports[1], claimV1)).length, 0);
    const req = enc(`GET ${origin.url}/g HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`);
    const v2 = encodeProxyV2({ srcAddr: "10.9.8.7", srcPort: 5555, dstAddr: "192.0.2.1", dstPort: 80 });
    const claimV2 = new Uint8Array(v2.length + req.length);
    claimV2.set(v2);
    claimV2.set(req, v2.length);
    assertEquals((await rawExchange(c.ports[1], claimV2)).length, 0);
    assertEquals((await rawExchange(c.ports[0], claimV2)).length, 0);
    // Without a header it is refused just the same.
    assertEquals((await rawExchange(c.ports[0], enc("GET /pp HTTP/1.1\r\nHost: x\r\n\r\n"))).length, 0);
    assertEquals(origin.seen.length, 0);
    assertEquals((await proxyProtocolRefused.get()).values[0].value - before, 4);
  } finally {
    await c.close();
    await origin.close();
  }
});

Deno.test("cache proxy protocol: cache.acl.proxyProtocol defaults to loopback only", async () => {
  const { validateConfig } = await import("../../config/load.ts");
  assertEquals(validateConfig({}, { source: "test" }).cache.acl.proxyProtocol, ["127.0.0.0/8", "::1/128"]);
});
