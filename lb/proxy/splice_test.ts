import assert from "node:assert/strict";
import { splice } from "./splice.ts";

/** A connected pair of TCP connections over loopback: [accepted side, connecting side]. */
async function pair(): Promise<[Deno.TcpConn, Deno.TcpConn]> {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  try {
    const [a, b] = await Promise.all([l.accept(), Deno.connect({ hostname: "127.0.0.1", port: l.addr.port })]);
    return [a, b];
  } finally {
    l.close();
  }
}

async function readAll(c: Deno.Conn): Promise<string> {
  const chunks: Uint8Array[] = [];
  const buf = new Uint8Array(4096);
  while (true) {
    const n = await c.read(buf).catch(() => null);
    if (n === null) break;
    chunks.push(buf.slice(0, n));
  }
  return new TextDecoder().decode(new Uint8Array(chunks.flatMap((c) => [...c])));
}

Deno.test("splice() copies both ways, passes half-close on, and counts reads and bytes", async () => {
  // client <-> [proxyClient | proxyServer] <-> server
  const [proxyClient, client] = await pair();
  const [server, proxyServer] = await pair();
  let inBytes = 0;
  let outBytes = 0;
  let inReads = 0;
  const done = splice(proxyClient, proxyServer, {
    idleTimeoutMs: 5000,
    onIn: (n) => {
      inBytes += n;
      inReads++;
    },
    onOut: (n) => (outBytes += n),
  });
  await client.write(new TextEncoder().encode("request"));
  await client.closeWrite(); // half-close: the server must still be able to answer
  const req = await readAll(server);
  assert.equal(req, "request");
  await server.write(new TextEncoder().encode("response after the client's FIN"));
  server.close();
  assert.equal(await readAll(client), "response after the client's FIN");
  client.close();
  assert.equal(await done, "closed");
  assert.deepEqual([inBytes, outBytes], [7, 31]);
  assert.ok(inReads >= 1);
});

Deno.test("splice() closes both sides after the idle timeout", async () => {
  const [proxyClient, client] = await pair();
  const [server, proxyServer] = await pair();
  const started = performance.now();
  const end = await splice(proxyClient, proxyServer, { idleTimeoutMs: 150 });
  assert.equal(end, "idle");
  assert.ok(performance.now() - started >= 140);
  assert.equal(await readAll(client), "");
  assert.equal(await readAll(server), "");
  client.close();
  server.close();
});

Deno.test("splice() keeps a slow reader's data flowing without loss (back-pressure)", async () => {
  const [proxyClient, client] = await pair();
  const [server, proxyServer] = await pair();
  const done = splice(proxyClient, proxyServer, { idleTimeoutMs: 5000, bufferBytes: 1024 });
  const total = 4 * 1024 * 1024;
  const writing = (async () => {
    const chunk = new Uint8Array(64 * 1024).fill(7);
    for (let sent = 0; sent < total; sent += chunk.length) {
      for (let off = 0; off < chunk.length;) off += await server.write(chunk.subarray(off));
    }
    server.close();
  })();
  let got = 0;
  const buf = new Uint8Array(8192);
  while (true) {
    const n = await client.read(buf);
    if (n === null) break;
    got += n;
    if (got % (512 * 1024) < 8192) await new Promise((r) => setTimeout(r, 5)); // a slow reader
  }
  await writing;
  client.close();
  await done;
  assert.equal(got, total);
});
