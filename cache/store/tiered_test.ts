import { deepStrictEqual as assertEquals, ok, strictEqual } from "node:assert/strict";
import { configureLogging } from "../../core/log.ts";
import { put, readAll, storeSuite, testBody, testMeta } from "../../tests/conformance/store_suite.ts";
import { CacheDir } from "./disk/cache_dir.ts";
import { createPolicy } from "./eviction/mod.ts";
import { MemoryStore } from "./memory_store.ts";
import { TieredStore } from "./tiered.ts";

configureLogging({ components: { "cache.store": "warn" } });

async function makeTiered(memBytes: number, memMaxObject: number, diskOpts: { maxBytes?: number } = {}) {
  const path = await Deno.makeTempDir({ prefix: "webcache-tiered-" });
  const disk = await CacheDir.open({
    path,
    maxBytes: diskOpts.maxBytes ?? 64 << 20,
    l1: 2,
    l2: 2,
    maxObjectBytes: 8 << 20,
  });
  const memory = new MemoryStore({ maxBytes: memBytes, maxObjectBytes: memMaxObject, policy: createPolicy("sieve") });
  const store = new TieredStore({ memory, disk, memoryMaxObjectBytes: memMaxObject });
  return {
    store,
    disk,
    async cleanup() {
      await store.close();
      await Deno.remove(path, { recursive: true });
    },
  };
}

storeSuite("TieredStore", () => makeTiered(1 << 20, 256 << 10));

Deno.test("TieredStore answers hot objects from memory and the rest from disk", async () => {
  const fx = await makeTiered(40_000, 20_000);
  try {
    for (let i = 0; i < 20; i++) await put(fx.store, testMeta(`http://t/${i}`, 5000), testBody(String(i), 5000));
    // Memory holds about 7 of the 20 objects; every one is still served, byte for byte.
    for (let i = 19; i >= 0; i--) {
      const got = await fx.store.get({ primary: `http://t/${i}`, variant: "" });
      assertEquals(await readAll(got!.openBody()), testBody(String(i), 5000));
    }
    const s = fx.store.stats();
    ok(s.diskHits > 0 && s.memoryHits > 0, JSON.stringify(s));
    strictEqual(s.hits, 20);
    ok(fx.store.memory.stats().bytes <= 40_000);
    // A second pass over a small hot set is served from memory only.
    const before = fx.store.stats().diskHits;
    for (let r = 0; r < 3; r++) {
      for (let i = 0; i < 3; i++) await fx.store.get({ primary: `http://t/${i}`, variant: "" });
    }
    ok(fx.store.stats().diskHits - before <= 3);
  } finally {
    await fx.cleanup();
  }
});

Deno.test("TieredStore keeps objects above memory.maxObjectBytes on disk only and promotes streamed ones", async () => {
  const fx = await makeTiered(4 << 20, 400_000);
  try {
    await put(fx.store, testMeta("http://t/big", 500_000), testBody("big", 500_000));
    strictEqual(fx.store.memory.stats().objects, 0);
    await put(fx.store, testMeta("http://t/mid", 300_000), testBody("mid", 300_000));
    await fx.store.memory.delete("http://t/mid");
    const got = await fx.store.get({ primary: "http://t/mid", variant: "" });
    strictEqual(got?.body, undefined); // read from disk as a stream
    assertEquals(await readAll(got!.openBody()), testBody("mid", 300_000));
    strictEqual(fx.store.stats().promotions, 1);
    ok(await fx.store.memory.get({ primary: "http://t/mid", variant: "" }));
    assertEquals(
      await readAll((await fx.store.get({ primary: "http://t/big", variant: "" }))!.openBody()),
      testBody("big", 500_000),
    );
    strictEqual(fx.store.memory.stats().objects, 1);
  } finally {
    await fx.cleanup();
  }
});
