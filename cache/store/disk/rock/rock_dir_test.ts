import * as fs from "node:fs";
import { deepStrictEqual as assertEquals, ok, rejects, strictEqual } from "node:assert/strict";
import { configureLogging, setLogSink } from "../../../../core/log.ts";
import { put, readAll, testBody, testMeta } from "../../../../tests/conformance/store_suite.ts";
import { RockDir, type RockDirOptions } from "./rock_dir.ts";
import { DirLockedError } from "../dir_lock.ts";
import { ROCK_FILE_NAME } from "./rock_file.ts";
import { rockGeometry, rockKeyHash, setOf, slotHeaderOffset, slotOffset } from "./slot_format.ts";

configureLogging({ components: { "cache.store": "warn" } });

async function withDir(fn: (path: string) => Promise<void>): Promise<void> {
  const path = await Deno.makeTempDir({ prefix: "webcache-rock-" });
  try {
    await fn(path);
  } finally {
    await Deno.remove(path, { recursive: true });
  }
}

const MB = 1024 * 1024;

async function open(path: string, over: Partial<RockDirOptions> = {}): Promise<RockDir> {
  const d = await RockDir.open({ path, maxBytes: 4 * MB, slotBytes: 4096, ways: 4, ...over });
  await d.whenReady();
  return d;
}

const key = (i: number | string) => ({ primary: `http://o/${i}`, variant: "" });

/** Where the record and header of a key's only copy lie in the file (geometry of `open()`). */
function placeOf(i: number | string, maxBytes = 4 * MB, slotBytes = 4096, ways = 4) {
  const g = rockGeometry(maxBytes, { slotBytes, ways });
  const set = setOf(g, rockKeyHash(`http://o/${i}`, ""));
  return { g, set };
}

Deno.test("RockDir keeps objects in one file, across a restart, without an index", async () => {
  await withDir(async (path) => {
    let d = await open(path);
    for (let i = 0; i < 50; i++) await put(d, testMeta(`http://o/${i}`, 1000 + i), testBody(String(i), 1000 + i));
    strictEqual(d.stats().objects, 50);
    await d.close();
    assertEquals([...Deno.readDirSync(path)].map((e) => e.name).filter((n) => !n.startsWith("rock.stat")).sort(), [
      ROCK_FILE_NAME,
    ]);
    d = await open(path, { instance: "after-restart" });
    try {
      strictEqual(d.stats().objects, 50, "counted by the scan at open");
      for (let i = 0; i < 50; i++) {
        const obj = d.get(key(i));
        assertEquals(await readAll(obj!.openBody()), testBody(String(i), 1000 + i), `object ${i}`);
        strictEqual(obj!.tier, "disk");
      }
      strictEqual(d.stats().hits, 50);
    } finally {
      await d.close();
    }
  });
});

Deno.test("RockDir workers of one instance see each other's objects, replacements and deletes at once", async () => {
  await withDir(async (path) => {
    const instance = crypto.randomUUID();
    const w0 = await open(path, { instance, evictor: true });
    const w1 = await open(path, { instance, evictor: false });
    try {
      await put(w1, testMeta("http://o/a", 100), testBody("a1", 100));
      assertEquals(await readAll(w0.get(key("a"))!.openBody()), testBody("a1", 100));
      await put(w0, testMeta("http://o/a", 120, { status: 203 }), testBody("a2", 120));
      const got = w1.get(key("a"))!;
      strictEqual(got.meta.status, 203);
      assertEquals(await readAll(got.openBody()), testBody("a2", 120));
      for (const v of ["gzip", "br"]) {
        await put(w1, testMeta("http://o/v", 10, { variant: v, vary: ["accept-encoding"] }), testBody(v, 10));
      }
      assertEquals(w0.variants("http://o/v").map((m) => m.variant).sort(), ["br", "gzip"]);
      strictEqual(await w0.delete("http://o/v", "br"), 1);
      assertEquals(w1.variants("http://o/v").map((m) => m.variant), ["gzip"]);
      strictEqual(await w1.delete("http://o/a"), 1);
      strictEqual(w0.get(key("a")), undefined);
    } finally {
      await w1.close();
      await w0.close();
    }
  });
});

