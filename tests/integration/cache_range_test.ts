/** Range requests: 206/416 from a complete stored object; on a miss, 206 parts relayed, kept, served and combined (RFC 9111 §3.3-3.4). */
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

/**
 * An origin that answers ranges of `body` with 206 (single range, `Content-Range` of the whole
 * length), and the whole body with 200 otherwise or when `If-Range` is not its current ETag
 * (RFC 9110 §13.1.5). `headers(n)` gives the fields of answer `n`.
 */
function rangeOrigin(body: string, headers: (n: number) => Record<string, string>): TestOrigin {
  return new TestOrigin((req, n) => {
    const m = /^bytes=(\d*)-(\d*)$/.exec(req.headers.get("range") ?? "");
    const ifRange = req.headers.get("if-range");
    if (!m || (ifRange !== null && ifRange !== headers(n).etag)) return new Response(body, { headers: headers(n) });
    const len = body.length;
    const start = m[1] === "" ? Math.max(0, len - Number(m[2])) : Number(m[1]);
    const end = m[1] === "" || m[2] === "" ? len - 1 : Math.min(Number(m[2]), len - 1);
    return new Response(body.slice(start, end + 1), {
      status: 206,
      headers: { ...headers(n), "content-range": `bytes ${start}-${end}/${len}` },
    });
  });
}

async function get(port: number, path: string, range?: string, extra: Record<string, string> = {}) {
  return await request(port, path, { headers: range ? { Range: range, ...extra } : extra });
}

Deno.test("cache range: 206 parts are stored, serve ranges inside them, and combine into a stored 200", async () => {
  const origin = rangeOrigin(BODY, () => ({ "cache-control": "max-age=60", etag: '"p"' }));
  const c = startCache({ defaultOrigin: origin.url });
  try {
    const steps: { range?: string; status: number; text: string; cr?: string; x: string; originCount: number }[] = [
      { range: "bytes=0-9", status: 206, text: "0123456789", cr: "bytes 0-9/20", x: "MISS", originCount: 1 },
      { range: "bytes=2-5", status: 206, text: "2345", cr: "bytes 2-5/20", x: "HIT", originCount: 1 },
      // Not inside the stored part: forwarded, and its answer kept too (same strong ETag: combined).
      { range: "bytes=-3", status: 206, text: "hij", cr: "bytes 17-19/20", x: "MISS", originCount: 2 },
      { range: "bytes=18-", status: 206, text: "ij", cr: "bytes 18-19/20", x: "HIT", originCount: 2 },
      // Across the gap between the parts: never served from them.
      { range: "bytes=8-18", status: 206, text: "89abcdefghi", cr: "bytes 8-18/20", x: "MISS", originCount: 3 },
      // The parts now cover 0-19: the combined response is stored whole.
      { status: 200, text: BODY, x: "HIT", originCount: 3 },
      { range: "bytes=10-12", status: 206, text: "abc", cr: "bytes 10-12/20", x: "HIT", originCount: 3 },
      { range: "bytes=30-", status: 416, text: "", cr: "bytes */20", x: "", originCount: 3 },
    ];
    for (const s of steps) {
      const r = await get(c.port, "/p", s.range);
      const what = s.range ?? "no Range";
      assertEquals(r.status, s.status, what);
      if (s.status !== 416) assertEquals(r.text, s.text, what);
      assertEquals(r.headers.get("content-range"), s.cr ?? null, what);
      if (s.x) assertEquals(r.headers.get("x-cache"), `${s.x} from testcache`, what);
      assertEquals(origin.count("/p"), s.originCount, what);
    }
    assertEquals(origin.seen.map((s) => s.headers.get("range")), ["bytes=0-9", "bytes=-3", "bytes=8-18"]);
  } finally {
    await c.close();
    await origin.close();
  }
});

Deno.test("cache range: a stored part never answers as the complete response", async () => {
  const origin = rangeOrigin(BODY, () => ({ "cache-control": "max-age=60", etag: '"p"' }));
  const c = startCache({ defaultOrigin: origin.url });
  try {
    await get(c.port, "/q", "bytes=0-9");
    // Only the missing bytes are asked for, on condition that the representation is the same.
    const full = await get(c.port, "/q");
    assertEquals([full.status, full.text, full.headers.get("x-cache")], [200, BODY, "MISS from testcache"]);
    assertEquals(full.headers.get("content-range"), null);
    assertEquals(origin.seen[1].headers.get("range"), "bytes=10-19");
    assertEquals(origin.seen[1].headers.get("if-range"), '"p"');
    // If-Range that does not match the part's ETag: the whole representation is asked for.
    const c2 = startCache({ defaultOrigin: origin.url });
    try {
      await get(c2.port, "/q", "bytes=0-9");
      const ifr = await get(c2.port, "/q", "bytes=0-3", { "If-Range": '"other"' });
      assertEquals(origin.count("/q"), 4);
      assertEquals(ifr.headers.get("x-cache"), "MISS from testcache");
    } finally {
      await c2.close();
    }
  } finally {
    await c.close();
    await origin.close();
  }
});

