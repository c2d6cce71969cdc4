/**
 * TLS on the cache over real sockets: TLS listeners in accel and forward modes (curl with a test
 * CA), https:// origins (verified, wrong name, self-signed with and without `insecure`, pooled
 * over TLS), the scheme in the cache key, certificate reload, and refused key files.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes, assertThrows } from "../_assert.ts";
import { setLogSink } from "../../core/log.ts";
import { validateConfig } from "../../config/mod.ts";
import { TlsFileError } from "../../http/tls_files.ts";
import { HttpServer } from "../../http/server.ts";
import { sleep, startCache, TestOrigin } from "./_cache_harness.ts";
import { makeTestCa, type TestCa } from "./_tls_ca.ts";
import { TlsOrigin } from "./_tls_origin.ts";

interface CurlResult {
  status: number;
  headers: Record<string, string>;
  body: string;
  stderr: string;
}

async function curl(args: string[]): Promise<CurlResult> {
  const out = await new Deno.Command("curl", {
    args: ["-sS", "-i", "--max-time", "10", ...args],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  if (!out.success) throw new Error(`curl ${args.join(" ")} failed: ${stderr}`);
  const [head, ...rest] = text.split("\r\n\r\n");
  const lines = head.split("\r\n");
  const headers: Record<string, string> = {};
  for (const l of lines.slice(1)) {
    const i = l.indexOf(":");
    headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim();
  }
  return { status: Number(lines[0].split(" ")[1]), headers, body: rest.join("\r\n\r\n"), stderr };
}

/** Sends one raw request over TLS and reads until the connection closes. */
async function tlsExchange(port: number, caPem: string, request: string): Promise<string> {
  const c = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [caPem] });
  try {
    await c.write(new TextEncoder().encode(request));
    let out = "";
    const buf = new Uint8Array(16 * 1024);
    while (true) {
      const n = await c.read(buf).catch(() => null);
      if (n === null) break;
      out += new TextDecoder().decode(buf.subarray(0, n));
    }
    return out;
  } finally {
    try {
      c.close();
    } catch { /* closed */ }
  }
}

async function withCa(fn: (ca: TestCa) => Promise<void>): Promise<void> {
  const ca = await makeTestCa();
  try {
    await fn(ca);
  } finally {
    await ca.remove();
  }
}

const LOCAL = ["DNS:localhost", "IP:127.0.0.1"];

Deno.test("cache tls: an accelerator over TLS 1.2 and 1.3 misses once, then hits (curl with the test CA)", async () => {
  await withCa(async (ca) => {
    const site = await ca.issue("site", LOCAL);
    const origin = new TestOrigin(() => new Response("hello tls", { headers: { "cache-control": "max-age=60" } }));
    const cache = startCache({ defaultOrigin: origin.url }, [{ mode: "accel", tls: site }]);
    try {
      const url = `https://127.0.0.1:${cache.port}/a`;
      const r1 = await curl(["-v", "--cacert", ca.caFile, "--tlsv1.2", "--tls-max", "1.2", url]);
      assertEquals(r1.status, 200);
      assertEquals(r1.body, "hello tls");
      assertMatch(r1.stderr, /TLSv1\.2/);
      const r2 = await curl(["-v", "--cacert", ca.caFile, "--tlsv1.3", url]);
      assertEquals(r2.status, 200);
      assertEquals(r2.body, "hello tls");
      assertMatch(r2.stderr, /TLSv1\.3/);
      assertMatch(r2.headers["x-cache"], /^HIT/);
      assertEquals(origin.count("/a"), 1);
      // Without the CA the client refuses the certificate: it really is the test CA's.
      const bad = await new Deno.Command("curl", { args: ["-sS", "--max-time", "5", url], stderr: "piped" }).output();
      assert(!bad.success);
    } finally {
      await cache.close();
      await origin.close();
    }
  });
});