Deno.test("RockDir reads a damaged record as a miss, clears its slot once and counts it", async () => {
  await withDir(async (path) => {
    const lines: string[] = [];
    setLogSink((l) => lines.push(l));
    const d = await open(path);
    try {
      await put(d, testMeta("http://o/x", 2000), testBody("x", 2000));
      const { g, set } = placeOf("x");
      const at = slotOffset(g, set, 0) + 1500; // inside the body of way 0 (the set was empty)
      const fd = fs.openSync(`${path}/${ROCK_FILE_NAME}`, "r+");
      fs.writeSync(fd, new Uint8Array([0x55, 0xaa]), 0, 2, at);
      fs.closeSync(fd);
      strictEqual(d.get(key("x")), undefined);
      strictEqual(d.stats().damaged, 1);
      strictEqual(d.get(key("x")), undefined);
      strictEqual(d.stats().damaged, 1, "the slot was cleared: the second lookup is a plain miss");
      strictEqual(d.stats().misses, 2);
      ok(lines.some((l) => l.includes("Cleared damaged rock slot")));
    } finally {
      setLogSink(undefined);
      await d.close();
    }
  });
});

Deno.test("RockDir never serves another object's bytes under a header whose record was overwritten", async () => {
  await withDir(async (path) => {
    const d = await open(path, { slotBytes: 4096, ways: 1, maxBytes: 8192 + 4160 });
    try {
      // One set of one way: b replaces a. Put a's header back over b's record: what a reader sees
      // when a second writer's record lands between another writer's record and header.
      await put(d, testMeta("http://o/a", 500), testBody("a", 500));
      const g = rockGeometry(8192 + 4160, { slotBytes: 4096, ways: 1 });
      const fd = fs.openSync(`${path}/${ROCK_FILE_NAME}`, "r+");
      const aHeader = new Uint8Array(64);
      fs.readSync(fd, aHeader, 0, 64, slotHeaderOffset(g, 0, 0));
      await put(d, testMeta("http://o/b", 500), testBody("b", 500));
      fs.writeSync(fd, aHeader, 0, 64, slotHeaderOffset(g, 0, 0));
      fs.closeSync(fd);
      strictEqual(d.get(key("a")), undefined);
      strictEqual(d.get(key("b")), undefined);
      strictEqual(d.stats().hits, 0);
    } finally {
      await d.close();
    }
  });
});

Deno.test("RockDir reads a replacement stopped between its record and its header as a miss", async () => {
  await withDir(async (path) => {
    const d = await open(path, { slotBytes: 4096, ways: 1, maxBytes: 8192 + 4160 });
    try {
      // The key's own way is rewritten in place (no emptied header first): a crash after the new
      // record, before the new header, leaves the old header over the new record.
      await put(d, testMeta("http://o/a", 500), testBody("v1", 500));
      const g = rockGeometry(8192 + 4160, { slotBytes: 4096, ways: 1 });
      const fd = fs.openSync(`${path}/${ROCK_FILE_NAME}`, "r+");
      const oldHeader = new Uint8Array(64);
      fs.readSync(fd, oldHeader, 0, 64, slotHeaderOffset(g, 0, 0));
      await put(d, testMeta("http://o/a", 500), testBody("v2", 500));
      assertEquals(await readAll(d.get(key("a"))!.openBody()), testBody("v2", 500));
      fs.writeSync(fd, oldHeader, 0, 64, slotHeaderOffset(g, 0, 0));
      fs.closeSync(fd);
      strictEqual(d.get(key("a")), undefined, "neither v1 (its record is gone) nor v2 under v1's header");
      strictEqual(d.stats().hits, 1);
    } finally {
      await d.close();
    }
  });
});

Deno.test("RockDir replaces per set: the key's own way, then an empty one, then expired, then oldest", async () => {
  await withDir(async (path) => {
    // One set of 3 ways: every key lands in it.
    const d = await open(path, { slotBytes: 4096, ways: 3, maxBytes: 8192 + 3 * 4160 });
    try {
      const t = Date.now();
      await put(d, testMeta("http://o/1", 10, { expiresAt: t + 3_600_000 }), testBody("1", 10));
      await put(d, testMeta("http://o/2", 10, { expiresAt: t - 1 }), testBody("2", 10)); // stale
      await put(d, testMeta("http://o/3", 10, { expiresAt: t + 3_600_000 }), testBody("3", 10));
      await put(d, testMeta("http://o/3", 11, { expiresAt: t + 3_600_000 }), testBody("3b", 11)); // own way
      strictEqual(d.stats().evictions, 0);
      await put(d, testMeta("http://o/4", 10), testBody("4", 10)); // evicts the expired 2
      strictEqual(d.get(key(2)), undefined);
      ok(d.get(key(1)) && d.get(key(3)) && d.get(key(4)));
      await new Promise((r) => setTimeout(r, 2));
      await put(d, testMeta("http://o/5", 10), testBody("5", 10)); // evicts 1, stored first
      strictEqual(d.get(key(1)), undefined);
      assertEquals(await readAll(d.get(key(3))!.openBody()), testBody("3b", 11));
      strictEqual(d.stats().evictions, 2);
      strictEqual(d.stats().objects, 3);
    } finally {
      await d.close();
    }
  });
});

