/**
 * `webcache cache` with a TLS listener as a process: a key file readable by others stops it with
 * exit 2 naming the file, and SIGHUP re-reads the certificate in every worker while an
 * established connection keeps working.
 */
import { assert, assertEquals, assertMatch, assertStringIncludes } from "../_assert.ts";
import { runWebcache, spawnWebcache } from "../_bin.ts";
import { sleep, TestOrigin } from "./_cache_harness.ts";
import { makeTestCa } from "./_tls_ca.ts";
import { Lines } from "./_dataplane_lab.ts";

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = l.addr.port;
  l.close();
  return p;
}

/** Whether a new TLS connection to `port` verifies against `caPem` and gets a response. */
async function verifies(port: number, caPem: string): Promise<boolean> {
  let c: Deno.TlsConn | undefined;
  try {
    c = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [caPem] });
    await c.handshake();
    return true;
  } catch {
    return false;
  } finally {
    try {
      c?.close();
    } catch { /* closed */ }
  }
}

Deno.test("cache tls cli: a key file with mode 0644 stops the cache (and fails check-config) with exit 2, naming the file", async () => {
  const ca = await makeTestCa();
  try {
    const site = await ca.issue("site", ["IP:127.0.0.1"]);
    await Deno.chmod(site.keyFile, 0o644);
    const r = await runWebcache([
      "cache",
      "--listen",
      `127.0.0.1:${freePort()},cert=${site.certFile},key=${site.keyFile}`,
      "--origin",
      "http://127.0.0.1:9",
      "--workers",
      "1",
      "--admin",
      `127.0.0.1:${freePort()}`,
    ]);
    assertEquals(r.code, 2, r.stderr);
    assertStringIncludes(r.stderr, site.keyFile);
    assertMatch(r.stderr, /group or others/);
    assert(!r.stderr.includes("PRIVATE KEY"));
    // check-config reads the files as the cache would.
    const cfgFile = `${ca.dir}/appliance.yaml`;
    await Deno.writeTextFile(
      cfgFile,
      JSON.stringify({
        cache: { listen: [{ address: "127.0.0.1:8443", tls: { cert: site.certFile, key: site.keyFile } }] },
      }),
    );
    const c = await runWebcache(["check-config", cfgFile]);
    assertEquals(c.code, 2, c.stderr);
    assertStringIncludes(c.stderr, `cache.listen[0].tls: Refusing TLS key file "${site.keyFile}"`);
    await Deno.chmod(site.keyFile, 0o600);
    assertEquals((await runWebcache(["check-config", "-q", cfgFile])).code, 0);
  } finally {
    await ca.remove();
  }
});

Deno.test("cache tls cli: SIGHUP reloads the certificate in every worker; an established connection keeps going", async () => {
  const ca = await makeTestCa();
  const other = await makeTestCa();
  const origin = new TestOrigin(() => new Response("ok", { headers: { "cache-control": "max-age=60" } }));
  const port = freePort();
  const site = await ca.issue("site", ["IP:127.0.0.1"]);
  const child = await spawnWebcache([
    "cache",
    "--listen",
    `127.0.0.1:${port},cert=${site.certFile},key=${site.keyFile}`,
    "--origin",
    origin.url,
    "--workers",
    "2",
    "--admin",
    `127.0.0.1:${freePort()}`,
  ], { stdout: "null" });
  const log = new Lines(child.stderr);
  try {
    // SIGHUP is handled once start-up is complete.
    await log.waitFor((l) => l.includes('"Cache started"'), 30_000);
    let up = false;
    for (let i = 0; i < 200 && !up; i++) {
      up = await verifies(port, ca.caPem);
      if (!up) await sleep(50);
    }
    assert(up, "the TLS listener never came up");
    const held = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts: [ca.caPem] });
    const ask = async () => {
      await held.write(new TextEncoder().encode("GET /k HTTP/1.1\r\nhost: x\r\n\r\n"));
      const buf = new Uint8Array(4096);
      const n = await held.read(buf);
      return new TextDecoder().decode(buf.subarray(0, n ?? 0));
    };
    assertMatch(await ask(), /^HTTP\/1\.1 200/);
    const next = await other.issue("site2", ["IP:127.0.0.1"]);
    await Deno.writeTextFile(site.certFile, await Deno.readTextFile(next.certFile));
    await Deno.writeTextFile(site.keyFile, await Deno.readTextFile(next.keyFile));
    child.kill("SIGHUP");
    // Every new connection, whichever worker accepts it, gets the new certificate.
    let all = false;
    for (let i = 0; i < 100 && !all; i++) {
      await sleep(50);
      const got = await Promise.all(Array.from({ length: 8 }, () => verifies(port, other.caPem)));
      all = got.every((x) => x);
    }
    assert(all, "some new connections still got the old certificate after SIGHUP");
    assertEquals(await verifies(port, ca.caPem), false);
    assertMatch(await ask(), /^HTTP\/1\.1 200/);
    held.close();
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await log.done;
    await origin.close();
    await ca.remove();
    await other.remove();
  }
});