Deno.test("cache range: parts without the same strong validator are not combined", async () => {
  const table: { name: string; headers: (n: number) => Record<string, string> }[] = [
    { name: "ETag changed", headers: (n) => ({ "cache-control": "max-age=60", etag: `"v${n}"` }) },
    { name: "weak ETag", headers: () => ({ "cache-control": "max-age=60", etag: 'W/"w"' }) },
    { name: "no validator", headers: () => ({ "cache-control": "max-age=60" }) },
  ];
  for (const t of table) {
    const origin = rangeOrigin(BODY, t.headers);
    const c = startCache({ defaultOrigin: origin.url });
    try {
      await get(c.port, "/v", "bytes=0-9");
      await get(c.port, "/v", "bytes=10-19");
      // The second part replaced the first: 10-19 is a hit, 0-4 and the whole go upstream.
      assertEquals((await get(c.port, "/v", "bytes=12-13")).headers.get("x-cache"), "HIT from testcache", t.name);
      assertEquals((await get(c.port, "/v", "bytes=0-4")).headers.get("x-cache"), "MISS from testcache", t.name);
      const full = await get(c.port, "/v");
      assertEquals([full.status, full.text], [200, BODY], t.name);
      assertEquals(origin.count("/v"), 4, t.name);
    } finally {
      await c.close();
      await origin.close();
    }
  }
});

Deno.test("cache range: no-store, partial.maxBytes 0 and PURGE keep parts out", async () => {
  const noStore = rangeOrigin(BODY, () => ({ "cache-control": "max-age=60, no-store", etag: '"n"' }));
  const plain = rangeOrigin(BODY, () => ({ "cache-control": "max-age=60", etag: '"n"' }));
  const c1 = startCache({ defaultOrigin: noStore.url });
  const c2 = startCache({ defaultOrigin: plain.url, partial: { maxBytes: 0 } });
  const c3 = startCache({ defaultOrigin: plain.url });
  try {
    for (const c of [c1, c2]) {
      await get(c.port, "/n", "bytes=0-9");
      await get(c.port, "/n", "bytes=0-9");
    }
    assertEquals(noStore.count("/n"), 2, "a no-store 206 is not kept");
    assertEquals(plain.count("/n"), 2, "partial.maxBytes 0 keeps no parts");
    await get(c3.port, "/n", "bytes=0-9");
    const purge = await request(c3.port, "/n", { method: "PURGE" });
    assertEquals(purge.status, 200);
    await get(c3.port, "/n", "bytes=0-9");
    assertEquals(plain.count("/n"), 4, "PURGE removed the part");
  } finally {
    await c1.close();
    await c2.close();
    await c3.close();
    await noStore.close();
    await plain.close();
  }
});

Deno.test("cache range: a GET without Range completes a stored part; a changed representation is fetched whole", async () => {
  let etag = '"e1"';
  const origin = rangeOrigin(BODY, () => ({ "cache-control": "max-age=60", etag }));
  const c = startCache({ defaultOrigin: origin.url });
  try {
    await get(c.port, "/c", "bytes=-5");
    const whole = await get(c.port, "/c");
    assertEquals([whole.status, whole.text, whole.headers.get("etag")], [200, BODY, '"e1"']);
    assertEquals(origin.seen[1].headers.get("range"), "bytes=0-14");
    const hit = await get(c.port, "/c");
    assertEquals([hit.status, hit.text, hit.headers.get("x-cache")], [200, BODY, "HIT from testcache"]);
    assertEquals(origin.count("/c"), 2);
    // A new representation: If-Range fails, the origin sends it all, and that is stored.
    await get(c.port, "/d", "bytes=0-4");
    etag = '"e2"';
    const changed = await get(c.port, "/d");
    assertEquals([changed.status, changed.text, changed.headers.get("etag")], [200, BODY, '"e2"']);
    assertEquals(origin.seen[3].headers.get("if-range"), '"e1"');
    assertEquals((await get(c.port, "/d")).headers.get("x-cache"), "HIT from testcache");
    assertEquals(origin.count("/d"), 2);
  } finally {
    await c.close();
    await origin.close();
  }
});