Deno.test("RockDir without an overflow directory refuses bodies larger than a slot", async () => {
  await withDir(async (path) => {
    const d = await open(path);
    try {
      await rejects(put(d, testMeta("http://o/big", 5000), testBody("big", 5000)), { reason: "toolarge" });
      await rejects(put(d, testMeta("http://o/big", -1), testBody("big", 5000), 1000), { reason: "toolarge" });
      strictEqual(d.get(key("big")), undefined);
      strictEqual(d.stats().writeFailures?.toolarge, 2);
    } finally {
      await d.close();
    }
  });
});

Deno.test("RockDir empties its file when the geometry changes and refuses a foreign instance", async () => {
  await withDir(async (path) => {
    let d = await open(path);
    await put(d, testMeta("http://o/1", 10), testBody("1", 10));
    await d.close();
    d = await open(path, { slotBytes: 8192 });
    try {
      strictEqual(d.get(key(1)), undefined);
      strictEqual(d.stats().objects, 0);
    } finally {
      await d.close();
    }
  });
  await withDir(async (path) => {
    const lock = { instance: "other", pid: 1, hostname: "h", startedAt: "2026-01-01T00:00:00Z", ready: true };
    await Deno.writeTextFile(`${path}/LOCK`, JSON.stringify(lock));
    await rejects(open(path), (e: Error) => e instanceof DirLockedError);
  });
});

Deno.test("RockDir hands out a hit with headroom before its body, in a read buffer given back on release", async () => {
  await withDir(async (path) => {
    const d = await open(path);
    try {
      await put(d, testMeta("http://o/h", 1000), testBody("h", 1000));
      const a = d.get(key("h"))!;
      const room = a.takeHeadroom!();
      // The free bytes plus the entry header block (at least its 80-byte fixed part).
      ok(room >= 256 + 80, `headroom ${room}`);
      strictEqual(a.takeHeadroom!(), 0, "handed out once");
      // A response head written there goes out with the body as one buffer, the body not copied.
      const head = new TextEncoder().encode("HTTP/1.1 200 OK\r\n\r\n");
      const out = new Uint8Array(a.body!.buffer, a.body!.byteOffset - head.length, head.length + a.body!.length);
      out.set(head);
      assertEquals(out.subarray(head.length), testBody("h", 1000));
      // The next hit reads into the same buffer after it, its own room untouched by the first.
      const b = d.get(key("h"))!;
      strictEqual(b.body!.buffer, a.body!.buffer);
      ok(b.body!.byteOffset >= a.body!.byteOffset + a.body!.length + 256);
      assertEquals(b.body, testBody("h", 1000));
      a.release!();
      b.release!();
      // Writing the head over the header block did not spoil later hits (nor the header memo).
      const c = d.get(key("h"))!;
      assertEquals(c.body, testBody("h", 1000));
      assertEquals(c.meta.headers, testMeta("http://o/h", 1000).headers);
      c.release!();
    } finally {
      await d.close();
    }
  });
});

Deno.test("RockDir decodes the new headers of a slot rewritten with another version of its object", async () => {
  await withDir(async (path) => {
    const d = await open(path);
    try {
      await put(d, testMeta("http://o/v", 500, { headers: [["etag", '"one"']] }), testBody("v1", 500));
      strictEqual(d.get(key("v"))!.meta.headers[0][1], '"one"');
      strictEqual(d.get(key("v"))!.meta.headers[0][1], '"one"', "a second hit (the memoized header)");
      // Same key, same way, same lengths: only the header bytes differ.
      await put(d, testMeta("http://o/v", 500, { headers: [["etag", '"two"']] }), testBody("v2", 500));
      const obj = d.get(key("v"))!;
      strictEqual(obj.meta.headers[0][1], '"two"');
      assertEquals(obj.body, testBody("v2", 500));
    } finally {
      await d.close();
    }
  });
});
