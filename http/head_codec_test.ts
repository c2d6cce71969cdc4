import { assertEquals, assertThrows } from "../tests/_assert.ts";
import {
  contentLength,
  findHeadEnd,
  HttpParseError,
  latin1Decode,
  latin1Encode,
  latin1EncodeInto,
  parseRequestHead,
  parseResponseHead,
  requestFraming,
  responseFraming,
  serializeResponseHead,
} from "./head_codec.ts";

function throwsNamed<E extends Error>(name: string, fn: () => unknown, Cls: new (...a: never[]) => E): E {
  try {
    return assertThrows(fn, Cls);
  } catch (e) {
    throw new Error(`${name}: ${(e as Error).message}`);
  }
}

const b = (s: string) => latin1Encode(s);

Deno.test("parseRequestHead() and requestFraming() accept valid requests", () => {
  const table: { name: string; raw: string; method: string; target: string; framing: unknown }[] = [
    {
      name: "origin-form",
      raw: "GET /a?b HTTP/1.1\r\nHost: x\r\n\r\n",
      method: "GET",
      target: "/a?b",
      framing: { kind: "none" },
    },
    {
      name: "absolute-form",
      raw: "GET http://h:8/p HTTP/1.1\r\nHost: h:8\r\n\r\n",
      method: "GET",
      target: "http://h:8/p",
      framing: { kind: "none" },
    },
    {
      name: "authority-form",
      raw: "CONNECT h:443 HTTP/1.1\r\nHost: h:443\r\n\r\n",
      method: "CONNECT",
      target: "h:443",
      framing: { kind: "none" },
    },
    {
      name: "HTTP/1.0 without Host",
      raw: "GET / HTTP/1.0\r\n\r\n",
      method: "GET",
      target: "/",
      framing: { kind: "none" },
    },
    {
      name: "Content-Length body",
      raw: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n",
      method: "POST",
      target: "/",
      framing: { kind: "length", length: 12 },
    },
    {
      name: "repeated equal Content-Length",
      raw: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3, 3\r\n\r\n",
      method: "POST",
      target: "/",
      framing: { kind: "length", length: 3 },
    },
    {
      name: "chunked",
      raw: "PUT / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n",
      method: "PUT",
      target: "/",
      framing: { kind: "chunked" },
    },
    {
      name: "OWS around values",
      raw: "GET / HTTP/1.1\r\nHost:   x  \r\nX-E:\r\n\r\n",
      method: "GET",
      target: "/",
      framing: { kind: "none" },
    },
  ];
  for (const row of table) {
    const h = parseRequestHead(b(row.raw));
    assertEquals(h.method, row.method, row.name);
    assertEquals(h.target, row.target, row.name);
    assertEquals(requestFraming(h), row.framing, row.name);
  }
  const h = parseRequestHead(b("GET / HTTP/1.1\r\nHost:   x  \r\nX-E:\r\nX-A: 1\r\nx-a: 2\r\n\r\n"));
  assertEquals(h.headers.get("host"), "x");
  assertEquals(h.headers.get("x-e"), "");
  assertEquals(h.headers.get("X-A"), "1, 2");
});

