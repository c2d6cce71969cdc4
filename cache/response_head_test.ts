import { assertEquals } from "../tests/_assert.ts";
import { latin1Decode } from "../http/head_codec.ts";
import { clientHead, headInRoom, headWithBody, INLINE_BODY_BYTES, peerCopy, PreparedHit } from "./response_head.ts";
import type { StoredObject } from "./store/store.ts";
import { MemoryStore } from "./store/memory_store.ts";
import { CompactMeta } from "./store/compact_meta.ts";
import { currentAgeMs } from "./semantics/mod.ts";

function object(body: Uint8Array, headers: [string, string][]): StoredObject {
  return {
    meta: {
      primary: "http://a/",
      variant: "",
      status: 200,
      headers,
      vary: [],
      requestTime: 0,
      responseTime: 0,
      expiresAt: 0,
      bodyBytes: body.length,
    },
    body,
    openBody: () => new ReadableStream(),
  };
}

Deno.test("clientHead() owns framing, Age, Via, X-Cache and Connection", () => {
  const head = clientHead({
    status: 200,
    headers: [["content-type", "text/plain"], ["content-length", "99"], ["age", "5"], ["via", "1.0 up"], [
      "connection",
      "x",
    ]],
    node: "c1",
    xCache: "HIT from c1",
    age: "7",
    framing: { kind: "length", length: 3 },
    close: true,
  });
  assertEquals(
    head,
    "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\nage: 7\r\nvia: 1.0 up, 1.1 c1\r\nx-cache: HIT from c1\r\n" +
      "content-length: 3\r\nconnection: close\r\n\r\n",
  );
  const chunked = clientHead({
    status: 404,
    headers: [],
    node: "c1",
    xCache: "MISS from c1",
    framing: { kind: "chunked" },
    close: false,
    keepAlive10: true,
  });
  assertEquals(
    chunked,
    "HTTP/1.1 404 Not Found\r\nvia: 1.1 c1\r\nx-cache: MISS from c1\r\ntransfer-encoding: chunked\r\n" +
      "connection: keep-alive\r\n\r\n",
  );
});

Deno.test("PreparedHit writes the stored head with the current Age, in one buffer for small bodies", () => {
  const p = new PreparedHit(
    object(new TextEncoder().encode("body"), [["content-type", "text/x"]]),
    "c1",
    "HIT from c1",
  );
  const [a] = p.bytes(3);
  assertEquals(
    latin1Decode(a),
    "HTTP/1.1 200 OK\r\ncontent-type: text/x\r\nvia: 1.1 c1\r\nx-cache: HIT from c1\r\ncontent-length: 4\r\n" +
      "age: 3\r\n\r\nbody",
  );
  assertEquals(p.bytes(3)[0], a, "same age: the same buffer");
  assertEquals(latin1Decode(p.bytes(12)[0]).includes("age: 12\r\n\r\nbody"), true);
  assertEquals(p.contentType, "text/x");
  assertEquals(p.noCache, false);
  const big = new PreparedHit(
    object(new Uint8Array(INLINE_BODY_BYTES + 1), [["cache-control", "no-cache"]]),
    "c1",
    "HIT",
  );
  const parts = big.bytes(0);
  assertEquals(parts.length, 2);
  assertEquals(parts[1].length, INLINE_BODY_BYTES + 1);
  assertEquals(big.noCache, true);
});

Deno.test("PreparedHit builds the first hit of a second in the connection's scratch buffer", () => {
  const p = new PreparedHit(object(new TextEncoder().encode("xyz"), []), "c1", "HIT from c1");
  const scratch = new Uint8Array(4096);
  const first = p.bytes(5, { scratch: () => scratch })[0];
  assertEquals(first.buffer, scratch.buffer, "rare hit: no allocation");
  assertEquals(latin1Decode(first).endsWith("age: 5\r\n\r\nxyz"), true);
  const second = p.bytes(5, { scratch: () => scratch })[0];
  assertEquals(second.buffer === scratch.buffer, false, "hit again in the same second: own buffer");
  assertEquals(p.bytes(5, { scratch: () => scratch })[0], second, "and reused after that");
  assertEquals(p.bytes(6, { scratch: () => scratch })[0].buffer, scratch.buffer);
});

/** A disk tier's object: body at `at` in a buffer of its own read, with `room` bytes of headroom before it. */
function diskObject(text: string, room: number): StoredObject & { buf: Uint8Array } {
  const buf = new Uint8Array(room + text.length + 16);
  const body = buf.subarray(room, room + text.length);
  new TextEncoder().encodeInto(text, body);
  let left = room;
  return {
    ...object(body, [["content-type", "text/x"]]),
    tier: "disk",
    buf,
    takeHeadroom: () => {
      const n = left;
      left = 0;
      return n;
    },
  };
}

