import { assert, assertEquals, assertThrows } from "../../tests/_assert.ts";
import { CompactMeta, storedHeaderList } from "./compact_meta.ts";
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

Deno.test("MemoryStore tells its observer of stored URLs and of URLs whose last variant went", () => {
  const s = new MemoryStore({ maxBytes: 3 * (ENTRY_OVERHEAD_BYTES + 200), maxObjectBytes: 1 << 20 });
  const log: string[] = [];
  s.setObserver({ added: (m) => log.push(`+${m.primary} ${m.variant}`), gone: (p) => log.push(`-${p}`) });
  const body = bytes("x".repeat(100));
  s.put(meta("http://a/", "en"), body);
  s.put(meta("http://a/", "de"), body);
  s.put(meta("http://a/", "de"), body); // replaced: not gone in between
  assertEquals(s.delete("http://a/", "en"), 1); // one variant left: not gone
  s.put(meta("http://b/"), body);
  s.put(meta("http://c/"), body);
  s.put(meta("http://d/"), body); // evicts the least recently used: http://a/
  assertEquals(s.delete("http://c/"), 1);
  assertEquals(s.delete("http://nothing/"), 0);
  assertEquals(log, [
    "+http://a/ en",
    "+http://a/ de",
    "+http://a/ de",
    "+http://b/ ",
    "+http://c/ ",
    "+http://d/ ",
    "-http://a/",
    "-http://c/",
  ]);
  s.setObserver(undefined);
  s.delete("http://b/");
  assertEquals(log.length, 8);
});

Deno.test("MemoryStore.peek() returns every variant with its body without counting a hit", () => {
  const s = new MemoryStore({ maxBytes: 1 << 20, maxObjectBytes: 1 << 20 });
  s.put(meta("http://p/", "en"), bytes("E"));
  s.put(meta("http://p/", "de"), bytes("D"));
  const got = s.peek("http://p/").map((o) => `${o.meta.variant}=${new TextDecoder().decode(o.body)}`).sort();
  assertEquals(got, ["de=D", "en=E"]);
  assertEquals(s.peek("http://none/"), []);
  assertEquals(s.stats().hits, 0);
  assertEquals(s.stats().misses, 0);
});

Deno.test("MemoryStore.setLimits() evicts down to a lower maxBytes at once and applies maxObjectBytes to new writes", () => {
  const s = new MemoryStore({ maxBytes: 1 << 20, maxObjectBytes: 1 << 20, policy: new LruPolicy<string>() });
  for (let i = 0; i < 10; i++) s.put(meta(`http://o/${i}`), bytes("x".repeat(100)));
  assertEquals(s.stats().objects, 10);
  const per = s.stats().bytes / 10;
  s.setLimits({ maxBytes: Math.floor(per * 4), maxObjectBytes: 50 });
  assertEquals(s.stats().objects, 4);
  assertEquals(s.stats().maxBytes, Math.floor(per * 4));
  assertEquals(s.variants("http://o/9").length, 1, "the most recent stay (LRU)");
  assertThrows(() => s.openWrite(meta("http://big/")).write(bytes("y".repeat(60))), RangeError);
});

Deno.test("MemoryStore moves a URL's only variant into a map when a second one comes, and evicts either form", () => {
  const each = ENTRY_OVERHEAD_BYTES + 1 + "http://m/".length + 4 + "content-type".length + "text/plain".length;
  const s = new MemoryStore({ maxBytes: 1 << 20, maxObjectBytes: 1 << 20, policy: new LruPolicy<string>() });
  s.put(meta("http://m/"), bytes("a"));
  s.put(meta("http://m/", "en"), bytes("b"));
  assertEquals(s.variants("http://m/").map((m) => m.variant), ["", "en"]);
  assertEquals(new TextDecoder().decode(s.get({ primary: "http://m/", variant: "" })!.body), "a");
  assertEquals(s.get({ primary: "http://m/", variant: "fr" }), undefined);
  s.put(meta("http://m/"), bytes("c")); // replaces the "" variant, the other stays
  assertEquals(s.peek("http://m/").map((o) => new TextDecoder().decode(o.body)).sort(), ["b", "c"]);
  assertEquals(s.stats().objects, 2);
  // Eviction through the policy keys of both forms: the least recently used ("en") goes first.
  s.get({ primary: "http://m/", variant: "" });
  s.setLimits({ maxBytes: each + 10, maxObjectBytes: 1 << 20 });
  assertEquals(s.variants("http://m/").map((m) => m.variant), [""]);
  s.setLimits({ maxBytes: 10, maxObjectBytes: 1 << 20 });
  assertEquals(s.variants("http://m/").length, 0);
  assertEquals(s.stats().evictions, 2);
  assertEquals(s.stats().bytes, 0);
  // A lone "" variant, deleted through delete(primary), and updateMeta on it.
  s.setLimits({ maxBytes: 1 << 20, maxObjectBytes: 1 << 20 });
  s.put(meta("http://n/"), bytes("d"));
  assertEquals(s.updateMeta({ ...meta("http://n/"), status: 203 }), true);
  assertEquals(s.get({ primary: "http://n/", variant: "" })!.meta.status, 203);
  assertEquals(s.updateMeta(meta("http://n/", "en")), false);
  assertEquals(s.delete("http://n/"), 1);
  assertEquals(s.stats().objects, 0);
});

