import { deepStrictEqual as assertEquals, ok, rejects, strictEqual } from "node:assert/strict";
import { configureLogging } from "../../../core/log.ts";
import { put, readAll, storeSuite, testBody, testMeta } from "../../../tests/conformance/store_suite.ts";
import { DiskStore } from "./disk_store.ts";

configureLogging({ components: { "cache.store": "warn" } });

storeSuite("DiskStore (two directories)", async () => {
  const root = await Deno.makeTempDir({ prefix: "webcache-disks-" });
  const store = await DiskStore.open([
    { path: `${root}/a`, size: 32 << 20, l1: 2, l2: 2 },
    { path: `${root}/b`, size: 64 << 20, l1: 2, l2: 2 },
  ], { maxObjectBytes: 8 << 20 });
  return {
    store,
    async cleanup() {
      await store.close();
      await Deno.remove(root, { recursive: true });
    },
  };
});

Deno.test("DiskStore spreads URLs over its directories by size", async () => {
  const root = await Deno.makeTempDir({ prefix: "webcache-disks-" });
  try {
    const store = await DiskStore.open([
      { path: `${root}/a`, size: 10 << 20 },
      { path: `${root}/b`, size: 30 << 20 },
    ]);
    try {
      let inB = 0;
      for (let i = 0; i < 2000; i++) if (store.dirFor(`http://h/${i}`) === store.dirs[1]) inB++;
      ok(inB > 1350 && inB < 1650, `${inB} of 2000 in the larger directory, expected about 1500`);
      for (let i = 0; i < 20; i++) await put(store, testMeta(`http://h/${i}`, 100), testBody(String(i), 100));
      for (let i = 0; i < 20; i++) {
        assertEquals(
          await readAll((await store.get({ primary: `http://h/${i}`, variant: "" }))!.openBody()),
          testBody(String(i), 100),
        );
      }
      strictEqual(store.stats().hits, 20);
      strictEqual(store.status().length, 2);
    } finally {
      await store.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("DiskStore.open() closes the directories it opened when a later one fails", async () => {
  const root = await Deno.makeTempDir({ prefix: "webcache-disks-" });
  try {
    await Deno.writeTextFile(`${root}/file`, "x");
    await rejects(
      DiskStore.open([{ path: `${root}/a`, size: 1 << 20 }, { path: `${root}/file`, size: 1 << 20 }]),
      /"[^"]+\/file": it is not a directory/,
    );
    // The first directory's lock was released.
    await rejects(Deno.stat(`${root}/a/LOCK`), Deno.errors.NotFound);
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

/** A DiskStore of one rock (4 KiB slots) and, unless `rockOnly`, one ufs directory, in a temporary root. */
async function withRockStore(rockOnly: boolean, fn: (s: DiskStore, root: string) => Promise<void>): Promise<void> {
  const root = await Deno.makeTempDir({ prefix: "webcache-disks-" });
  const dirs = [{ type: "rock" as const, path: `${root}/rock`, size: 4 << 20, slotBytes: 4096, ways: 4 }];
  const store = await DiskStore.open(
    rockOnly ? dirs : [...dirs, { type: "ufs" as const, path: `${root}/ufs`, size: 32 << 20, l1: 2, l2: 2 }],
    { maxObjectBytes: 8 << 20 },
  );
  try {
    await store.whenReady();
    await fn(store, root);
  } finally {
    await store.close();
    await Deno.remove(root, { recursive: true });
  }
}

const ufsFiles = (root: string) =>
  [...Deno.readDirSync(`${root}/ufs`)].filter((e) => /^[0-9A-F]{2}$/.test(e.name)).flatMap((l1) =>
    [...Deno.readDirSync(`${root}/ufs/${l1.name}`)].flatMap((l2) =>
      [...Deno.readDirSync(`${root}/ufs/${l1.name}/${l2.name}`)].map((f) => f.name)
    )
  );

Deno.test("DiskStore with rock and ufs: small objects in rock (no file), large ones and overflows in ufs", async () => {
  await withRockStore(false, async (s, root) => {
    await put(s, testMeta("http://o/small", 1000), testBody("small", 1000));
    await put(s, testMeta("http://o/large", 50_000), testBody("large", 50_000));
    await put(s, testMeta("http://o/unknown", -1), testBody("unknown", 20_000), 1500); // spills mid-body
    await put(s, testMeta("http://o/unknown-small", -1), testBody("us", 2000), 500);
    strictEqual(ufsFiles(root).length, 2, "large and unknown have files; the small ones are in rock");
    strictEqual(s.rocks[0].stats().objects, 2);
    for (const [k, n] of [["small", 1000], ["large", 50_000], ["unknown", 20_000], ["unknown-small", 2000]] as const) {
      const seed = k === "unknown-small" ? "us" : k;
      assertEquals(
        await readAll((await s.get({ primary: `http://o/${k}`, variant: "" }))!.openBody()),
        testBody(seed, n),
      );
    }
    assertEquals(s.stats().hits, 4);
    strictEqual(await s.get({ primary: "http://o/none", variant: "" }), undefined);
    strictEqual(s.stats().misses, 1, "a miss in both is counted once");
  });
});

Deno.test("DiskStore with rock and ufs: a key moving between them leaves no older copy behind", async () => {
  await withRockStore(false, async (s, root) => {
    const k = { primary: "http://o/k", variant: "" };
    await put(s, testMeta(k.primary, 1000), testBody("v1", 1000));
    await put(s, testMeta(k.primary, 50_000), testBody("v2", 50_000)); // now large: ufs, rock copy cleared
    strictEqual(s.rocks[0].get(k), undefined);
    assertEquals(await readAll((await s.get(k))!.openBody()), testBody("v2", 50_000));
    await put(s, testMeta(k.primary, 900), testBody("v3", 900)); // small again: rock, ufs file deleted
    strictEqual(ufsFiles(root).length, 0);
    assertEquals(await readAll((await s.get(k))!.openBody()), testBody("v3", 900));
    assertEquals((await s.variants(k.primary)).length, 1);
    // Vary'd variants split over both are all listed, and delete() reaches both.
    const v = (variant: string, n: number) => testMeta("http://o/v", n, { variant, vary: ["accept-encoding"] });
    await put(s, v("gzip", 100), testBody("g", 100));
    await put(s, v("identity", 60_000), testBody("i", 60_000));
    assertEquals((await s.variants("http://o/v")).map((m) => m.variant).sort(), ["gzip", "identity"]);
    strictEqual(await s.delete("http://o/v"), 2);
    assertEquals(await s.variants("http://o/v"), []);
  });
});

Deno.test("DiskStore with rock only does not store bodies larger than a slot", async () => {
  await withRockStore(true, async (s) => {
    await rejects(put(s, testMeta("http://o/large", 50_000), testBody("large", 50_000)), { reason: "toolarge" });
    strictEqual(await s.get({ primary: "http://o/large", variant: "" }), undefined);
    await put(s, testMeta("http://o/small", 100), testBody("small", 100));
    ok(await s.get({ primary: "http://o/small", variant: "" }));
    strictEqual(s.status().length, 1);
    strictEqual(s.status()[0].objects, 1);
  });
});

Deno.test("DiskStore with rock and ufs: a lookup asks the ufs directory only when rock marks the key as there", async () => {
  await withRockStore(false, async (s) => {
    const ufs = s.dirs[0];
    let probes = 0;
    const get = ufs.get.bind(ufs), variants = ufs.variants.bind(ufs);
    ufs.get = (k) => (probes++, get(k));
    ufs.variants = (p) => (probes++, variants(p));
    for (let i = 0; i < 20; i++) {
      const primary = `http://o/miss-${i}`;
      assertEquals(await s.variants(primary), []);
      strictEqual(s.get({ primary, variant: "" }), undefined);
    }
    await put(s, testMeta("http://o/small", 1000), testBody("small", 1000));
    ok(s.get({ primary: "http://o/small", variant: "" }));
    strictEqual(probes, 0, "misses and rock hits probe no ufs directory");
    await put(s, testMeta("http://o/large", 50_000), testBody("large", 50_000));
    strictEqual((await s.variants("http://o/large")).length, 1);
    assertEquals(
      await readAll(s.get({ primary: "http://o/large", variant: "" })!.openBody()),
      testBody("large", 50_000),
    );
    strictEqual(probes, 2, "the large object is found in ufs through its marker");
    strictEqual(s.stats().misses, 20);
  });
});

Deno.test("DiskStore with rock and ufs: another worker's large object is found through the shared marker", async () => {
  const root = await Deno.makeTempDir({ prefix: "webcache-disks-" });
  const dirs = [
    { type: "rock" as const, path: `${root}/rock`, size: 4 << 20, slotBytes: 4096, ways: 4 },
    { type: "ufs" as const, path: `${root}/ufs`, size: 32 << 20, l1: 2, l2: 2 },
  ];
  const a = await DiskStore.open(dirs, { maxObjectBytes: 8 << 20, instance: "rock-marker-test" });
  const b = await DiskStore.open(dirs, { maxObjectBytes: 8 << 20, instance: "rock-marker-test", evictor: false });
  try {
    await a.whenReady();
    const k = { primary: "http://o/k", variant: "" };
    strictEqual(b.get(k), undefined);
    await put(a, testMeta(k.primary, 50_000), testBody("v1", 50_000));
    assertEquals(await readAll(b.get(k)!.openBody()), testBody("v1", 50_000));
    // b replaces it with a small copy in rock: the marker and a's ufs copy go, a sees the new one.
    await put(b, testMeta(k.primary, 900), testBody("v2", 900));
    assertEquals(await readAll(a.get(k)!.openBody()), testBody("v2", 900));
    strictEqual(a.dirs[0].holds(k), false, "the older ufs copy is deleted");
  } finally {
    await b.close();
    await a.close();
    await Deno.remove(root, { recursive: true });
  }
});
