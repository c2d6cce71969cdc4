/** Range requests: 206/416 from a complete stored object; ranges on a miss are relayed, never stored. */
import { assertEquals } from "../_assert.ts";
import { cacheable, request, startCache, TestOrigin } from "./_cache_harness.ts";

const BODY = "0123456789abcdefghij";

Deno.test("cache range: 206 and 416 from a complete cached object, If-Range", async () => {
  const origin = new TestOrigin(() => cacheable(BODY, { etag: '"r"' }));
  const c = startCache({ defaultOrigin: origin.url });
  try {
    await request(c.port, "/r");
    const table: { range: string; ifRange?: string; status: number; body?: string; cr?: string }[] = [
      { range: "bytes=0-4", status: 206, body: "01234", cr: "bytes 0-4/20" },
      { range: "bytes=15-", status: 206, body: "fghij", cr: "bytes 15-19/20" },
      { range: "bytes=-3", status: 206, body: "hij", cr: "bytes 17-19/20" },
      { range: "bytes=10-100", status: 206, body: "abcdefghij", cr: "bytes 10-19/20" },
      { range: "bytes=20-30", status: 416, cr: "bytes */20" },
      { range: "bytes=0-1", ifRange: '"r"', status: 206, body: "01" },
      { range: "bytes=0-1", ifRange: '"other"', status: 200, body: BODY },
      { range: "items=0-1", status: 200, body: BODY },
    ];
    for (const row of table) {
      const headers: Record<string, string> = { Range: row.range };
      if (row.ifRange) headers["If-Range"] = row.ifRange;
      const r = await request(c.port, "/r", { headers });
      assertEquals(r.status, row.status, row.range);
      if (row.body !== undefined) assertEquals(r.text, row.body, row.range);
      if (row.cr) assertEquals(r.headers.get("content-range"), row.cr, row.range);
    }
    assertEquals(origin.count("/r"), 1);
  } finally {
    await c.close();
    await origin.close();
  }
});

Deno.test("cache range: a range on a miss is passed through and does not poison the cache", async () => {
  const origin = new TestOrigin((req) => {
    const range = req.headers.get("range");
    if (range === "bytes=0-4") {
      return new Response("01234", {
        status: 206,
        headers: { "content-range": "bytes 0-4/20", "cache-control": "max-age=60" },
      });
    }
    return cacheable(BODY);
  });
  const c = startCache({ defaultOrigin: origin.url });
  try {
    const part = await request(c.port, "/m", { headers: { Range: "bytes=0-4" } });
    assertEquals(part.status, 206);
    assertEquals(part.text, "01234");
    assertEquals(origin.seen[0].headers.get("range"), "bytes=0-4");
    const full = await request(c.port, "/m");
    assertEquals(full.status, 200);
    assertEquals(full.text, BODY);
    assertEquals(full.headers.get("x-cache"), "MISS from testcache");
    const again = await request(c.port, "/m");
    assertEquals(again.text, BODY);
    assertEquals(again.headers.get("x-cache"), "HIT from testcache");
  } finally {
    await c.close();
    await origin.close();
  }
});