Deno.test("cache tls: a forward proxy over TLS fetches http:// and https:// URLs (the client talks TLS to the proxy)", async () => {
  await withCa(async (ca) => {
    const proxyCert = await ca.issue("proxy", LOCAL);
    // Named only by DNS: the cache connects to the address it resolved and still verifies (and sends) the name.
    const originCert = await ca.issue("origin", ["DNS:localhost"]);
    const plain = new TestOrigin(() => new Response("plain", { headers: { "cache-control": "max-age=60" } }));
    const secure = new TlsOrigin(originCert, () => "secure");
    const cache = startCache(
      { acl: { allowDestinations: ["127.0.0.0/8"] }, originTls: { caFile: ca.caFile } },
      [{ mode: "forward", tls: proxyCert }],
    );
    try {
      const r = await curl([
        "--proxy",
        `https://127.0.0.1:${cache.port}`,
        "--proxy-cacert",
        ca.caFile,
        `http://127.0.0.1:${plain.port}/p`,
      ]);
      assertEquals(r.status, 200);
      assertEquals(r.body, "plain");
      const raw = await tlsExchange(
        cache.port,
        ca.caPem,
        `GET https://localhost:${secure.port}/s HTTP/1.1\r\nhost: localhost:${secure.port}\r\nconnection: close\r\n\r\n`,
      );
      assertMatch(raw, /^HTTP\/1\.1 200/);
      assertStringIncludes(raw, "\r\n\r\nsecure");
      assertEquals(secure.seen.map((s) => s.target), ["/s"]);
    } finally {
      await cache.close();
      await plain.close();
      await secure.close();
    }
  });
});

Deno.test("cache tls: an https:// origin is verified against the CA file, sent SNI, and pooled over TLS", async () => {
  await withCa(async (ca) => {
    const originCert = await ca.issue("origin", ["DNS:localhost"]);
    const origin = new TlsOrigin(originCert);
    const cache = startCache({
      defaultOrigin: `https://localhost:${origin.port}`,
      originTls: { caFile: ca.caFile },
    });
    try {
      for (const p of ["/1", "/2", "/3"]) {
        const r = await curl([`http://127.0.0.1:${cache.port}${p}`, "-H", "host: www.example"]);
        assertEquals(r.status, 200);
        assertEquals(r.body, `body ${p}`);
      }
      assertEquals(origin.seen.length, 3);
      // Three misses in a row over one kept-alive TLS connection.
      assertEquals(origin.connections, 1);
      assertEquals(new Set(origin.seen.map((s) => s.conn)).size, 1);
      assertEquals(cache.service.pool.idleCount, 1);
      // A configuration reload (SIGHUP) keeps the trust read at start: a new connection still verifies.
      await cache.service.reconfigure(cache.service.config);
      cache.service.pool.close();
      const again = await curl([`http://127.0.0.1:${cache.port}/4`]);
      assertEquals([again.status, again.body], [200, "body /4"]);
    } finally {
      await cache.close();
      await origin.close();
    }
  });
});

Deno.test("cache tls: an origin certificate for another name gets 502 with the reason logged", async () => {
  await withCa(async (ca) => {
    const wrong = await ca.issue("other", ["DNS:other.example"]);
    const origin = new TlsOrigin(wrong);
    const lines: string[] = [];
    setLogSink((l) => lines.push(l));
    const cache = startCache({
      defaultOrigin: `https://localhost:${origin.port}`,
      originTls: { caFile: ca.caFile },
    });
    try {
      const r = await curl([`http://127.0.0.1:${cache.port}/x`]);
      assertEquals(r.status, 502);
      assertStringIncludes(r.body, "TLS handshake with localhost failed");
      assertEquals(origin.seen.length, 0);
      const logged = lines.find((l) => l.includes("Origin TLS failed"));
      assert(logged, `no warning logged in ${lines.join("\n")}`);
      assertMatch(logged, /NotValidForName|not valid for|name/i);
    } finally {
      setLogSink();
      await cache.close();
      await origin.close();
    }
  });
});

