import { assertEquals, assertRejects, assertStringIncludes } from "../tests/_assert.ts";
import { makeTestCa } from "../tests/integration/_tls_ca.ts";
import { connectInsecureTls, OriginTlsError, startOriginTls } from "./origin_tls.ts";

/** A TLS echo server of one connection. */
function echo(cert: { certFile: string; keyFile: string }) {
  const l = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: Deno.readTextFileSync(cert.certFile),
    key: Deno.readTextFileSync(cert.keyFile),
  });
  const done = (async () => {
    for await (const c of l) {
      const b = new Uint8Array(64);
      try {
        const n = await c.read(b);
        if (n) await c.write(b.subarray(0, n));
      } catch { /* handshake refused by the client */ }
      try {
        c.close();
      } catch { /* closed */ }
    }
  })();
  return { port: l.addr.port, close: async () => (l.close(), await done) };
}

async function roundTrip(c: { read(p: Uint8Array): Promise<number | null>; write(p: Uint8Array): Promise<number> }) {
  await c.write(new TextEncoder().encode("ping"));
  const b = new Uint8Array(64);
  const n = await c.read(b);
  return new TextDecoder().decode(b.subarray(0, n ?? 0));
}

Deno.test("startOriginTls() verifies the name against the CA, and fails with the reason otherwise", async () => {
  const ca = await makeTestCa();
  const s = echo(await ca.issue("o", ["DNS:localhost"]));
  try {
    const ok = await startOriginTls(await Deno.connect({ hostname: "127.0.0.1", port: s.port }), "localhost", {
      caCerts: [ca.caPem],
    });
    assertEquals(await roundTrip(ok), "ping");
    ok.close();
    const e = await assertRejects(
      async () =>
        await startOriginTls(await Deno.connect({ hostname: "127.0.0.1", port: s.port }), "wrong.example", {
          caCerts: [ca.caPem],
        }),
      OriginTlsError,
    );
    assertStringIncludes(e.message, "wrong.example");
    await assertRejects(
      async () => await startOriginTls(await Deno.connect({ hostname: "127.0.0.1", port: s.port }), "localhost", {}),
      OriginTlsError,
    );
  } finally {
    await s.close();
    await ca.remove();
  }
});

Deno.test("connectInsecureTls() talks to a self-signed server, reads and writes", async () => {
  const ca = await makeTestCa();
  const s = echo(await ca.selfSigned("self", ["DNS:localhost"]));
  try {
    const c = await connectInsecureTls(
      { hostname: "127.0.0.1", port: s.port },
      "localhost",
      new AbortController().signal,
    );
    assertEquals(await roundTrip(c), "ping");
    assertEquals((c.remoteAddr as Deno.NetAddr).port, s.port);
    assertEquals(await c.read(new Uint8Array(8)), null);
    c.close();
  } finally {
    await s.close();
    await ca.remove();
  }
});