Deno.test("parseRequestHead() and requestFraming() reject malformed and smuggling requests", () => {
  const table: { name: string; raw: string; status: number }[] = [
    { name: "no version", raw: "GET /\r\nHost: x\r\n\r\n", status: 400 },
    { name: "lower-case version", raw: "GET / http/1.1\r\nHost: x\r\n\r\n", status: 400 },
    { name: "HTTP/2.0", raw: "GET / HTTP/2.0\r\nHost: x\r\n\r\n", status: 505 },
    { name: "method not a token", raw: "G(T / HTTP/1.1\r\nHost: x\r\n\r\n", status: 400 },
    { name: "control char in target", raw: "GET /\x01 HTTP/1.1\r\nHost: x\r\n\r\n", status: 400 },
    { name: "no Host in 1.1", raw: "GET / HTTP/1.1\r\n\r\n", status: 400 },
    { name: "two Hosts", raw: "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", status: 400 },
    { name: "space before colon", raw: "GET / HTTP/1.1\r\nHost : x\r\n\r\n", status: 400 },
    { name: "empty name", raw: "GET / HTTP/1.1\r\nHost: x\r\n: v\r\n\r\n", status: 400 },
    { name: "obs-fold", raw: "GET / HTTP/1.1\r\nHost: x\r\nA: 1\r\n\t2\r\n\r\n", status: 400 },
    { name: "bare LF inside", raw: "GET / HTTP/1.1\r\nHost: x\nA: 1\r\n\r\n", status: 400 },
    { name: "NUL in value", raw: "GET / HTTP/1.1\r\nHost: x\r\nA: a\x00b\r\n\r\n", status: 400 },
    {
      name: "CL and TE",
      raw: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
      status: 400,
    },
    {
      name: "different CLs",
      raw: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
      status: 400,
    },
    { name: "CL list differing", raw: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1, 2\r\n\r\n", status: 400 },
    { name: "negative CL", raw: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", status: 400 },
    { name: "CL with sign", raw: "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: +1\r\n\r\n", status: 400 },
    {
      name: "TE not final chunked",
      raw: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
      status: 400,
    },
    {
      name: "TE chunked twice",
      raw: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
      status: 400,
    },
    {
      name: "unknown coding",
      raw: "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: foo, chunked\r\n\r\n",
      status: 501,
    },
    { name: "TE in HTTP/1.0", raw: "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", status: 400 },
  ];
  for (const row of table) {
    const e = throwsNamed(row.name, () => requestFraming(parseRequestHead(b(row.raw))), HttpParseError);
    assertEquals(e.status, row.status, row.name);
  }
});

Deno.test("parseResponseHead() and responseFraming() handle status lines and body framing", () => {
  const table: { raw: string; method: string; status: number; framing: unknown }[] = [
    {
      raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
      method: "GET",
      status: 200,
      framing: { kind: "length", length: 5 },
    },
    { raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", method: "HEAD", status: 200, framing: { kind: "none" } },
    { raw: "HTTP/1.1 304 Not Modified\r\n\r\n", method: "GET", status: 304, framing: { kind: "none" } },
    { raw: "HTTP/1.1 204 No Content\r\n\r\n", method: "GET", status: 204, framing: { kind: "none" } },
    {
      raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
      method: "GET",
      status: 200,
      framing: { kind: "chunked" },
    },
    { raw: "HTTP/1.0 200\r\n\r\n", method: "GET", status: 200, framing: { kind: "close" } },
    {
      raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
      method: "GET",
      status: 200,
      framing: { kind: "close" },
    },
  ];
  for (const row of table) {
    const h = parseResponseHead(b(row.raw));
    assertEquals(h.status, row.status);
    assertEquals(responseFraming(h, row.method), row.framing, row.raw);
  }
  assertThrows(() => parseResponseHead(b("HTTP/1.1 2000 OK\r\n\r\n")), HttpParseError);
  assertThrows(() => parseResponseHead(b("ICY 200 OK\r\n\r\n")), HttpParseError);
  assertThrows(() => parseResponseHead(b("HTTP/1.1 004 Odd\r\n\r\n")), HttpParseError);
  assertThrows(() => parseResponseHead(b("HTTP/1.1 099 Odd\r\n\r\n")), HttpParseError);
  assertThrows(() => parseResponseHead(b("HTTP/1.1 600 Odd\r\n\r\n")), HttpParseError);
  assertThrows(
    () =>
      responseFraming(
        parseResponseHead(b("HTTP/1.1 200 OK\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n")),
        "GET",
      ),
    HttpParseError,
  );
});

Deno.test("responseFraming() rejects ambiguous framing fields on answers without a body too", () => {
  const table: { name: string; raw: string; method: string }[] = [
    {
      name: "HEAD with CL and TE",
      raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
      method: "HEAD",
    },
    {
      name: "HEAD with two CLs",
      raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
      method: "HEAD",
    },
    { name: "304 with CL list", raw: "HTTP/1.1 304 Not Modified\r\nContent-Length: 5, 7\r\n\r\n", method: "GET" },
    { name: "204 with bad CL", raw: "HTTP/1.1 204 No Content\r\nContent-Length: -1\r\n\r\n", method: "GET" },
    {
      name: "GET with conflicting CLs",
      raw: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 50\r\n\r\n",
      method: "GET",
    },
    {
      name: "GET with CL and TE",
      raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
      method: "GET",
    },
    { name: "GET with CL 1e3", raw: "HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\n", method: "GET" },
    { name: "GET with CL +5", raw: "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n", method: "GET" },
    {
      name: "GET with chunked twice",
      raw: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
      method: "GET",
    },
  ];
  for (const row of table) {
    throwsNamed(row.name, () => responseFraming(parseResponseHead(b(row.raw)), row.method), HttpParseError);
  }
  const head = parseResponseHead(b("HTTP/1.1 200 OK\r\nContent-Length: 7, 7\r\n\r\n"));
  assertEquals(responseFraming(head, "HEAD"), { kind: "none" });
  assertEquals(contentLength(head.headers, "response"), 7);
});

Deno.test("findHeadEnd() finds the blank line across split input", () => {
  const s = b("GET / HTTP/1.1\r\nHost: x\r\n\r\nBODY");
  assertEquals(findHeadEnd(s, 0, s.length), s.length - 4);
  assertEquals(findHeadEnd(s, 0, s.length - 5), -1);
  assertEquals(findHeadEnd(s, 20, s.length), s.length - 4);
});

Deno.test("serializeResponseHead() and latin1 round trip keep every octet", () => {
  assertEquals(serializeResponseHead(200, [["a", "1"]]), "HTTP/1.1 200 OK\r\na: 1\r\n\r\n");
  const all = new Uint8Array(256).map((_, i) => i);
  assertEquals(latin1Encode(latin1Decode(all)), all);
});

Deno.test("latin1EncodeInto() writes what latin1Encode() returns, at an offset, and refuses a short buffer", () => {
  const all = latin1Decode(new Uint8Array(256).map((_, i) => i));
  for (const s of ["", "HTTP/1.1 200 OK\r\n\r\n", all, "caf\u00e9 \u20ac"]) {
    const out = new Uint8Array(s.length + 3).fill(7);
    assertEquals(latin1EncodeInto(s, out, 2), s.length);
    assertEquals(out.subarray(2, 2 + s.length), latin1Encode(s), JSON.stringify(s).slice(0, 40));
    assertEquals([out[0], out[1], out[2 + s.length]], [7, 7, 7], "bytes around it untouched");
  }
  assertThrows(() => latin1EncodeInto("abcd", new Uint8Array(5), 2), RangeError, "4 chars into 3 bytes");
});

Deno.test("parseResponseHead() splits lines and fields byte by byte as the RFC 9112 grammar says", () => {
  const ok: { name: string; raw: string; minor: number; status: number; reason: string; fields: [string, string][] }[] =
    [
      { name: "no reason", raw: "HTTP/1.1 200\r\n\r\n", minor: 1, status: 200, reason: "", fields: [] },
      { name: "empty reason", raw: "HTTP/1.1 204 \r\n\r\n", minor: 1, status: 204, reason: "", fields: [] },
      {
        name: "reason with spaces",
        raw: "HTTP/1.0 404 Not  Found \r\n",
        minor: 0,
        status: 404,
        reason: "Not  Found ",
        fields: [],
      },
      {
        name: "names lower-cased, values trimmed, order and repeats kept",
        raw: 'HTTP/1.1 200 OK\r\nContent-Type: \t text/plain \t\r\nX-A: 1\r\nx-a:2\r\nETag: "v"\r\n\r\n',
        minor: 1,
        status: 200,
        reason: "OK",
        fields: [["content-type", "text/plain"], ["x-a", "1"], ["x-a", "2"], ["etag", '"v"']],
      },
      {
        name: "octets above 0x7f survive (ISO-8859-1)",
        raw: "HTTP/1.1 200 \u00c7a va\r\nX-Name: caf\u00e9 \u00ff\r\n\r\n",
        minor: 1,
        status: 200,
        reason: "\u00c7a va",
        fields: [["x-name", "caf\u00e9 \u00ff"]],
      },
      {
        name: "head without the blank line, empty lines skipped",
        raw: "HTTP/1.1 200 OK\r\nA: 1\r\n\r\nB: 2\r\n",
        minor: 1,
        status: 200,
        reason: "OK",
        fields: [["a", "1"], ["b", "2"]],
      },
      {
        name: "empty value",
        raw: "HTTP/1.1 200 OK\r\nX-E:\r\nX-F:   \r\n\r\n",
        minor: 1,
        status: 200,
        reason: "OK",
        fields: [["x-e", ""], ["x-f", ""]],
      },
    ];
  for (const row of ok) {
    const h = parseResponseHead(b(row.raw));
    assertEquals(
      [h.minor, h.status, h.reason, h.headers.fields],
      [row.minor, row.status, row.reason, row.fields],
      row.name,
    );
  }
  const bad: { name: string; raw: string; message: string; status?: number }[] = [
    { name: "bare LF", raw: "HTTP/1.1 200 OK\nA: 1\r\n\r\n", message: "bare CR or LF" },
    { name: "bare CR", raw: "HTTP/1.1 200 OK\r\nA: 1\r2\r\n\r\n", message: "bare CR or LF" },
    { name: "CR at the end", raw: "HTTP/1.1 200 OK\r\nA: 1\r", message: "bare CR or LF" },
    { name: "obsolete folding", raw: "HTTP/1.1 200 OK\r\nA: 1\r\n 2\r\n\r\n", message: "obsolete line folding" },
    { name: "no colon", raw: "HTTP/1.1 200 OK\r\nA 1\r\n\r\n", message: 'field line "A 1" has no name' },
    { name: "empty name", raw: "HTTP/1.1 200 OK\r\n: 1\r\n\r\n", message: "has no name" },
    {
      name: "name not a token",
      raw: "HTTP/1.1 200 OK\r\nA\u00e9: 1\r\n\r\n",
      message: 'field name "A\u00e9" is not a token',
    },
    { name: "space before colon", raw: "HTTP/1.1 200 OK\r\nA : 1\r\n\r\n", message: 'field name "A " is not a token' },
    { name: "DEL in value", raw: "HTTP/1.1 200 OK\r\nA: 1\x7f\r\n\r\n", message: 'control character in field "A"' },
    { name: "NUL in value", raw: "HTTP/1.1 200 OK\r\nA: \x00\r\n\r\n", message: "control character" },
    { name: "two-digit status", raw: "HTTP/1.1 20 OK\r\n\r\n", message: "bad status line" },
    { name: "no space after status", raw: "HTTP/1.1 200OK\r\n\r\n", message: "bad status line" },
    { name: "letters in version", raw: "HTTP/1.x 200 OK\r\n\r\n", message: "bad status line" },
    { name: "lower-case protocol", raw: "http/1.1 200 OK\r\n\r\n", message: "bad status line" },
    { name: "other version", raw: "HTTP/2.0 200 OK\r\n\r\n", message: "unsupported version", status: 505 },
  ];
  for (const row of bad) {
    const e = throwsNamed(row.name, () => parseResponseHead(b(row.raw)), HttpParseError);
    assertEquals(e.message.includes(row.message), true, `${row.name}: ${e.message}`);
    assertEquals(e.status, row.status ?? 400, row.name);
  }
});