Deno.test("cache tls: a self-signed origin is refused (502), and accepted only with insecure, which is logged", async () => {
  await withCa(async (ca) => {
    const self = await ca.selfSigned("self", ["DNS:localhost"]);
    const origin = new TlsOrigin(self, () => "self-signed");
    const lines: string[] = [];
    setLogSink((l) => lines.push(l));
    const strict = startCache({ defaultOrigin: `https://localhost:${origin.port}`, originTls: { caFile: ca.caFile } });
    const loose = startCache({ defaultOrigin: `https://localhost:${origin.port}`, originTls: { insecure: true } });
    try {
      const r1 = await curl([`http://127.0.0.1:${strict.port}/x`]);
      assertEquals(r1.status, 502);
      assert(lines.some((l) => l.includes("Origin TLS failed")));
      const r2 = await curl([`http://127.0.0.1:${loose.port}/x`]);
      assertEquals(r2.status, 200);
      assertEquals(r2.body, "self-signed");
      assert(
        lines.some((l) => l.includes("WARN") || l.includes('"warn"')) && lines.some((l) => /NOT verified/.test(l)),
      );
    } finally {
      setLogSink();
      await strict.close();
      await loose.close();
      await origin.close();
    }
  });
});

Deno.test("cache tls: https://site/x and http://site/x are different entries unless schemeInKey is false", async () => {
  await withCa(async (ca) => {
    const site = await ca.issue("site", LOCAL);
    for (const schemeInKey of [true, false]) {
      const origin = new TestOrigin(() => new Response("same", { headers: { "cache-control": "max-age=60" } }));
      const cache = startCache({ defaultOrigin: origin.url, schemeInKey }, [
        { mode: "accel" },
        { mode: "accel", tls: site },
      ]);
      try {
        const [plainPort, tlsPort] = cache.ports;
        const a = await curl([`http://127.0.0.1:${plainPort}/x`, "-H", "host: site"]);
        const b = await curl(["--cacert", ca.caFile, `https://127.0.0.1:${tlsPort}/x`, "-H", "host: site"]);
        assertEquals([a.status, b.status], [200, 200]);
        assertEquals(origin.count("/x"), schemeInKey ? 2 : 1, `schemeInKey ${schemeInKey}`);
        // The second request over TLS is a hit on the https:// entry either way.
        const c = await curl(["--cacert", ca.caFile, `https://127.0.0.1:${tlsPort}/x`, "-H", "host: site"]);
        assertMatch(c.headers["x-cache"], /^HIT/);
        assertEquals(origin.count("/x"), schemeInKey ? 2 : 1);
      } finally {
        await cache.close();
        await origin.close();
      }
    }
  });
});

Deno.test("cache tls: certificates reload without dropping connections; a bad file keeps the old one", async () => {
  await withCa(async (ca) => {
    const site = await ca.issue("site", LOCAL);
    const other = await makeTestCa();
    const origin = new TestOrigin(() => new Response("r", { headers: { "cache-control": "max-age=60" } }));
    const cache = startCache({ defaultOrigin: origin.url }, [{ mode: "accel", tls: site }]);
    const client = Deno.createHttpClient({ caCerts: [ca.caPem] });
    try {
      const url = `https://127.0.0.1:${cache.port}/r`;
      const held = await Deno.connectTls({ hostname: "127.0.0.1", port: cache.port, caCerts: [ca.caPem] });
      const ask = async () => {
        await held.write(new TextEncoder().encode("GET /r HTTP/1.1\r\nhost: x\r\n\r\n"));
        const buf = new Uint8Array(4096);
        const n = await held.read(buf);
        return new TextDecoder().decode(buf.subarray(0, n ?? 0));
      };
      assertMatch(await ask(), /^HTTP\/1\.1 200/);
      // A bad certificate file: the old one stays, and the reason names the file.
      const goodCert = await Deno.readTextFile(site.certFile);
      await Deno.writeTextFile(site.certFile, "not a certificate\n");
      const lines: string[] = [];
      setLogSink((l) => lines.push(l));
      const [bad] = cache.service.reloadCertificates();
      setLogSink();
      assert(!bad.ok);
      assertStringIncludes((bad as { error: Error }).error.message, site.certFile);
      const warned = lines.find((l) => l.includes("Certificate reload failed; keeping the old certificate"));
      assert(warned && warned.includes("no PEM certificate"), `no warning saying why: ${lines.join("\n")}`);
      assertEquals((await fetch(url, { client })).status, 200);
      // A certificate from another CA: new connections get it, the held connection keeps going.
      const next = await other.issue("site2", LOCAL);
      await Deno.writeTextFile(site.certFile, await Deno.readTextFile(next.certFile));
      await Deno.writeTextFile(site.keyFile, await Deno.readTextFile(next.keyFile));
      assertEquals(cache.service.reloadCertificates(), [{ ok: true, reloaded: true }]);
      assertMatch(await ask(), /^HTTP\/1\.1 200/);
      const trustsNew = Deno.createHttpClient({ caCerts: [other.caPem] });
      try {
        assertEquals((await fetch(url, { client: trustsNew })).status, 200);
        const oldCa = await new Deno.Command("curl", {
          args: ["-sS", "--max-time", "5", "--cacert", ca.caFile, url],
          stderr: "piped",
        }).output();
        assert(!oldCa.success, "a new connection still got the old certificate");
      } finally {
        trustsNew.close();
      }
      held.close();
      assert(goodCert.includes("BEGIN CERTIFICATE"));
    } finally {
      client.close();
      await cache.close();
      await origin.close();
      await other.remove();
    }
  });
});

