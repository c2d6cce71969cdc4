/**
 * The conformance suite every `Store` implementation runs (memory, disk directory, tiered):
 * one set of cases, registered per implementation with {@link storeSuite}.
 *
 * @module
 */
import { deepStrictEqual as assertEquals, ok, rejects, strictEqual } from "node:assert/strict";
import type { Store, StoredMeta } from "../../cache/store/store.ts";

/** A store under test and how to dispose of it. */
export interface StoreFixture {
  store: Store;
  /** Closes the store and removes everything it created. */
  cleanup(): Promise<void>;
}

/** Metadata of a test object. */
export function testMeta(primary: string, bodyBytes: number, over: Partial<StoredMeta> = {}): StoredMeta {
  const now = Date.now();
  return {
    primary,
    variant: "",
    status: 200,
    headers: [["content-type", "application/octet-stream"], ["etag", `"${bodyBytes}"`]],
    vary: [],
    requestTime: now - 5,
    responseTime: now,
    expiresAt: now + 3_600_000,
    bodyBytes,
    ...over,
  };
}

/** A body whose bytes are derived from a seed, so corruption and mix-ups show. */
export function testBody(seed: string, bytes: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(bytes);
  let h = 2166136261;
  for (let i = 0; i < seed.length; i++) h = Math.imul(h ^ seed.charCodeAt(i), 16777619);
  for (let i = 0; i < bytes; i++) {
    h = Math.imul(h ^ (i & 0xff), 16777619);
    out[i] = h >>> 24;
  }
  return out;
}

/** Reads a stream to its end. */
export async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = [];
  let n = 0;
  for await (const p of stream) {
    parts.push(p);
    n += p.length;
  }
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Stores one object in chunks of `chunkBytes`. */
export async function put(store: Store, meta: StoredMeta, body: Uint8Array, chunkBytes = 16 * 1024): Promise<void> {
  const w = await store.openWrite(meta);
  for (let o = 0; o < body.length; o += chunkBytes) await w.write(body.subarray(o, o + chunkBytes));
  await w.commit();
}

/**
 * Registers the conformance cases for one implementation.
 *
 * @param name implementation name used in test names
 * @param make creates a fresh, empty store
 */
