/**
 * Origin connections are reused only when clean (issue #14 item 1) and HEAD keeps the origin's
 * Content-Length (item 5): a scripted raw origin writes exact bytes — a short Content-Length, a
 * body on HEAD/204/304, chunked garbage, stray bytes on an idle connection, ambiguous framing,
 * 1xx — with a whole forged response behind, and the cache must never serve or store it.
 */
import { assert, assertEquals } from "../_assert.ts";
import { parseRaw, rawExchange, request, type RequestOptions, sleep, startCache } from "./_cache_harness.ts";
import { findHeadEnd } from "../../http/head_codec.ts";
import { type Answer, okResponse, type OriginSeen, ScriptedOrigin } from "./_scripted_origin.ts";
import { counters } from "../../cache/metrics.ts";
import { until } from "./_cluster_harness.ts";

/** A forged response that must never reach a client. */
const POISON = "HTTP/1.1 200 OK\r\nCache-Control: max-age=600\r\nContent-Length: 6\r\n\r\nPOISON";

/** As `request()`, but the final response: interim (1xx) heads the cache relayed are skipped. */
async function requestFinal(port: number, target: string, opts: RequestOptions = {}) {
  const method = opts.method ?? "GET";
  let head = `${method} ${target} HTTP/1.1\r\nHost: test.example\r\n`;
  for (const [k, v] of Object.entries(opts.headers ?? {})) head += `${k}: ${v}\r\n`;
  let bytes = await rawExchange(port, new TextEncoder().encode(head + "Connection: close\r\n\r\n"));
  while (/^HTTP\/1\.1 1\d\d /.test(new TextDecoder().decode(bytes.subarray(0, 13)))) {
    bytes = bytes.subarray(findHeadEnd(bytes, 0, bytes.length));
  }
  return parseRaw(bytes, method);
}

function genuine(req: OriginSeen): string {
  return okResponse(`genuine ${req.method} ${req.path}`, "Cache-Control: max-age=60");
}

interface Row {
  name: string;
  /** The attacked path (its answer comes from `attack`). */
  path: string;
  method?: string;
  headers?: Record<string, string>;
  attack: (req: OriginSeen) => Answer;
  /** Status the client gets for the attacked request. */
  status: number;
  /** Wait before the next request (stray bytes sent late). */
  pauseMs?: number;
  /** Whether the attacked answer must not be stored (asked again, the origin sees it again). */
  notStored?: boolean;
}

const TABLE: Row[] = [
  {
    name: "short Content-Length, forged response in the same write",
    path: "/short",
    attack: () => `HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 5\r\n\r\nhello${POISON}`,
    status: 200,
    notStored: true,
  },
  {
    name: "short Content-Length, forged response 150 ms later on the idle connection",
    path: "/short-late",
    attack: () => ({
      parts: ["HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 5\r\n\r\nhello", POISON],
      gapMs: 150,
    }),
    status: 200,
    pauseMs: 400,
    notStored: true,
  },
  {
    name: "short Content-Length, forged response in a second write right after",
    path: "/short-next",
    attack: () => ({
      parts: ["HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nContent-Length: 5\r\n\r\nhello", POISON],
      gapMs: 1,
    }),
    status: 200,
    pauseMs: 100,
    notStored: true,
  },
  {
    name: "exact answer, then unsolicited bytes on the idle connection",
    path: "/idle-bytes",
    attack: (r) => ({ parts: [genuine(r), POISON], gapMs: 100 }),
    status: 200,
    pauseMs: 400,
  },
  {
    name: "origin closes the idle connection",
    path: "/idle-close",
    attack: (r) => ({ parts: [genuine(r)], close: true }),
    status: 200,
    pauseMs: 200,
  },
  {
    name: "body on a 204",
    path: "/204-body",
    attack: () => `HTTP/1.1 204 No Content\r\nCache-Control: max-age=60\r\n\r\n${POISON}`,
    status: 204,
    notStored: true,
  },
  {
    name: "204 announcing a body",
    path: "/204-cl",
    attack: () => `HTTP/1.1 204 No Content\r\nCache-Control: max-age=60\r\nContent-Length: ${POISON.length}\r\n\r\n`,
    status: 204,
    notStored: true,
  },
  {
    name: "body on a 304",
    path: "/304-body",
    attack: () => `HTTP/1.1 304 Not Modified\r\nCache-Control: max-age=60\r\n\r\n${POISON}`,
    status: 304,
  },
  {
    name: "body on a HEAD answer (HEAD passed through)",
    path: "/head-body",
    method: "HEAD",
    headers: { "cache-control": "no-store" },
    attack: () => `HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\n${POISON}`,
    status: 200,
  },
  {
    name: "chunked body with a forged response behind the last chunk",
    path: "/chunk-garbage",
    attack: () =>
      `HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n${POISON}`,
    status: 200,
    notStored: true,
  },
  {
    name: "chunked body whose trailer section is a forged response",
    path: "/chunk-trailer",
    attack: () =>
      `HTTP/1.1 200 OK\r\nCache-Control: max-age=60\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n${POISON}`,
    status: 200,
    notStored: true,
  },
  {
    name: "conflicting Content-Length values",
    path: "/two-cl",
    attack: () => `HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello${POISON}`,
    status: 502,
  },
  {
    name: "Content-Length and Transfer-Encoding together",
    path: "/cl-te",
    attack: () =>
      `HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n${POISON}`,
    status: 502,
  },
  {
    name: "Content-Length and Transfer-Encoding on a HEAD answer",
    path: "/head-cl-te",
    method: "HEAD",
    headers: { "cache-control": "no-store" },
    attack: () => `HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n`,
    status: 502,
  },
  {
    name: "100 Continue with a Content-Length before the answer",
    path: "/100-cl",
    attack: (r) => `HTTP/1.1 100 Continue\r\nContent-Length: 6\r\n\r\n${genuine(r)}`,
    status: 200,
  },
  {
    name: "unasked 101 Switching Protocols",
    path: "/101",
    attack: () => `HTTP/1.1 101 Switching Protocols\r\nUpgrade: evil\r\nConnection: upgrade\r\n\r\n${POISON}`,
    status: 502,
  },
  {
    name: "endless 1xx answers",
    path: "/1xx-flood",
    attack: () => "HTTP/1.1 102 Processing\r\n\r\n".repeat(40) + POISON,
    status: 502,
  },
];