Deno.test("cache tls: a key file readable by group or others is refused, naming the file", async () => {
  await withCa(async (ca) => {
    const site = await ca.issue("site", LOCAL);
    await Deno.chmod(site.keyFile, 0o644);
    const server = new HttpServer({
      hostname: "127.0.0.1",
      port: 0,
      maxHeaderBytes: 65536,
      tls: site,
    }, () => Promise.resolve());
    const e = assertThrows(() => server.start(), TlsFileError);
    assertStringIncludes(e.message, site.keyFile);
    assertStringIncludes(e.message, "644");
    assert(!e.message.includes("PRIVATE KEY"));
    await server.close();
  });
});

Deno.test("cache tls: PROXY protocol before TLS is a config error naming the key", () => {
  const e = assertThrows(() =>
    validateConfig({
      cache: { listen: [{ address: "127.0.0.1:8443", proxyProtocol: true, tls: { cert: "c.pem", key: "k.pem" } }] },
    }, { source: "test" })
  );
  assertStringIncludes(e.message, "cache.listen[0].proxyProtocol");
  assertStringIncludes(e.message, "not supported");
});

/** The cache's own sockets on `port` that are still connected (ss, this process's network). */
async function establishedOn(port: number): Promise<number> {
  const out = await new Deno.Command("ss", { args: ["-Htn", "state", "established", `sport = :${port}`] }).output();
  return new TextDecoder().decode(out.stdout).split("\n").filter((l) => l.trim()).length;
}

Deno.test({
  name: "cache tls: clients that stall before or inside the handshake are cut at the header timeout, sockets freed",
  ignore: (await new Deno.Command("sh", { args: ["-c", "command -v ss"] }).output()).code !== 0,
  async fn() {
    await withCa(async (ca) => {
      const site = await ca.issue("site", LOCAL);
      const origin = new TestOrigin(() => new Response("ok", { headers: { "cache-control": "max-age=60" } }));
      const cache = startCache({ defaultOrigin: origin.url, client: { headerTimeoutMs: 400 } }, [
        { mode: "accel", tls: site },
      ]);
      const attackers: Deno.Conn[] = [];
      try {
        // 20 silent clients, and 20 that send the start of a ClientHello record and stop.
        for (let i = 0; i < 40; i++) {
          const c = await Deno.connect({ hostname: "127.0.0.1", port: cache.port });
          if (i % 2) await c.write(new Uint8Array([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00]));
          attackers.push(c);
        }
        await sleep(100);
        assertEquals(await establishedOn(cache.port), 40);
        // Every attacker sees its connection closed soon after the timeout (bounded wait).
        const ends = await Promise.all(attackers.map(async (c) => {
          const started = Date.now();
          const timer = setTimeout(() => c.close(), 8000);
          const buf = new Uint8Array(256);
          while ((await c.read(buf).catch(() => null)) !== null) { /* until closed */ }
          clearTimeout(timer);
          return Date.now() - started;
        }));
        assert(ends.every((ms) => ms < 5000), `closed after ${Math.max(...ends)} ms`);
        // The server side holds none of them any more, and a real client is served.
        assertEquals(await establishedOn(cache.port), 0);
        const r = await curl(["--cacert", ca.caFile, `https://127.0.0.1:${cache.port}/x`]);
        assertEquals(r.status, 200);
      } finally {
        for (const c of attackers) {
          try {
            c.close();
          } catch { /* closed */ }
        }
        await cache.close();
        await origin.close();
      }
    });
  },
});
