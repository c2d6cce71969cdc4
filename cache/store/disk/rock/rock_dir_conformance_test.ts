import { storeSuite } from "../../../../tests/conformance/store_suite.ts";
import { DiskStore } from "../disk_store.ts";

// Squid's usual set-up: rock for small objects, ufs for the rest (the suite stores up to 3 MiB).
storeSuite("DiskStore rock+ufs", async () => {
  const path = await Deno.makeTempDir({ prefix: "webcache-rock-" });
  const store = await DiskStore.open([
    { type: "rock", path: `${path}/rock`, size: 8 * 1024 * 1024, slotBytes: 16 * 1024, ways: 8 },
    { type: "ufs", path: `${path}/ufs`, size: 64 * 1024 * 1024, l1: 4, l2: 4 },
  ], { maxObjectBytes: 8 << 20 });
  return {
    store,
    async cleanup() {
      await store.close();
      await Deno.remove(path, { recursive: true });
    },
  };
});
