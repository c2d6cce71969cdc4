import assert from "node:assert/strict";
import { BanList } from "./ban_list.ts";
import { BannedStore } from "./banned_store.ts";
import { MemoryStore } from "./store/memory_store.ts";
import type { StoredMeta } from "./store/store.ts";

const T0 = Date.UTC(2026, 0, 1);
const meta = (primary: string, requestTime: number, variant = ""): StoredMeta => ({
  primary,
  variant,
  status: 200,
  headers: [],
  vary: variant ? ["accept-language"] : [],
  requestTime,
  responseTime: requestTime,
  expiresAt: requestTime + 3600_000,
  bodyBytes: 1,
});

function put(s: MemoryStore, m: StoredMeta): void {
  const w = s.openWrite(m);
  w.write(new Uint8Array([1]));
  w.commit();
}

Deno.test("BannedStore drops and deletes the objects a ban covers when a lookup meets them", () => {
  const inner = new MemoryStore({ maxBytes: 1 << 20, maxObjectBytes: 1 << 20 });
  const bans = new BanList({ lifetimeMs: 3600_000, maxBans: 10, maxUrlBans: 10 });
  const store = new BannedStore(inner, bans);
  put(inner, meta("http://h/p/1", T0 - 10));
  put(inner, meta("http://h/p/2", T0 - 10));
  put(inner, meta("http://h/p/3", T0 + 10)); // stored after the ban
  put(inner, meta("http://h/q/1", T0 - 10));
  bans.add({ id: "b1", kind: "prefix", pattern: "http://h/p/", timeMs: T0, origin: "c" }, T0);
  // Nothing was scanned: every object is still in the store underneath.
  assert.equal(inner.stats().objects, 4);
  // Lookups answer synchronously (memory) and without the banned objects.
  const v = store.variants("http://h/p/1");
  assert.ok(!(v instanceof Promise));
  assert.deepEqual(v, []);
  assert.equal(store.get({ primary: "http://h/p/2", variant: "" }), undefined);
  assert.equal(
    (store.get({ primary: "http://h/p/3", variant: "" }) as { meta: StoredMeta }).meta.primary,
    "http://h/p/3",
  );
  assert.equal((store.variants("http://h/q/1") as StoredMeta[]).length, 1);
  // Met objects were deleted underneath; the others stay until met.
  assert.equal(inner.stats().objects, 2);
  assert.equal(store.lazyDeletes, 2);
});

Deno.test("BannedStore with an empty list passes lookups through unchanged", () => {
  const inner = new MemoryStore({ maxBytes: 1 << 20, maxObjectBytes: 1 << 20 });
  const store = new BannedStore(inner, new BanList({ lifetimeMs: 1000, maxBans: 1, maxUrlBans: 1 }));
  put(inner, meta("http://h/a", 0));
  assert.equal((store.variants("http://h/a") as StoredMeta[]).length, 1);
  assert.equal(store.name, inner.name);
});