for (const row of TABLE) {
  Deno.test(`cache origin reuse: ${row.name}: nothing forged is served or stored`, async () => {
    const origin = new ScriptedOrigin((req) => req.path === row.path ? row.attack(req) : genuine(req));
    const c = startCache({ defaultOrigin: origin.url });
    const failuresBefore = { ...counters.originFailures };
    try {
      // A first request warms one pooled connection: the attack then comes on a reused one.
      assertEquals((await request(c.port, "/warm")).text, "genuine GET /warm");
      const first = await requestFinal(c.port, row.path, { method: row.method, headers: row.headers });
      assertEquals(first.status, row.status, row.name);
      assert(!first.text.includes("POISON"), `${row.name}: ${first.text}`);
      if (row.pauseMs) await sleep(row.pauseMs);
      for (const next of ["/next-1", "/next-2", "/warm"]) {
        const r = await request(c.port, next);
        assertEquals(r.status, 200, `${row.name}: ${next}`);
        assertEquals(r.text, `genuine GET ${next}`, `${row.name}: ${next}`);
      }
      if (row.notStored) {
        const again = await request(c.port, row.path, { method: row.method, headers: row.headers });
        assert(!again.text.includes("POISON"), row.name);
        assertEquals(origin.count(row.path), 2, `${row.name}: not stored, asked again`);
      }
      assertEquals(origin.count("/warm"), 1, `${row.name}: /warm stayed stored`);
      if (row.status !== 502) assertEquals(counters.originFailures, failuresBefore, row.name);
    } finally {
      await c.close();
      await origin.close();
    }
  });
}

Deno.test("cache origin reuse: a connection is pooled again after a clean answer, and dropped after a dirty one", async () => {
  const origin = new ScriptedOrigin((req) =>
    req.path === "/dirty" ? `HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokX` : genuine(req)
  );
  const c = startCache({ defaultOrigin: origin.url });
  try {
    for (const p of ["/a", "/b", "/c"]) await request(c.port, p);
    assertEquals(origin.accepted, 1, "clean answers keep one connection");
    assertEquals((await request(c.port, "/dirty")).text, "ok");
    await request(c.port, "/d");
    assertEquals(origin.accepted, 2, "the connection with a stray byte was replaced");
    assertEquals(origin.seen.find((r) => r.path === "/d")?.conn, 2);
    await until("the dirty connection closed", () => origin.closedByPeer.includes(1), 5000);
  } finally {
    await c.close();
    await origin.close();
  }
});

Deno.test("cache HEAD: a passed-through HEAD keeps the origin's Content-Length", async () => {
  const origin = new ScriptedOrigin((req) =>
    req.method === "HEAD"
      ? "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1234\r\n\r\n"
      : okResponse("x".repeat(1234), "Cache-Control: max-age=60")
  );
  const c = startCache({ defaultOrigin: origin.url });
  try {
    // no-store: the miss path sends HEAD itself.
    const noStore = await request(c.port, "/h1", { method: "HEAD", headers: { "cache-control": "no-store" } });
    assertEquals(noStore.status, 200);
    assertEquals(noStore.headers.get("content-length"), "1234");
    // A Range request is passed through (relay path).
    const ranged = await request(c.port, "/h2", { method: "HEAD", headers: { range: "bytes=0-9" } });
    assertEquals(ranged.status, 200);
    assertEquals(ranged.headers.get("content-length"), "1234");
    assertEquals(origin.seen.map((r) => `${r.method} ${r.path}`), ["HEAD /h1", "HEAD /h2"]);
    // A cacheable HEAD miss fetches with GET and answers with the stored length.
    const cached = await request(c.port, "/h3", { method: "HEAD" });
    assertEquals(cached.headers.get("content-length"), "1234");
  } finally {
    await c.close();
    await origin.close();
  }
});
