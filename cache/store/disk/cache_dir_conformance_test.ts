import { storeSuite } from "../../../tests/conformance/store_suite.ts";
import { CacheDir } from "./cache_dir.ts";

storeSuite("CacheDir", async () => {
  const path = await Deno.makeTempDir({ prefix: "webcache-disk-" });
  const store = await CacheDir.open({ path, maxBytes: 64 * 1024 * 1024, l1: 4, l2: 4, maxObjectBytes: 8 << 20 });
  return {
    store,
    async cleanup() {
      await store.close();
      await Deno.remove(path, { recursive: true });
    },
  };
});
