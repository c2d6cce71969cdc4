import { assertEquals } from "../tests/_assert.ts";
import { forwardHeaders } from "./fetch_plan.ts";
import { ForwardedHeaders } from "./forwarded_headers.ts";
import { exchange } from "./_test_kit.ts";

const opts = (node: string) => ({ host: "origin.test", node, cacheable: true, forwarded: new ForwardedHeaders([]) });
const via = (h: [string, string][]) => h.filter(([k]) => k === "via").map(([, v]) => v);

Deno.test("forwardHeaders() adds this node to the client's Via, or starts one, for each node name", () => {
  const plain = exchange("GET /a HTTP/1.1\r\nHost: x\r\n\r\n").req;
  const relayed = exchange("GET /a HTTP/1.1\r\nHost: x\r\nVia: 1.0 edge, 1.1 mid\r\n\r\n").req;
  const empty = exchange("GET /a HTTP/1.1\r\nHost: x\r\nVia:\r\n\r\n").req;
  assertEquals(via(forwardHeaders(plain, opts("n1"))), ["1.1 n1"]);
  assertEquals(via(forwardHeaders(relayed, opts("n1"))), ["1.0 edge, 1.1 mid, 1.1 n1"]);
  assertEquals(via(forwardHeaders(empty, opts("n1"))), ["1.1 n1"]);
  // Another node name in the same process (tests run several): its own entry, then back.
  assertEquals(via(forwardHeaders(plain, opts("n2"))), ["1.1 n2"]);
  assertEquals(via(forwardHeaders(relayed, opts("n2"))), ["1.0 edge, 1.1 mid, 1.1 n2"]);
  assertEquals(via(forwardHeaders(plain, opts("n1"))), ["1.1 n1"]);
  const h = forwardHeaders(relayed, opts("n1"));
  assertEquals(h[0], ["host", "origin.test"]);
  assertEquals(h.at(-1), ["x-forwarded-for", relayed.client.hostname]);
});
