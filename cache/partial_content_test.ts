import { assertEquals } from "../tests/_assert.ts";
import { type PartialObject, PartialStore } from "./partial_store.ts";
import { singleGap } from "./partial_content.ts";
import { RequestFsm } from "./request_fsm.ts";
import { exchange, parseRecorded, planFor, rawResponse, ScriptedOrigin, testContext, testStore } from "./_test_kit.ts";

/** Sends `head` twice through a state machine with a partial store; returns both answers and the store. */
async function twice(reply: string, head: string) {
  const origin = new ScriptedOrigin(() => reply);
  const { ctx, pool } = testContext(testStore());
  const partials = new PartialStore({ maxBytes: 1 << 20 });
  const fsm = new RequestFsm({ ...ctx, partials });
  try {
    const out = [];
    for (let i = 0; i < 2; i++) {
      const ex = exchange(head);
      await fsm.lookup(ex, planFor(ex, origin, ex.req.target));
      out.push({ r: parseRecorded(ex.res.text()), code: ex.out.code });
    }
    return { out, originCount: origin.seen.length, kept: partials.stats().objects, seen: origin.seen };
  } finally {
    pool.close();
    await origin.close();
  }
}

const RANGE = (extra = "") => `GET /f HTTP/1.1\r\nHost: example.test\r\nRange: bytes=0-4\r\n${extra}\r\n`;
const CC: [string, string] = ["cache-control", "max-age=60"];

const cases: { name: string; reply: string; head?: string; kept: boolean }[] = [
  {
    name: "keeps a single-range 206 and answers the same range from it",
    reply: rawResponse(206, [CC, ["content-range", "bytes 0-4/10"], ["etag", '"a"']], "01234"),
    kept: true,
  },
  {
    name: "does not keep a 206 whose body length differs from its Content-Range",
    reply: rawResponse(206, [CC, ["content-range", "bytes 4-9/10"]], "01234"),
    kept: false,
  },
  {
    name: "does not keep a 206 of unknown complete length",
    reply: rawResponse(206, [CC, ["content-range", "bytes 0-4/*"]], "01234"),
    kept: false,
  },
  {
    name: "does not keep a multipart/byteranges 206 (no Content-Range)",
    reply: rawResponse(206, [CC, ["content-type", "multipart/byteranges; boundary=x"]], "--x--\r\n"),
    kept: false,
  },
  {
    name: "does not keep a 206 with Vary: *",
    reply: rawResponse(206, [CC, ["content-range", "bytes 0-4/10"], ["vary", "*"]], "01234"),
    kept: false,
  },
  {
    name: "does not keep a private 206",
    reply: rawResponse(206, [["cache-control", "private, max-age=60"], ["content-range", "bytes 0-4/10"]], "01234"),
    kept: false,
  },
  {
    name: "does not keep a 206 asked for with request no-store",
    reply: rawResponse(206, [CC, ["content-range", "bytes 0-4/10"]], "01234"),
    head: RANGE("Cache-Control: no-store\r\n"),
    kept: false,
  },
  {
    name: "does not keep a stale-on-arrival part (max-age=0, no validator)",
    reply: rawResponse(206, [["cache-control", "max-age=0"], ["content-range", "bytes 0-4/10"]], "01234"),
    kept: false,
  },
];

for (const c of cases) {
  Deno.test(`partial content: ${c.name}`, async () => {
    const t = await twice(c.reply, c.head ?? RANGE());
    assertEquals(t.kept, c.kept ? 1 : 0);
    assertEquals(t.originCount, c.kept ? 1 : 2);
    assertEquals(t.seen[0].headers.get("range"), "bytes=0-4");
    assertEquals(t.out[0].r.status, t.out[1].r.status);
    assertEquals(t.out[0].r.body, t.out[1].r.body);
    if (c.kept) {
      assertEquals([t.out[0].code, t.out[1].code], ["TCP_MISS", "TCP_MEM_HIT"]);
      assertEquals(t.out[1].r.headers.get("content-range"), "bytes 0-4/10");
      assertEquals(t.out[1].r.headers.get("etag"), '"a"');
    }
  });
}

Deno.test("partial content: a 200 answer to a range request (Range ignored) is stored whole, not as a part", async () => {
  const t = await twice(rawResponse(200, [CC, ["etag", '"w"']], "0123456789"), RANGE());
  assertEquals([t.kept, t.originCount], [0, 1]);
  assertEquals([t.out[0].r.status, t.out[0].r.body, t.out[0].code], [200, "0123456789", "TCP_MISS"]);
  assertEquals([t.out[1].r.status, t.out[1].r.body, t.out[1].code], [206, "01234", "TCP_MEM_HIT"]);
  assertEquals(t.out[1].r.headers.get("content-range"), "bytes 0-4/10");
});

Deno.test("partial content: an uncacheable 200 answer to a range request is only relayed", async () => {
  const t = await twice(rawResponse(200, [["cache-control", "no-store"]], "0123456789"), RANGE());
  assertEquals([t.kept, t.originCount], [0, 2]);
});

Deno.test("singleGap() finds the one missing run, or none when zero or several are missing", () => {
  const obj = (runs: [number, number][], length = 10): PartialObject => ({
    meta: { primary: "p", variant: "", headers: [], vary: [], requestTime: 0, responseTime: 0, length },
    segments: runs.map(([start, end]) => ({ start, bytes: new Uint8Array(end - start + 1) })),
    bytes: 0,
  });
  const table: { runs: [number, number][]; want: { start: number; end: number } | undefined }[] = [
    { runs: [[0, 4]], want: { start: 5, end: 9 } },
    { runs: [[5, 9]], want: { start: 0, end: 4 } },
    { runs: [[0, 2], [6, 9]], want: { start: 3, end: 5 } },
    { runs: [[2, 4]], want: undefined },
    { runs: [[0, 2], [4, 5], [8, 9]], want: undefined },
    { runs: [[0, 9]], want: undefined },
  ];
  for (const t of table) assertEquals(singleGap(obj(t.runs)), t.want, JSON.stringify(t.runs));
});

Deno.test("partial content: a GET without Range asks only for the missing bytes of a part with a strong ETag", async () => {
  const origin = new ScriptedOrigin((req) =>
    req.headers.get("range") === "bytes=0-4"
      ? rawResponse(206, [CC, ["content-range", "bytes 0-4/10"], ["etag", '"a"']], "01234")
      : rawResponse(206, [CC, ["content-range", "bytes 5-9/10"], ["etag", '"a"']], "56789")
  );
  const { ctx, pool } = testContext(testStore());
  const fsm = new RequestFsm({ ...ctx, partials: new PartialStore({ maxBytes: 1 << 20 }) });
  try {
    for (const head of [RANGE(), `GET /f HTTP/1.1\r\nHost: example.test\r\n\r\n`]) {
      const ex = exchange(head);
      await fsm.lookup(ex, planFor(ex, origin, ex.req.target));
      if (!head.includes("Range")) {
        const r = parseRecorded(ex.res.text());
        assertEquals([r.status, r.body, r.headers.get("x-cache"), ex.out.code], [
          200,
          "0123456789",
          "MISS from t1",
          "TCP_MISS",
        ]);
      }
    }
    assertEquals(origin.seen[1].headers.get("range"), "bytes=5-9");
    assertEquals(origin.seen[1].headers.get("if-range"), '"a"');
  } finally {
    pool.close();
    await origin.close();
  }
});
