import { assert, assertEquals, assertThrows } from "../tests/_assert.ts";
import { mergeTopUrls, TopUrls, trackTopUrls } from "./top_urls.ts";

Deno.test("TopUrls counts exactly while under capacity", () => {
  const t = new TopUrls(10);
  for (const u of ["/a", "/b", "/a", "/c", "/a", "/b"]) t.record(u);
  assertEquals(t.top(2), [{ url: "/a", requests: 3, error: 0 }, { url: "/b", requests: 2, error: 0 }]);
});

Deno.test("TopUrls keeps the heavy hitters of a skewed stream in bounded memory", () => {
  const t = new TopUrls(20);
  // /hot-0../hot-4 get 1000..600 requests; 5000 cold URLs get one each, interleaved.
  for (let round = 0; round < 1000; round++) {
    for (let h = 0; h < 5; h++) if (round < 1000 - h * 100) t.record(`/hot-${h}`);
    for (let c = 0; c < 5; c++) t.record(`/cold-${round * 5 + c}`);
  }
  const top = t.top(5);
  assertEquals(top.map((x) => x.url), ["/hot-0", "/hot-1", "/hot-2", "/hot-3", "/hot-4"]);
  for (const [i, x] of top.entries()) {
    const truth = 1000 - i * 100;
    assert(x.requests >= truth && x.requests - x.error <= truth, `${x.url}: ${x.requests} (error ${x.error})`);
  }
});

Deno.test("TopUrls rejects a bad capacity", () => {
  assertThrows(() => new TopUrls(0), RangeError, "capacity 0");
});

Deno.test("trackTopUrls() counts every logged request and still logs it", () => {
  const logged: string[] = [];
  const log = { log: (e: { url: string }) => logged.push(e.url) };
  const t = new TopUrls();
  trackTopUrls(log, t);
  log.log({ url: "/x" });
  log.log({ url: "/x" });
  assertEquals(logged, ["/x", "/x"]);
  assertEquals(t.top(), [{ url: "/x", requests: 2, error: 0 }]);
});

Deno.test("mergeTopUrls() adds the counts of each worker's list and keeps the top k", () => {
  const merged = mergeTopUrls([
    [{ url: "/a", requests: 5, error: 0 }, { url: "/b", requests: 4, error: 1 }],
    [{ url: "/b", requests: 3, error: 0 }, { url: "/c", requests: 6, error: 0 }],
    [],
  ], 2);
  assertEquals(merged, [{ url: "/b", requests: 7, error: 1 }, { url: "/c", requests: 6, error: 0 }]);
});
