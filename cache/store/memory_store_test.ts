import { assertEquals, assertThrows } from "../../tests/_assert.ts";
import { ENTRY_OVERHEAD_BYTES, MemoryStore } from "./memory_store.ts";
import { LruPolicy } from "./eviction/lru.ts";
import type { StoredMeta } from "./store.ts";

const meta = (primary: string, variant = "", bodyBytes = -1): StoredMeta => ({
  primary,
  variant,
  status: 200,
  headers: [["content-type", "text/plain"]],
  vary: variant ? ["accept-language"] : [],
  requestTime: 0,
  responseTime: 0,
  expiresAt: 0,
  bodyBytes,
});
const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("MemoryStore makes objects visible only on commit, and abort discards them", async () => {
  const s = new MemoryStore({ maxBytes: 1 << 20, maxObjectBytes: 1 << 20 });
  const w = s.openWrite(meta("http://a/"));
  w.write(bytes("hel"));
  w.write(bytes("lo"));
  assertEquals(s.get({ primary: "http://a/", variant: "" }), undefined);
  w.commit();
  const o = s.get({ primary: "http://a/", variant: "" })!;
  assertEquals(new TextDecoder().decode(o.body), "hello");
  assertEquals(o.meta.bodyBytes, 5);
  const part = await new Response(o.openBody({ start: 1, end: 3 })).text();
  assertEquals(part, "ell");
  const w2 = s.openWrite(meta("http://b/"));
  w2.write(bytes("x"));
  w2.abort();
  w2.abort();
  assertEquals(s.variants("http://b/").length, 0);
  assertEquals(s.stats().objects, 1);
  assertEquals(s.stats().hits, 1);
  assertEquals(s.stats().misses, 1);
});

Deno.test("MemoryStore rejects a commit whose length differs from a known bodyBytes, and oversized writes", () => {
  const s = new MemoryStore({ maxBytes: 1 << 20, maxObjectBytes: 4 });
  const w = s.openWrite(meta("http://a/", "", 10));
  w.write(bytes("abc"));
  assertThrows(() => w.commit(), RangeError);
  const big = s.openWrite(meta("http://b/"));
  assertThrows(() => big.write(bytes("12345")), RangeError);
  assertEquals(s.stats().objects, 0);
  assertEquals(s.stats().writeFailures, { toobig: 1 });
});

Deno.test("MemoryStore keeps variants apart, deletes one or all, and updates metadata", async () => {
  const s = new MemoryStore({ maxBytes: 1 << 20, maxObjectBytes: 1 << 20 });
  s.put(meta("http://v/", "accept-language:en"), bytes("en"));
  s.put(meta("http://v/", "accept-language:fr"), bytes("fr"));
  assertEquals(s.variants("http://v/").length, 2);
  const updated = { ...meta("http://v/", "accept-language:en"), status: 203 };
  assertEquals(s.updateMeta(updated), true);
  assertEquals(s.get({ primary: "http://v/", variant: "accept-language:en" })!.meta.status, 203);
  assertEquals(new TextDecoder().decode(s.get({ primary: "http://v/", variant: "accept-language:en" })!.body), "en");
  assertEquals(s.updateMeta(meta("http://none/")), false);
  assertEquals(s.delete("http://v/", "accept-language:fr"), 1);
  assertEquals(s.delete("http://v/"), 1);
  assertEquals(s.delete("http://v/"), 0);
  const all = [];
  for await (const m of s.entries()) all.push(m);
  assertEquals(all.length, 0);
  assertEquals(s.stats().bytes, 0);
});

Deno.test("MemoryStore evicts least recently used objects to stay within maxBytes", () => {
  const each = ENTRY_OVERHEAD_BYTES + 100 + "http://x/0".length + "content-type".length + "text/plain".length + 4;
  const s = new MemoryStore({ maxBytes: each * 3, maxObjectBytes: 1 << 20, policy: new LruPolicy<string>() });
  for (let i = 0; i < 3; i++) s.put(meta(`http://x/${i}`), new Uint8Array(100));
  assertEquals(s.stats().objects, 3);
  s.get({ primary: "http://x/0", variant: "" }); // 0 is now most recently used
  s.put(meta("http://x/3"), new Uint8Array(100));
  assertEquals(s.stats().objects, 3);
  assertEquals(s.stats().evictions, 1);
  assertEquals(s.variants("http://x/1").length, 0, "least recently used went");
  assertEquals(s.variants("http://x/0").length, 1);
  assertEquals(s.stats().bytes <= each * 3, true);
});
