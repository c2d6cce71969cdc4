import { assert, assertEquals, assertThrows } from "../tests/_assert.ts";
import { DemoOrigin, MAX_OBJECT_BYTES, objectSizes, ORIGIN_STATS_PATH } from "./origin.ts";

Deno.test("objectSizes() is deterministic and mixes small, medium and large objects", () => {
  const a = objectSizes(3000, 1);
  assertEquals(a, objectSizes(3000, 1));
  const small = a.filter((s) => s < 16 * 1024).length;
  const large = a.filter((s) => s >= 128 * 1024).length;
  assert(small > 1800 && small < 2400, `small ${small}`);
  assert(large > 60 && large < 300, `large ${large}`);
  assert(a.every((s) => s >= 512 && s <= MAX_OBJECT_BYTES));
  assertThrows(() => objectSizes(0, 1), RangeError, "object count 0");
});

Deno.test("DemoOrigin serves cacheable objects, validates, and counts its requests over a real socket", async () => {
  const origin = new DemoOrigin({ objects: 50, seed: 9, maxAgeS: 600 }).start();
  const base = `http://127.0.0.1:${origin.addr.port}`;
  try {
    const r = await fetch(`${base}/obj/7`);
    const body = new Uint8Array(await r.arrayBuffer());
    assertEquals(r.status, 200);
    assertEquals(body.length, origin.objectSize(7));
    assertEquals(body, origin.objectBody(7));
    assertEquals(r.headers.get("cache-control"), "public, max-age=600");
    assertEquals(r.headers.get("content-length"), String(origin.objectSize(7)));
    const etag = r.headers.get("etag")!;
    const lm = r.headers.get("last-modified")!;
    assert(etag.startsWith('"') && lm.endsWith("GMT"), `${etag} ${lm}`);

    const inm = await fetch(`${base}/obj/7`, { headers: { "if-none-match": etag } });
    assertEquals(inm.status, 304);
    await inm.body?.cancel();
    const ims = await fetch(`${base}/obj/7`, { headers: { "if-modified-since": lm } });
    assertEquals(ims.status, 304);
    await ims.body?.cancel();
    const head = await fetch(`${base}/obj/8`, { method: "HEAD" });
    assertEquals([head.status, head.headers.get("content-length")], [200, String(origin.objectSize(8))]);
    const missing = await fetch(`${base}/obj/51`);
    assertEquals(missing.status, 404);
    await missing.body?.cancel();
    const post = await fetch(`${base}/obj/1`, { method: "POST", body: "x" });
    assertEquals(post.status, 405);
    await post.body?.cancel();

    const stats = await (await fetch(`${base}${ORIGIN_STATS_PATH}`)).json();
    assertEquals(stats, origin.stats());
    assertEquals(stats.requests, 6);
    assertEquals(stats.byStatus, { "200": 2, "304": 2, "404": 1, "405": 1 });
    assertEquals(stats.bytes, origin.objectSize(7));
    assertEquals(stats.distinctObjects, 2);
  } finally {
    await origin.stop();
  }
});

Deno.test("DemoOrigin gives different objects different bytes", () => {
  const origin = new DemoOrigin({ objects: 10 });
  const a = origin.objectBody(1), b = origin.objectBody(2);
  assert(a.length !== b.length || a.some((v, i) => v !== b[i]));
  assertThrows(() => origin.objectBody(11), RangeError, "object 11");
});
