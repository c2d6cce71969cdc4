import { ok, rejects, strictEqual } from "node:assert/strict";
import { validateConfig } from "../../config/load.ts";
import { configureLogging } from "../../core/log.ts";
import { put, testBody, testMeta } from "../../tests/conformance/store_suite.ts";
import { createStoreFromConfig, storeStatus, TieredStore } from "./mod.ts";
import { MemoryStore } from "./memory_store.ts";

configureLogging({ components: { "cache.store": "warn" } });

Deno.test("createStoreFromConfig() builds a memory store when no directory is configured", async () => {
  const cfg = validateConfig({});
  const store = await createStoreFromConfig(cfg.cache);
  ok(store instanceof MemoryStore);
  await store.close();
});

Deno.test("createStoreFromConfig() builds memory in front of the configured directories", async () => {
  const root = await Deno.makeTempDir({ prefix: "webcache-store-" });
  try {
    const cfg = validateConfig({
      cache: {
        memory: { maxBytes: "1MiB", maxObjectBytes: "64KiB" },
        store: { policy: "lfuda", dirs: [{ path: `${root}/d1`, size: "16MiB", l1: 4, l2: 4 }] },
      },
    });
    const store = await createStoreFromConfig(cfg.cache);
    try {
      ok(store instanceof TieredStore);
      await put(store, testMeta("http://s/a", 100), testBody("a", 100));
      ok(await store.get({ primary: "http://s/a", variant: "" }));
      const st = storeStatus(store);
      strictEqual(st.dirs?.[0].path, `${root}/d1`);
      strictEqual(st.dirs?.[0].policy, "lfuda");
      strictEqual(st.memory?.maxBytes, 1024 * 1024);
    } finally {
      await store.close();
    }
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});

Deno.test("createStoreFromConfig() fails with the directory's path when it is locked by another instance", async () => {
  const root = await Deno.makeTempDir({ prefix: "webcache-store-" });
  try {
    await Deno.writeTextFile(
      `${root}/LOCK`,
      JSON.stringify({ instance: "x", pid: 1, hostname: "h", startedAt: "t", ready: true }),
    );
    const cfg = validateConfig({ cache: { store: { dirs: [{ path: root, size: "1MiB" }] } } });
    await rejects(createStoreFromConfig(cfg.cache), new RegExp(`Cannot lock cache directory "${root}"`));
  } finally {
    await Deno.remove(root, { recursive: true });
  }
});
