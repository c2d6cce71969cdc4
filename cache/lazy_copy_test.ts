import { assert, assertEquals } from "../tests/_assert.ts";
import { LazyCopy } from "./lazy_copy.ts";
import { SharedIndex } from "./shared_index.ts";
import { MemoryStore } from "./store/memory_store.ts";
import { CompactMeta } from "./store/compact_meta.ts";
import type { StoredMeta } from "./store/store.ts";

const meta = (primary: string, headers: [string, string][], expiresAt: number): StoredMeta => ({
  primary,
  variant: "",
  status: 200,
  headers,
  vary: [],
  requestTime: expiresAt - 60_000,
  responseTime: expiresAt - 60_000,
  expiresAt,
  bodyBytes: 1,
});

Deno.test("LazyCopy publishes every stored object without decoding its compact metadata, no-cache as never fresh", () => {
  const now = Date.now();
  const buf = SharedIndex.allocate(64, now);
  const index = new SharedIndex(buf, 1), other = new SharedIndex(buf, 2);
  const store = new MemoryStore({ maxBytes: 1 << 20, maxObjectBytes: 1 << 20 });
  new LazyCopy(index, store);
  store.put(meta("http://a/", [["cache-control", "max-age=60"]], now + 60_000), new Uint8Array(1));
  store.put(meta("http://b/", [["x", "1"], ["cache-control", "public, no-cache"]], now + 60_000), new Uint8Array(1));
  for (const url of ["http://a/", "http://b/"]) {
    const m = store.peek(url)[0].meta;
    assert(m instanceof CompactMeta && CompactMeta.isPacked(m), `${url} stays packed`);
  }
  assertEquals(other.freshHolder("http://a/", now), 1);
  assertEquals(other.holder("http://b/"), 1);
  assertEquals(other.freshHolder("http://b/", now), -1, "no-cache: every use revalidates");
  assertEquals(other.freshAnywhere("http://b/", now), false, "no-cache: every use revalidates");
});
