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