export function storeSuite(name: string, make: () => Promise<StoreFixture>): void {
  const test = (what: string, fn: (store: Store) => Promise<void>) =>
    Deno.test(`${name} store ${what}`, async () => {
      const fx = await make();
      try {
        await fn(fx.store);
      } finally {
        await fx.cleanup();
      }
    });

  test("misses on an empty store", async (s) => {
    strictEqual(await s.get({ primary: "http://x/a", variant: "" }), undefined);
    assertEquals(await s.variants("http://x/a"), []);
    strictEqual(s.stats().misses, 1);
  });

  test("returns a committed object byte for byte", async (s) => {
    const body = testBody("a", 5000);
    await put(s, testMeta("http://x/a", body.length), body, 999);
    const got = await s.get({ primary: "http://x/a", variant: "" });
    ok(got);
    strictEqual(got.meta.status, 200);
    strictEqual(got.meta.bodyBytes, 5000);
    assertEquals(got.meta.headers, testMeta("http://x/a", 5000).headers);
    assertEquals(await readAll(got.openBody()), body);
    strictEqual(s.stats().hits, 1);
  });

  test("shows nothing before commit and nothing after abort", async (s) => {
    const w = await s.openWrite(testMeta("http://x/b", 10));
    await w.write(new Uint8Array(5));
    strictEqual(await s.get({ primary: "http://x/b", variant: "" }), undefined);
    await w.abort();
    await w.abort();
    strictEqual(await s.get({ primary: "http://x/b", variant: "" }), undefined);
    const all = [];
    for await (const e of s.entries()) all.push(e);
    assertEquals(all, []);
  });

  test("refuses a commit whose length differs from the announced one", async (s) => {
    const w = await s.openWrite(testMeta("http://x/c", 10));
    await w.write(new Uint8Array(4));
    await rejects(Promise.resolve().then(() => w.commit()));
    strictEqual(await s.get({ primary: "http://x/c", variant: "" }), undefined);
  });

  test("stores a body of unknown length", async (s) => {
    const body = testBody("u", 3000);
    await put(s, testMeta("http://x/u", -1), body);
    const got = await s.get({ primary: "http://x/u", variant: "" });
    strictEqual(got?.meta.bodyBytes, 3000);
    assertEquals(await readAll(got!.openBody()), body);
  });

  test("replaces an object under the same keys", async (s) => {
    await put(s, testMeta("http://x/d", 3), new Uint8Array([1, 2, 3]));
    await put(s, testMeta("http://x/d", 2, { status: 203 }), new Uint8Array([9, 9]));
    const got = await s.get({ primary: "http://x/d", variant: "" });
    strictEqual(got?.meta.status, 203);
    assertEquals(await readAll(got!.openBody()), new Uint8Array([9, 9]));
    strictEqual((await s.variants("http://x/d")).length, 1);
  });

  test("keeps variants apart and deletes one or all", async (s) => {
    const v = (variant: string) => testMeta("http://x/e", 4, { variant, vary: ["accept-encoding"] });
    await put(s, v("gzip"), testBody("gzip", 4));
    await put(s, v("br"), testBody("br", 4));
    await put(s, testMeta("http://x/other", 1), new Uint8Array([7]));
    assertEquals((await s.variants("http://x/e")).map((m) => m.variant).sort(), ["br", "gzip"]);
    assertEquals(await readAll((await s.get({ primary: "http://x/e", variant: "br" }))!.openBody()), testBody("br", 4));
    strictEqual(await s.delete("http://x/e", "gzip"), 1);
    assertEquals((await s.variants("http://x/e")).map((m) => m.variant), ["br"]);
    await put(s, v("gzip"), testBody("gzip", 4));
    strictEqual(await s.delete("http://x/e"), 2);
    assertEquals(await s.variants("http://x/e"), []);
    ok(await s.get({ primary: "http://x/other", variant: "" }));
  });

  test("updates metadata and keeps the body", async (s) => {
    const body = testBody("f", 100_000);
    await put(s, testMeta("http://x/f", body.length), body);
    const meta = testMeta("http://x/f", body.length, { headers: [["etag", '"new"'], ["x-refreshed", "1"]] });
    meta.expiresAt += 1000;
    strictEqual(await s.updateMeta(meta), true);
    const got = await s.get({ primary: "http://x/f", variant: "" });
    assertEquals(got?.meta.headers, meta.headers);
    strictEqual(got?.meta.expiresAt, meta.expiresAt);
    assertEquals(await readAll(got!.openBody()), body);
    strictEqual(await s.updateMeta(testMeta("http://x/absent", 1)), false);
  });

  test("serves byte ranges", async (s) => {
    for (const size of [1000, 300_000]) {
      const body = testBody(`r${size}`, size);
      await put(s, testMeta(`http://x/r${size}`, size), body);
      const got = await s.get({ primary: `http://x/r${size}`, variant: "" });
      assertEquals(await readAll(got!.openBody({ start: 10, end: 19 })), body.subarray(10, 20));
      assertEquals(await readAll(got!.openBody({ start: size - 5, end: size - 1 })), body.subarray(size - 5));
    }
  });

  test("streams a 3 MiB body intact", async (s) => {
    const body = testBody("big", 3 * 1024 * 1024);
    await put(s, testMeta("http://x/big", body.length), body, 60_000);
    const got = await s.get({ primary: "http://x/big", variant: "" });
    assertEquals(await readAll(got!.openBody()), body);
  });

  test("lists every object in entries()", async (s) => {
    for (let i = 0; i < 5; i++) await put(s, testMeta(`http://x/n${i}`, 1), new Uint8Array([i]));
    const keys: string[] = [];
    for await (const e of s.entries()) keys.push(e.primary);
    assertEquals(keys.sort(), [0, 1, 2, 3, 4].map((i) => `http://x/n${i}`));
    strictEqual(s.stats().objects >= 0, true);
  });
}
