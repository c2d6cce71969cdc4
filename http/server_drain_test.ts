import { assert, assertEquals } from "../tests/_assert.ts";
import { latin1Encode } from "./head_codec.ts";
import { HttpServer } from "./server.ts";

const OK = latin1Encode("HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok");

async function readAll(conn: Deno.Conn): Promise<string> {
  const buf = new Uint8Array(4096);
  let out = "";
  while (true) {
    const n = await conn.read(buf).catch(() => null);
    if (n === null) return out;
    out += new TextDecoder().decode(buf.subarray(0, n));
  }
}

Deno.test("HttpServer.drain()/finish(): requests in flight complete with Connection: close, idle connections close, no new ones", async () => {
  let release!: () => void;
  const slow = new Promise<void>((r) => release = r);
  const server = new HttpServer({ hostname: "127.0.0.1", port: 0, maxHeaderBytes: 65536 }, async (req, res) => {
    if (req.target === "/slow") await slow;
    const head = res.close ? "HTTP/1.1 200 OK\r\nconnection: close\r\ncontent-length: 2\r\n\r\nok" : null;
    await res.write(head ? latin1Encode(head) : OK);
  }).start();
  const port = server.addr.port;
  const idle = await Deno.connect({ hostname: "127.0.0.1", port });
  const busy = await Deno.connect({ hostname: "127.0.0.1", port });
  try {
    // `idle` served one request and waits; `busy` has a request in flight.
    await idle.write(latin1Encode("GET /a HTTP/1.1\r\nhost: x\r\n\r\n"));
    const first = new Uint8Array(4096);
    assert((await idle.read(first))! > 0);
    await busy.write(latin1Encode("GET /slow HTTP/1.1\r\nhost: x\r\n\r\n"));
    await new Promise((r) => setTimeout(r, 50));
    server.drain();
    const finished = server.finish(Date.now() + 5000);
    assertEquals(await readAll(idle), "", "the idle keep-alive connection is closed");
    await new Promise((r) => setTimeout(r, 50));
    let refused = false;
    await Deno.connect({ hostname: "127.0.0.1", port }).then((c) => c.close(), () => refused = true);
    assert(refused, "no new connection after finish()");
    release();
    const answer = await readAll(busy);
    assert(answer.startsWith("HTTP/1.1 200 OK"), answer);
    assert(/connection: close/i.test(answer), "the answer in flight closes its connection");
    await finished;
    assertEquals(server.connections, 0);
  } finally {
    idle.close();
    busy.close();
    await server.close();
  }
});

Deno.test("HttpServer.finish() closes what is still in flight at the deadline", async () => {
  const server = new HttpServer({ hostname: "127.0.0.1", port: 0, maxHeaderBytes: 65536 }, async (_req, res) => {
    await new Promise((r) => setTimeout(r, 300));
    await res.write(OK).catch(() => {});
  }).start();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  try {
    await conn.write(latin1Encode("GET / HTTP/1.1\r\nhost: x\r\n\r\n"));
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    await server.finish(Date.now() + 100);
    assert(Date.now() - t0 < 250, "finish() returned at the deadline");
    assertEquals(await readAll(conn), "");
  } finally {
    conn.close();
    await new Promise((r) => setTimeout(r, 300));
  }
});

Deno.test("HttpServer.finish() closes a connection that never sent a request after a moment, not at the deadline", async () => {
  const server = new HttpServer({ hostname: "127.0.0.1", port: 0, maxHeaderBytes: 65536 }, async (_req, res) => {
    await res.write(OK);
  }).start();
  const silent = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  try {
    await new Promise((r) => setTimeout(r, 50));
    const t0 = Date.now();
    await server.finish(Date.now() + 10_000);
    const took = Date.now() - t0;
    assert(took >= 900 && took < 3000, `closed after ${took} ms`);
    assertEquals(await readAll(silent), "");
  } finally {
    silent.close();
  }
});
