import assert from "node:assert/strict";
import { HttpChecker, parseStatusRange } from "./http.ts";
import { TcpChecker } from "./tcp.ts";

async function withHttp(
  handler: (req: Request) => Response,
  fn: (port: number) => Promise<void>,
): Promise<void> {
  const ac = new AbortController();
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, signal: ac.signal, onListen: () => {} }, handler);
  try {
    await fn(server.addr.port);
  } finally {
    ac.abort();
    await server.finished;
  }
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

Deno.test("TcpChecker.check() succeeds on a listening port and reports refused otherwise", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  const accepting = (async () => {
    const c = await l.accept();
    c.close();
  })();
  try {
    const ok = await new TcpChecker().check({ address: "127.0.0.1", port }, 1000);
    assert.equal(ok.ok, true);
  } finally {
    await accepting;
    l.close();
  }
  const bad = await new TcpChecker().check({ address: "127.0.0.1", port: freePort() }, 1000);
  assert.deepEqual([bad.ok, bad.reason], [false, "refused"]);
});

Deno.test("HttpChecker.check() accepts a status in range and rejects one outside", async () => {
  let status = 204;
  await withHttp((req) => {
    assert.equal(new URL(req.url).pathname, "/healthz");
    return new Response(null, { status });
  }, async (port) => {
    const c = new HttpChecker({ path: "/healthz", expectStatus: "200-299" });
    assert.equal((await c.check({ address: "127.0.0.1", port }, 1000)).ok, true);
    status = 503;
    const r = await c.check({ address: "127.0.0.1", port }, 1000);
    assert.deepEqual([r.ok, r.reason], [false, "status 503"]);
  });
});

Deno.test("HttpChecker.check() verifies the body's SHA-256", async () => {
  // sha256("ok\n")
  const digest = "dc51b8c96c2d745df3bd5590d990230a482fd247123599548e0632fdbf97fc22";
  let body = "ok\n";
  await withHttp(() => new Response(body), async (port) => {
    const c = new HttpChecker({ path: "/", expectStatus: "200", bodySha256: digest });
    assert.equal((await c.check({ address: "127.0.0.1", port }, 1000)).ok, true);
    body = "not ok\n";
    assert.equal((await c.check({ address: "127.0.0.1", port }, 1000)).reason, "digest mismatch");
  });
});

Deno.test("HttpChecker.check() times out on a server that never answers", async () => {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  const conns: Deno.Conn[] = [];
  const accepting = (async () => conns.push(await l.accept()))();
  try {
    const r = await new HttpChecker({ path: "/", expectStatus: "200" }).check({ address: "127.0.0.1", port }, 150);
    assert.deepEqual([r.ok, r.reason], [false, "timeout"]);
  } finally {
    await accepting;
    for (const c of conns) c.close();
    l.close();
  }
});

Deno.test("parseStatusRange() reads NNN and NNN-NNN and rejects others", () => {
  assert.deepEqual(parseStatusRange("200"), [200, 200]);
  assert.deepEqual(parseStatusRange("200-399"), [200, 399]);
  assert.throws(() => parseStatusRange("2xx"), SyntaxError);
});