Deno.test("PreparedHit sends a disk object's head and body as one buffer in its headroom, without copying", () => {
  const first = diskObject("hello", 200);
  const p = new PreparedHit(first, "c1", "HIT from c1");
  const want = "HTTP/1.1 200 OK\r\ncontent-type: text/x\r\nvia: 1.1 c1\r\nx-cache: HIT from c1\r\n" +
    "content-length: 5\r\nage: 4\r\n\r\nhello";
  const obj = diskObject("hello", 200); // the next read of the same file version: same meta, new body
  const [one, ...rest] = p.bytes(4, undefined, obj);
  assertEquals(rest.length, 0);
  assertEquals(latin1Decode(one), want);
  assertEquals(one.buffer, obj.buf.buffer, "the body is not copied");
  assertEquals(one.byteOffset + one.length, obj.body!.byteOffset + obj.body!.length);
  // The headroom is used once; the next response for the same object goes through the scratch buffer.
  const scratch = new Uint8Array(4096);
  const [again] = p.bytes(4, { scratch: () => scratch }, obj);
  assertEquals(again.buffer, scratch.buffer);
  assertEquals(latin1Decode(again), want);
  // Too little headroom: the scratch buffer; a disk body is never kept by the prepared hit.
  const tight = diskObject("world", 10);
  const [t] = p.bytes(4, { scratch: () => scratch }, tight);
  assertEquals(latin1Decode(t).endsWith("age: 4\r\n\r\nworld"), true);
  assertEquals(tight.takeHeadroom!(), 0, "claimed by the attempt");
  const [u] = p.bytes(4, undefined, diskObject("again", 0));
  assertEquals(latin1Decode(u).endsWith("\r\n\r\nagain"), true, "the body of this read, not an earlier one");
});

Deno.test("headInRoom() writes the head before the body once, only for a body that starts the object's", () => {
  const head = new TextEncoder().encode("HEAD\r\n\r\n");
  const obj = diskObject("body", 64);
  assertEquals(headInRoom(obj, obj.body!.subarray(1), head), undefined, "a range not at the start");
  const one = headInRoom(obj, obj.body!, head)!;
  assertEquals(latin1Decode(one), "HEAD\r\n\r\nbody");
  assertEquals(one.buffer, obj.buf.buffer);
  assertEquals(headInRoom(obj, obj.body!, head), undefined, "the headroom is gone");
  assertEquals(headInRoom(diskObject("body", 3), diskObject("body", 3).body!, head), undefined);
  assertEquals(headInRoom(object(new Uint8Array(4), []), new Uint8Array(4), head), undefined, "no headroom");
});

Deno.test("headWithBody() puts head and body in one buffer, in the scratch buffer when one is given", () => {
  const head = clientHead({
    status: 200,
    headers: [["content-type", "text/plain"]],
    node: "n1",
    xCache: "MISS from n1",
    framing: { kind: "length", length: 5 },
    close: false,
  });
  const body = new TextEncoder().encode("hello");
  const own = headWithBody(head, body);
  assertEquals(new TextDecoder().decode(own), head + "hello");
  const scratchBuf = new Uint8Array(4096);
  const viaScratch = headWithBody(head, body, { scratch: () => scratchBuf });
  assertEquals(viaScratch.buffer, scratchBuf.buffer);
  assertEquals(viaScratch.length, head.length + 5);
  assertEquals(new TextDecoder().decode(viaScratch), head + "hello");
});

Deno.test("clientHead() drops Set-Cookie and Set-Cookie2 from responses from storage only", () => {
  const headers: [string, string][] = [["set-cookie", "a=1"], ["content-type", "text/plain"], ["set-cookie2", "b=2"]];
  const base = {
    status: 200,
    headers,
    node: "n",
    xCache: "HIT from n",
    framing: { kind: "none" as const },
    close: false,
  };
  const fresh = clientHead(base);
  assertEquals(fresh.includes("set-cookie: a=1\r\n") && fresh.includes("set-cookie2: b=2\r\n"), true);
  const stored = clientHead({ ...base, fromStore: true });
  assertEquals(/set-cookie/i.test(stored), false);
  assertEquals(stored.includes("content-type: text/plain\r\n"), true);
});

