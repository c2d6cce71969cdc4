/**
 * Test helper process: one persistent HTTP/1.1 connection to HOST:PORT. For each line read on
 * stdin it sends `GET /` on that same connection and prints the response body's first line (or
 * `error: ...`), so a test can check that an established flow survives events in between.
 *
 * Usage: _keepalive_client.ts HOST PORT
 *
 * @module
 */
const [host, port] = Deno.args;
const conn = await Deno.connect({ hostname: host, port: Number(port) });
const enc = new TextEncoder(), dec = new TextDecoder();
let pending = new Uint8Array(0);

async function readResponse(): Promise<string> {
  const deadline = Date.now() + 5000;
  const chunk = new Uint8Array(65536);
  for (;;) {
    const text = dec.decode(pending);
    const end = text.indexOf("\r\n\r\n");
    if (end >= 0) {
      const len = Number(/content-length:\s*(\d+)/i.exec(text.slice(0, end))?.[1] ?? 0);
      const total = enc.encode(text.slice(0, end + 4)).length + len;
      if (pending.length >= total) {
        const body = dec.decode(pending.subarray(total - len, total));
        pending = pending.slice(total);
        return body.split("\n")[0];
      }
    }
    if (Date.now() > deadline) throw new Error("timeout");
    const n = await conn.read(chunk);
    if (n === null) throw new Error("connection closed");
    const merged = new Uint8Array(pending.length + n);
    merged.set(pending);
    merged.set(chunk.subarray(0, n), pending.length);
    pending = merged;
  }
}

const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
let buf = "";
for await (const part of lines) {
  buf += part;
  let i;
  while ((i = buf.indexOf("\n")) >= 0) {
    buf = buf.slice(i + 1);
    try {
      await conn.write(enc.encode(`GET / HTTP/1.1\r\nHost: ${host}\r\n\r\n`));
      console.log(await readResponse());
    } catch (e) {
      console.log(`error: ${(e as Error).message}`);
    }
  }
}
conn.close();
