import { assertEquals } from "../tests/_assert.ts";
import { parseResponseHead } from "../http/head_codec.ts";
import { interimHeadBytes, interimRelay } from "./interim.ts";
import { exchange } from "./_test_kit.ts";

const head = (s: string) => parseResponseHead(new TextEncoder().encode(s));
const EARLY = head(
  "HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nConnection: x-hop\r\nX-Hop: 1\r\n" +
    "Content-Length: 0\r\nKeep-Alive: timeout=5\r\n\r\n",
);

Deno.test("interimHeadBytes: status line and end-to-end fields only (no hop-by-hop, no framing)", () => {
  assertEquals(
    new TextDecoder().decode(interimHeadBytes(EARLY)),
    "HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n",
  );
  assertEquals(
    new TextDecoder().decode(interimHeadBytes(head("HTTP/1.1 102\r\n\r\n"))),
    "HTTP/1.1 102 Processing\r\n\r\n",
  );
});

Deno.test("interimRelay: writes each interim head to an HTTP/1.1 client, in order", async () => {
  const ex = exchange("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  const relay = interimRelay(ex.req, ex.res)!;
  await relay(head("HTTP/1.1 100 Continue\r\n\r\n"));
  await relay(EARLY);
  assertEquals(
    ex.res.text(),
    "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n",
  );
});

Deno.test("interimRelay: none for an HTTP/1.0 client (RFC 9110 §15.2)", () => {
  const ex = exchange("GET / HTTP/1.0\r\nHost: a\r\n\r\n");
  assertEquals(interimRelay(ex.req, ex.res), undefined);
});

Deno.test("interimRelay: a 100 Continue is not repeated when the cache already sent one", async () => {
  const ex = exchange("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 1\r\nExpect: 100-continue\r\n\r\n");
  const relay = interimRelay(ex.req, ex.res, { sent100: true })!;
  await relay(head("HTTP/1.1 100 Continue\r\n\r\n"));
  await relay(head("HTTP/1.1 102 Processing\r\n\r\n"));
  assertEquals(ex.res.text(), "HTTP/1.1 102 Processing\r\n\r\n");
});

Deno.test("interimRelay: a client gone stops the relay without throwing", async () => {
  const ex = exchange("GET / HTTP/1.1\r\nHost: a\r\n\r\n");
  let writes = 0;
  ex.res.write = () => {
    writes++;
    return Promise.reject(new Error("gone"));
  };
  const relay = interimRelay(ex.req, ex.res)!;
  await relay(EARLY);
  await relay(EARLY);
  assertEquals(writes, 1);
});
