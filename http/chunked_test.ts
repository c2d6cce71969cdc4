import { assertEquals, assertThrows } from "../tests/_assert.ts";
import { ChunkedDecoder, encodeChunk, LAST_CHUNK } from "./chunked.ts";
import { HttpParseError, latin1Decode, latin1Encode } from "./head_codec.ts";

function throwsNamed<E extends Error>(name: string, fn: () => unknown, Cls: new (...a: never[]) => E): E {
  try {
    return assertThrows(fn, Cls);
  } catch (e) {
    throw new Error(`${name}: ${(e as Error).message}`);
  }
}

function decodeAll(input: string, split = 0): { data: string; rest: string; done: boolean } {
  const d = new ChunkedDecoder();
  const bytes = latin1Encode(input);
  const parts = split > 0
    ? Array.from({ length: Math.ceil(bytes.length / split) }, (_, i) => bytes.subarray(i * split, (i + 1) * split))
    : [bytes];
  let data = "";
  let rest = "";
  let done = false;
  for (const p of parts) {
    if (done) {
      rest += latin1Decode(p);
      continue;
    }
    const r = d.push(p);
    data += r.data.map(latin1Decode).join("");
    done = r.done;
    if (done) rest += latin1Decode(r.rest);
  }
  return { data, rest, done };
}

Deno.test("ChunkedDecoder decodes bodies split at any byte", () => {
  const table: { name: string; input: string; data: string; rest: string }[] = [
    { name: "two chunks", input: "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", data: "hello world", rest: "" },
    { name: "upper-case hex", input: "A\r\n0123456789\r\n0\r\n\r\n", data: "0123456789", rest: "" },
    { name: "extension", input: "3;name=val\r\nabc\r\n0;x\r\n\r\n", data: "abc", rest: "" },
    { name: "BWS before extension", input: '3 ;a="b c"\r\nabc\r\n0\t;x\r\n\r\n', data: "abc", rest: "" },
    { name: "trailers", input: "1\r\na\r\n0\r\nX-T: 1\r\nY: 2\r\n\r\n", data: "a", rest: "" },
    { name: "pipelined rest", input: "1\r\na\r\n0\r\n\r\nGET / HTTP/1.1\r\n", data: "a", rest: "GET / HTTP/1.1\r\n" },
    { name: "leading zeros", input: "0003\r\nabc\r\n000\r\n\r\n", data: "abc", rest: "" },
  ];
  for (const row of table) {
    for (const split of [0, 1, 2, 3, 7]) {
      const r = decodeAll(row.input, split);
      assertEquals(r.done, true, `${row.name} split ${split}`);
      assertEquals(r.data, row.data, `${row.name} split ${split}`);
      assertEquals(r.rest, row.rest, `${row.name} split ${split}`);
    }
  }
});

Deno.test("ChunkedDecoder rejects malformed chunked bodies", () => {
  const table = [
    { name: "no size", input: "\r\n" },
    { name: "bad hex", input: "g\r\n" },
    { name: "missing CRLF after data", input: "1\r\nab\r\n" },
    { name: "bare LF after size", input: "1\nab" },
    { name: "size too large", input: "fffffffffffffff\r\n" },
    { name: "bare LF in trailer", input: "0\r\nX: 1\n\r\n" },
    { name: "two sizes separated by a space", input: "5 6\r\nhello\r\n" },
    { name: "whitespace after the size without extension", input: "5 \r\nhello\r\n" },
    { name: "non-hex digit after the size", input: "5g\r\nhello\r\n" },
    { name: "negative size", input: "-5\r\nhello\r\n" },
    { name: "0x prefix", input: "0x5\r\nhello\r\n" },
    { name: "plus sign", input: "+5\r\nhello\r\n" },
    { name: "12 hex digits", input: "000000000005\r\nhello\r\n" },
    { name: "size above 2^40", input: "10000000001\r\n" },
    { name: "bare LF after data", input: "5\r\nhello\n0\r\n\r\n" },
    { name: "bare CR after data", input: "5\r\nhello\rX" },
    { name: "no CRLF after data", input: "5\r\nhello0\r\n\r\n" },
    { name: "bare CR after size", input: "5\rhello" },
    { name: "bare LF after extension", input: "5;a=b\nhello\r\n" },
    { name: "NUL in extension", input: "5;a\x00\r\nhello\r\n" },
    { name: "bare LF ending the last chunk", input: "0\n\r\n" },
    { name: "bare LF ending the body", input: "0\r\n\n" },
    { name: "trailer line without colon", input: "0\r\nHTTP/1.1 200 OK\r\n\r\n" },
    { name: "trailer name not a token", input: "0\r\nX Y: 1\r\n\r\n" },
    { name: "trailer obs-fold", input: "0\r\nX: 1\r\n 2\r\n\r\n" },
    { name: "control byte in trailer value", input: "0\r\nX: 1\x01\r\n\r\n" },
  ];
  for (const row of table) {
    throwsNamed(row.name, () => new ChunkedDecoder().push(latin1Encode(row.input)), HttpParseError);
  }
});

Deno.test("encodeChunk() and LAST_CHUNK round-trip through the decoder", () => {
  const data = new Uint8Array(300).map((_, i) => i & 0xff);
  const enc = encodeChunk(data);
  assertEquals(latin1Decode(enc.subarray(0, 5)), "12c\r\n");
  const r = new ChunkedDecoder().push(new Uint8Array([...enc, ...LAST_CHUNK]));
  assertEquals(r.done, true);
  assertEquals(new Uint8Array(r.data.flatMap((d) => [...d])), data);
  assertEquals(encodeChunk(new Uint8Array(0)).length, 0);
});
