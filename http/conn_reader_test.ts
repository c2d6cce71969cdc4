import { assertEquals, assertRejects } from "../tests/_assert.ts";
import { ConnReader } from "./conn_reader.ts";
import { HttpParseError, latin1Decode, latin1Encode } from "./head_codec.ts";

/** A byte source that returns the given pieces one per read. */
function source(pieces: string[]) {
  let i = 0;
  let rest: Uint8Array | undefined;
  return {
    read(p: Uint8Array): Promise<number | null> {
      if (!rest || rest.length === 0) {
        if (i >= pieces.length) return Promise.resolve(null);
        rest = latin1Encode(pieces[i++]);
      }
      const n = Math.min(p.length, rest.length);
      p.set(rest.subarray(0, n));
      rest = rest.subarray(n);
      return Promise.resolve(n);
    },
  };
}

Deno.test("ConnReader.readHead() finds every pipelined head, also after its buffer is compacted", async () => {
  const req = (n: number) => `GET /${"x".repeat(n % 97)} HTTP/1.1\r\nHost: h\r\n\r\n`;
  const all: string[] = [];
  for (let n = 0; n < 2000; n++) all.push(req(n));
  // Feed in odd-sized pieces so heads straddle reads and the 16 KiB buffer wraps many times.
  const text = all.join("");
  const pieces: string[] = [];
  for (let i = 0; i < text.length; i += 777) pieces.push(text.slice(i, i + 777));
  const r = new ConnReader(source(pieces));
  for (let n = 0; n < 2000; n++) {
    const head = await r.readHead(8192);
    assertEquals(head === null ? null : latin1Decode(head), req(n), `head ${n}`);
  }
  assertEquals(await r.readHead(8192), null);
});

Deno.test("ConnReader.body() reads length-delimited and chunked bodies and leaves the next message", async () => {
  const r = new ConnReader(source(["POST / HTTP/1.1\r\nHost: h\r\n\r\nhel", "lo5\r\nworld\r\n0\r\n\r\nNEXT"]));
  await r.readHead(1024);
  let a = "";
  for await (const c of r.body({ kind: "length", length: 5 })) a += latin1Decode(c);
  assertEquals(a, "hello");
  let b = "";
  for await (const c of r.body({ kind: "chunked" })) b += latin1Decode(c);
  assertEquals(b, "world");
  assertEquals(latin1Decode(r.peek()), "NEXT");
});

Deno.test("ConnReader.readFixed() reads bodies buffered, split over reads and followed by the next message", async () => {
  const cases: { pieces: string[]; length: number; body: string; rest: string; sync: boolean }[] = [
    // Whole body in the same read as the head: returned without a promise.
    { pieces: ["HTTP/1.1 200 OK\r\n\r\nhelloNEXT"], length: 5, body: "hello", rest: "NEXT", sync: true },
    // Body split over several short reads.
    { pieces: ["HTTP/1.1 200 OK\r\n\r\nhe", "l", "lo"], length: 5, body: "hello", rest: "", sync: false },
    // Nothing of the body buffered yet.
    { pieces: ["HTTP/1.1 200 OK\r\n\r\n", "hello"], length: 5, body: "hello", rest: "", sync: false },
    // Empty body.
    { pieces: ["HTTP/1.1 200 OK\r\n\r\nX"], length: 0, body: "", rest: "X", sync: true },
    // A body larger than the reader's 16 KiB buffer.
    {
      pieces: ["HTTP/1.1 200 OK\r\n\r\n" + "a".repeat(10_000), "b".repeat(30_000)],
      length: 40_000,
      body: "a".repeat(10_000) + "b".repeat(30_000),
      rest: "",
      sync: false,
    },
  ];
  for (const c of cases) {
    const r = new ConnReader(source(c.pieces));
    await r.readHead(1024);
    const got = r.readFixed(c.length);
    assertEquals(!(got instanceof Promise), c.sync, `sync for ${JSON.stringify(c.pieces).slice(0, 60)}`);
    assertEquals(latin1Decode(await got), c.body);
    assertEquals(latin1Decode(r.peek()), c.rest);
  }
});

Deno.test("ConnReader.readFixed() rejects a body the peer cut short", async () => {
  const r = new ConnReader(source(["HTTP/1.1 200 OK\r\n\r\nhel", "lo"]));
  await r.readHead(1024);
  await assertRejects(async () => await r.readFixed(10), HttpParseError, "connection closed with 5 bytes missing");
  assertEquals(r.eof, true);
});

Deno.test("ConnReader.readFixed() result stays intact after later reads reuse the buffer", async () => {
  const r = new ConnReader(source(["HTTP/1.1 200 OK\r\n\r\nfirst", "HTTP/1.1 200 OK\r\n\r\nsecnd"]));
  await r.readHead(1024);
  const a = await r.readFixed(5);
  await r.readHead(1024);
  const b = await r.readFixed(5);
  assertEquals([latin1Decode(a), latin1Decode(b)], ["first", "secnd"]);
});