Deno.test("MemoryStore.variants() of a URL's only entry follows replacements, metadata updates and deletes", () => {
  const s = new MemoryStore({ maxBytes: 1 << 20, maxObjectBytes: 1 << 20 });
  assertEquals(s.variants("http://l/"), []);
  s.put(meta("http://l/"), bytes("a"));
  const first = s.variants("http://l/");
  assertEquals(first.map((m) => m.status), [200]);
  assertEquals(s.variants("http://l/"), first, "the same list while nothing changed");
  s.updateMeta({ ...meta("http://l/"), status: 203 });
  assertEquals(s.variants("http://l/").map((m) => m.status), [203]);
  s.put({ ...meta("http://l/"), status: 204 }, bytes(""));
  assertEquals(s.variants("http://l/").map((m) => m.status), [204]);
  s.put(meta("http://l/", "en"), bytes("b"));
  assertEquals(s.variants("http://l/").map((m) => m.variant), ["", "en"]);
  s.delete("http://l/", "en");
  assertEquals(s.variants("http://l/").map((m) => `${m.variant}:${m.status}`), [":204"]);
  s.delete("http://l/");
  assertEquals(s.variants("http://l/"), []);
});

Deno.test("MemoryStore keeps each object's metadata compact through store, observer, peek, entries and replacement", async () => {
  const s = new MemoryStore({ maxBytes: 1 << 20, maxObjectBytes: 1 << 20 });
  const seen: StoredMeta[] = [];
  // An observer reading the fields of every object stored without keeping a list (as the lazy copy's does).
  s.setObserver({ added: (m) => seen.push(m) + storedHeaderList(m).length, gone: () => {} });
  const headers: [string, string][] = [["content-type", "text/plain"], ["x-a", ""], ["x-a", "2"]];
  s.put({ ...meta("http://a/"), headers, requestTime: 1e12, responseTime: 1e12 + 5, expiresAt: 1e12 + 9 }, bytes("ab"));
  const w = s.openWrite({ ...meta("http://b/"), headers });
  w.write(bytes("c"));
  w.commit();
  const a = s.peek("http://a/")[0].meta;
  assert(a instanceof CompactMeta && CompactMeta.isPacked(a));
  assert(seen.every((m) => m instanceof CompactMeta && CompactMeta.isPacked(m)));
  for await (const m of s.entries()) assert(m instanceof CompactMeta && CompactMeta.isPacked(m));
  assertEquals(s.variants("http://a/")[0].vary.length, 0);
  // Readers see the same fields as stored; a metadata update from a spread of the old record.
  assertEquals([a.headers, a.requestTime, a.responseTime, a.expiresAt, a.bodyBytes], [
    headers,
    1e12,
    1e12 + 5,
    1e12 + 9,
    2,
  ]);
  assertEquals(s.updateMeta({ ...a, headers: [["etag", '"2"']], expiresAt: 2e12 }), true);
  const b = s.get({ primary: "http://a/", variant: "" })!;
  assert(CompactMeta.isPacked(b.meta as CompactMeta));
  assertEquals([b.meta.headers, b.meta.requestTime, b.meta.expiresAt], [[["etag", '"2"']], 1e12, 2e12]);
  assertEquals(new TextDecoder().decode(b.body), "ab");
  assertEquals(s.get({ primary: "http://b/", variant: "" })!.meta.headers, headers);
  // The byte accounting counts the fields as before (names, values and 4 bytes each).
  assertEquals(s.stats().bytes, 2 * ENTRY_OVERHEAD_BYTES + 2 + 1 + "http://a/".length + "http://b/".length + 41 + 11);
});

Deno.test("MemoryStore writer keeps a single chunk as the body, and replacing a URL's only object keeps the counts", () => {
  const s = new MemoryStore({ maxBytes: 1 << 20, maxObjectBytes: 1 << 20 });
  const chunk = bytes("whole");
  const w = s.openWrite(meta("http://a/"));
  w.write(chunk);
  w.commit();
  assert(s.get({ primary: "http://a/", variant: "" })!.body === chunk);
  assertThrows(() => w.commit(), TypeError);
  assertThrows(() => w.write(chunk), TypeError);
  const before = s.stats().bytes;
  const again = s.openWrite(meta("http://a/"));
  again.write(bytes("who"));
  again.write(bytes("le"));
  again.commit();
  assertEquals(new TextDecoder().decode(s.get({ primary: "http://a/", variant: "" })!.body), "whole");
  assertEquals(s.stats().objects, 1);
  assertEquals(s.stats().bytes, before);
  s.put(meta("http://a/", "accept-language:en"), bytes("en"));
  assertEquals(s.stats().objects, 2);
  assertEquals(s.variants("http://a/").length, 2);
  s.put(meta("http://a/", "accept-language:en"), bytes("EN"));
  assertEquals(s.stats().objects, 2);
  assertEquals(s.delete("http://a/"), 2);
  assertEquals(s.stats().bytes, 0);
});