Deno.test("clientHead() drops the fields named in drop (qualified private=/no-cache=) and nothing else", () => {
  const base = {
    status: 200,
    headers: [["x-user", "alice"], ["content-type", "text/plain"], ["x-token", "t"]] as [string, string][],
    node: "n",
    xCache: "MISS from n",
    framing: { kind: "none" as const },
    close: false,
  };
  const all = clientHead(base);
  assertEquals(all.includes("x-user: alice\r\n") && all.includes("x-token: t\r\n"), true);
  const other = clientHead({ ...base, drop: ["x-user", "x-token"] });
  assertEquals(/x-user|x-token/.test(other), false);
  assertEquals(other.includes("content-type: text/plain\r\n"), true);
});

Deno.test("PreparedHit never sends a stored Set-Cookie", () => {
  const hit = new PreparedHit(
    object(new Uint8Array([65]), [["set-cookie", "s=1"], ["content-type", "x/y"]]),
    "n",
    "HIT",
  );
  const text = latin1Decode(hit.bytes(3)[0]);
  assertEquals(/set-cookie/i.test(text), false);
  assertEquals(text.includes("content-type: x/y\r\n"), true);
});

Deno.test("peerCopy() tells stored peer answers from a parent's fetch for this client", () => {
  assertEquals(peerCopy("SIBLING_HIT", null), true);
  assertEquals(peerCopy("SIBLING_HIT", "MISS from s"), true);
  assertEquals(peerCopy("PARENT_HIT", "HIT from p"), true);
  assertEquals(peerCopy("PARENT_HIT", "MISS from p"), false);
  assertEquals(peerCopy("PARENT_HIT", null), true, "no X-Cache: counted as a copy");
  assertEquals(peerCopy("FIRST_UP_PARENT", "HIT from p"), true);
  assertEquals(peerCopy("FIRST_UP_PARENT", "MISS from p"), false);
  assertEquals(peerCopy("CARP", "HIT from owner"), true);
  assertEquals(peerCopy("FIRST_PARENT_MISS", "MISS from p"), false);
  assertEquals(peerCopy("HIER_DIRECT", "HIT from somewhere"), false);
});

Deno.test("PreparedHit.ageMs() is the stored object's current age (RFC 9111 §4.2.3) at any time", () => {
  for (
    const [headers, requestTime, responseTime] of [
      [[["date", "Thu, 01 Jan 2026 00:00:00 GMT"], ["age", "30"]], 1767225600000, 1767225602000],
      [[["date", "Thu, 01 Jan 2026 00:00:00 GMT"]], 1767225650000, 1767225660000], // apparent age wins
      [[["age", "5"]], 1000, 1500],
      [[], 0, 0],
    ] as [[string, string][], number, number][]
  ) {
    const o = object(new Uint8Array(1), headers);
    o.meta.requestTime = requestTime;
    o.meta.responseTime = responseTime;
    const p = new PreparedHit(o, "c1", "HIT");
    for (const now of [responseTime - 500, responseTime, responseTime + 1234, responseTime + 86_400_000]) {
      assertEquals(p.ageMs(now), currentAgeMs(o.meta, now), `${JSON.stringify(headers)} at ${now}`);
    }
    assertEquals(p.ageMs(responseTime + 1000) >= 1000, true);
  }
  const aged = object(new Uint8Array(1), [["age", "30"]]);
  assertEquals(new PreparedHit(aged, "c1", "HIT").ageMs(aged.meta.responseTime + 2000), 32_000);
});

Deno.test("PreparedHit of a memory-tier object leaves its metadata compact and never sends a Set-Cookie", () => {
  const s = new MemoryStore({ maxBytes: 1 << 20, maxObjectBytes: 1 << 20 });
  const headers: [string, string][] = [
    ["date", "Thu, 01 Jan 2026 00:00:00 GMT"],
    ["age", "7"],
    ["set-cookie", "s=1"],
    ["content-type", "x/y"],
    ["cache-control", "max-age=60"],
  ];
  s.put({
    primary: "http://a/",
    variant: "",
    status: 200,
    headers,
    vary: [],
    requestTime: 1767225600000,
    responseTime: 1767225601000,
    expiresAt: 1767225660000,
    bodyBytes: 1,
  }, new Uint8Array([65]));
  const obj = s.get({ primary: "http://a/", variant: "" })!;
  const hit = new PreparedHit(obj, "n", "HIT");
  assertEquals(CompactMeta.isPacked(obj.meta as CompactMeta), true, "fast hits keep the compact form");
  const text = latin1Decode(hit.bytes(3)[0]);
  assertEquals(text.includes("content-type: x/y\r\ncache-control: max-age=60\r\n"), true);
  assertEquals(/set-cookie/i.test(text), false);
  assertEquals(hit.contentType, "x/y");
  assertEquals(hit.ageMs(1767225601000), 8_000); // corrected initial age from the packed Date and Age
  assertEquals(obj.meta.headers, headers);
});
