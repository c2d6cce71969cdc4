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

Deno.test("TopUrls keeps Space-Saving's bounds over a long random stream (counter slots stay right through the heap's moves)", () => {
  let seed = 12345;
  const rand = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
  const t = new TopUrls(32);
  const truth = new Map<string, number>();
  const n = 20_000;
  for (let i = 0; i < n; i++) {
    // A few heavy URLs, many rare ones, and a stream of new ones (misses).
    const r = rand();
    const url = r < 0.3 ? `/hot${Math.floor(rand() * 4)}` : r < 0.6 ? `/warm${Math.floor(rand() * 200)}` : `/new${i}`;
    t.record(url);
    truth.set(url, (truth.get(url) ?? 0) + 1);
  }
  const all = t.top(32);
  assertEquals(all.length, 32);
  // Every counter overestimates by at most its error, and together they count every request.
  let sum = 0;
  for (const e of all) {
    const real = truth.get(e.url) ?? 0;
    if (e.requests < real || e.requests - e.error > real) {
      throw new Error(`${e.url}: counted ${e.requests} (error ${e.error}), true ${real}`);
    }
    sum += e.requests;
  }
  assertEquals(sum, n);
  // Every URL requested more than n / capacity times is tracked.
  const tracked = new Set(all.map((e) => e.url));
  for (const [url, c] of truth) if (c > n / 32 && !tracked.has(url)) throw new Error(`${url} (${c}) not tracked`);
  assertEquals(t.top(4).map((e) => e.url).sort(), ["/hot0", "/hot1", "/hot2", "/hot3"]);
});
