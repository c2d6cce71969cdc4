import { deepStrictEqual as assertEquals, ok, rejects, strictEqual } from "node:assert/strict";
import { configureLogging, setLogSink } from "../../../core/log.ts";
import { put, readAll, testBody, testMeta } from "../../../tests/conformance/store_suite.ts";
import { CacheDir, type CacheDirOptions } from "./cache_dir.ts";
import { DirLockedError } from "./dir_lock.ts";
import { objectName, objectRelPath } from "./_paths.ts";
import { BODY_BLOCK_BYTES } from "./entry_format.ts";
import { crc32c } from "./crc32c.ts";

/** The chunks of a stream, joined. */
function concat(chunks: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
}

configureLogging({ components: { "cache.store": "warn" } });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `cond` until it holds (housekeeping runs on a timer), failing after `ms`. */
async function waitFor(cond: () => boolean, what: string, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
async function withDir(fn: (path: string) => Promise<void>): Promise<void> {
  const path = await Deno.makeTempDir({ prefix: "webcache-disk-" });
  try {
    await fn(path);
  } finally {
    await Deno.remove(path, { recursive: true });
  }
}

async function open(path: string, over: Partial<CacheDirOptions> = {}): Promise<CacheDir> {
  const d = await CacheDir.open({ path, maxBytes: 32 << 20, l1: 4, l2: 8, ...over });
  await d.whenReady();
  return d;
}

const key = (i: number | string) => ({ primary: `http://o/${i}`, variant: "" });
const fileOf = (path: string, i: number | string) => `${path}/${objectRelPath(objectName(`http://o/${i}`, ""), 4, 8)}`;

async function fill(d: CacheDir, n: number, size: number, from = 0): Promise<void> {
  for (let i = from; i < from + n; i++) await put(d, testMeta(`http://o/${i}`, size), testBody(String(i), size));
}

Deno.test("CacheDir puts objects under L1/L2 directories named by the key hash", async () => {
  await withDir(async (path) => {
    const d = await open(path);
    try {
      await fill(d, 3, 10);
      for (let i = 0; i < 3; i++) ok((await Deno.stat(fileOf(path, i))).isFile);
      assertEquals([...Deno.readDirSync(`${path}/tmp`)], []);
    } finally {
      await d.close();
    }
  });
});

Deno.test("CacheDir deletes and counts a file with a damaged body and never serves it", async () => {
  await withDir(async (path) => {
    const d = await open(path);
    try {
      await fill(d, 2, 5000);
      const f = fileOf(path, 0);
      const bytes = await Deno.readFile(f);
      bytes[bytes.length - 10] ^= 0x01;
      await Deno.writeFile(f, bytes);
      strictEqual(await d.get(key(0)), undefined);
      strictEqual(d.stats().damaged, 1);
      await rejects(Deno.stat(f), Deno.errors.NotFound);
      ok(await d.get(key(1)));
    } finally {
      await d.close();
    }
  });
});

Deno.test("CacheDir checks a large body once per file version and a small body on every read", async () => {
  await withDir(async (path) => {
    const d = await open(path);
    try {
      const big = testBody("B", 100_000);
      await put(d, testMeta("http://o/B", big.length), big);
      await put(d, testMeta("http://o/s", 4000), testBody("s", 4000));
      const fb = fileOf(path, "B");
      const fs = fileOf(path, "s");
      assertEquals((await d.get(key("B")))?.body, big); // first read: checked, remembered
      const { mtime } = await Deno.stat(fs);
      // The small file is damaged in place with its mtime kept: still caught (checked on every read).
      const small = await Deno.readFile(fs);
      small[small.length - 4 - 1] ^= 0x01; // the body's last byte, before its 4-byte block table
      await Deno.writeFile(fs, small);
      await Deno.utime(fs, mtime!, mtime!);
      strictEqual(await d.get(key("s")), undefined);
      strictEqual(d.stats().damaged, 1);
      // The large file is damaged through the file system: a new version (mtime), checked again.
      const bytes = await Deno.readFile(fb);
      bytes[bytes.length - 10] ^= 0x01;
      await Deno.writeFile(fb, bytes);
      await Deno.utime(fb, new Date(), new Date(Date.now() + 10_000));
      strictEqual(await d.get(key("B")), undefined);
      strictEqual(d.stats().damaged, 2);
      await rejects(Deno.stat(fb), Deno.errors.NotFound);
    } finally {
      await d.close();
    }
  });
});

Deno.test("CacheDir hands the object read by variants() to the get() of the same lookup", async () => {
  await withDir(async (path) => {
    const d = await open(path);
    try {
      await fill(d, 1, 1000);
      const [meta] = await d.variants("http://o/0");
      strictEqual(meta.bodyBytes, 1000);
      // The file goes away between the two calls: get() still answers from the read variants()
      // made (one file read per hit), once; the next lookup reads the file again and misses.
      await Deno.remove(fileOf(path, 0));
      const got = await d.get(key(0));
      strictEqual(got?.meta, meta);
      assertEquals(got?.body, testBody("0", 1000));
      strictEqual(await d.get(key(0)), undefined);
      // A delete or a new version drops what variants() read.
      await fill(d, 1, 1000, 1);
      await d.variants("http://o/1");
      await d.delete("http://o/1");
      strictEqual(await d.get(key(1)), undefined);
      await fill(d, 1, 1000, 2);
      await d.variants("http://o/2");
      await put(d, testMeta("http://o/2", 500), testBody("new", 500));
      assertEquals((await d.get(key(2)))?.body, testBody("new", 500));
    } finally {
      await d.close();
    }
  });
});

Deno.test("CacheDir stops the body stream of a damaged large file at its first bad block", async () => {
  await withDir(async (path) => {
    const d = await open(path);
    try {
      const body = testBody("L", 500_000);
      await put(d, testMeta("http://o/L", body.length), body);
      const f = fileOf(path, "L");
      const bytes = await Deno.readFile(f);
      const bodyAt = bytes.length - 4 * Math.ceil(body.length / BODY_BLOCK_BYTES) - body.length;
      bytes[bodyAt + 2 * BODY_BLOCK_BYTES + 100] ^= 0x40; // in the third block
      await Deno.writeFile(f, bytes);
      const got = await d.get(key("L"));
      ok(got); // the header is fine; the body is checked while streaming
      const received: Uint8Array[] = [];
      await rejects(async () => {
        for await (const c of got.openBody()) received.push(c);
      }, /block 2 fails its checksum/);
      // The two good blocks before it, unchanged, and not a byte of the bad one.
      assertEquals(concat(received), body.subarray(0, 2 * BODY_BLOCK_BYTES));
      strictEqual(d.stats().damaged, 1);
      await rejects(Deno.stat(f), Deno.errors.NotFound);
    } finally {
      await d.close();
    }
  });
});

Deno.test("CacheDir streams the large body it looked up although the file is evicted or replaced before the stream starts", async () => {
  await withDir(async (path) => {
    const d = await open(path);
    try {
      const first = testBody("L1", 500_000);
      await put(d, testMeta("http://o/L", first.length), first);
      // Looked up, head sent, then (before the body stream reads) another worker evicts the file.
      const evicted = await d.get(key("L"));
      ok(evicted);
      await Deno.remove(fileOf(path, "L"));
      assertEquals(await readAll(evicted.openBody()), first);
      // Looked up, then the object is replaced by a new version before the stream reads.
      await put(d, testMeta("http://o/L", first.length), first);
      const replaced = await d.get(key("L"));
      ok(replaced);
      const second = testBody("L2", 600_000);
      await put(d, testMeta("http://o/L", second.length), second);
      assertEquals(await readAll(replaced.openBody()), first);
      // A later lookup sees the new version.
      const now = await d.get(key("L"));
      ok(now);
      assertEquals(await readAll(now.openBody()), second);
      strictEqual(d.stats().damaged, 0);
    } finally {
      await d.close();
    }
  });
});

Deno.test("CacheDir treats truncated, extended and garbage files as damaged", async () => {
  await withDir(async (path) => {
    const d = await open(path);
    try {
      await fill(d, 3, 3000);
      const f0 = fileOf(path, 0);
      await Deno.truncate(f0, 2000);
      const f1 = fileOf(path, 1);
      await Deno.writeFile(f1, new Uint8Array([1, 2, 3]), { append: true });
      await Deno.writeFile(fileOf(path, 2), testBody("garbage", 4000));
      for (let i = 0; i < 3; i++) strictEqual(await d.get(key(i)), undefined);
      strictEqual(d.stats().damaged, 3);
    } finally {
      await d.close();
    }
  });
});

Deno.test("CacheDir leaves nothing behind for an aborted or failed write", async () => {
  await withDir(async (path) => {
    const d = await open(path, { maxObjectBytes: 200_000 });
    try {
      const w = d.openWrite(testMeta("http://o/a", 150_000));
      await w.write(testBody("a", 100_000)); // spilled to tmp/
      ok([...Deno.readDirSync(`${path}/tmp`)].length === 1);
      await w.abort();
      const big = d.openWrite(testMeta("http://o/b", -1));
      await big.write(testBody("b", 150_000));
      await rejects(Promise.resolve(big.write(testBody("b", 100_000))), {
        name: "StoreWriteError",
        reason: "toolarge",
      });
      assertEquals([...Deno.readDirSync(`${path}/tmp`)], []);
      strictEqual(await d.get(key("a")), undefined);
      assertEquals(d.stats().writeFailures, { toolarge: 1 });
    } finally {
      await d.close();
    }
  });
});

Deno.test("CacheDir restarts from its KV index without rescanning", async () => {
  await withDir(async (path) => {
    const lines: string[] = [];
    const d1 = await open(path);
    await fill(d1, 20, 1000);
    await d1.close();
    setLogSink((l) => lines.push(l));
    configureLogging({ components: { "cache.store": "info" } });
    try {
      const d2 = await open(path);
      try {
        strictEqual(d2.status().state, "ready");
        strictEqual(d2.status().rebuild, undefined);
        strictEqual(d2.stats().objects, 20);
        ok(lines.some((l) => l.includes("index loaded") && l.includes('"objects":20')));
        assertEquals(await readAll((await d2.get(key(7)))!.openBody()), testBody("7", 1000));
      } finally {
        await d2.close();
      }
    } finally {
      setLogSink();
      configureLogging({ components: { "cache.store": "warn" } });
    }
  });
});

for (
  const [what, damage] of [
    ["a missing KV file", (p: string) => Deno.remove(`${p}/index.kv`)],
    ["a stale lock of a killed instance", (p: string) =>
      Deno.writeTextFile(
        `${p}/LOCK`,
        JSON.stringify({ instance: "gone", pid: 2 ** 22 + 7, hostname: "h", startedAt: "x", ready: true }),
      )],
    ["a KV file from another directory", async (p: string) => {
      await Deno.writeTextFile(`${p}/GENERATION`, crypto.randomUUID());
    }],
  ] as const
) {
  Deno.test(`CacheDir rebuilds its index in the background after ${what}`, async () => {
    await withDir(async (path) => {
      const d1 = await open(path);
      await fill(d1, 30, 2000);
      await d1.delete("http://o/3");
      await d1.close();
      await damage(path);
      const d2 = await CacheDir.open({ path, maxBytes: 32 << 20, l1: 4, l2: 8 });
      try {
        // Served while rebuilding: lookups go to the files.
        ok(await d2.get(key(5)));
        await d2.whenReady();
        const st = d2.status();
        strictEqual(st.state, "ready");
        strictEqual(st.rebuild?.scannedFiles, 29);
        strictEqual(st.rebuild?.indexed, 29);
        strictEqual(d2.stats().objects, 29);
        strictEqual(await d2.get(key(3)), undefined);
        assertEquals((await d2.variants("http://o/9")).length, 1);
      } finally {
        await d2.close();
      }
    });
  });
}

Deno.test("CacheDir keeps its size between the watermarks and keeps hot objects (SIEVE)", async () => {
  await withDir(async (path) => {
    const size = 10_000;
    const d = await open(path, { maxBytes: 50 * (size + 200), lowWatermark: 0.8, highWatermark: 0.9 });
    try {
      await fill(d, 10, size); // 0..9, hot
      for (let round = 0; round < 8; round++) {
        for (let i = 0; i < 10; i++) ok(await d.get(key(i)));
        await fill(d, 10, size, 100 + round * 10);
        // the next housekeeping tick evicts down to the low watermark
        await waitFor(() => d.stats().bytes <= 0.9 * 50 * (size + 200), "eviction");
      }
      const st = d.stats();
      ok(st.bytes <= 0.9 * 50 * (size + 200), `bytes ${st.bytes}`);
      ok(st.evictions > 0);
      for (let i = 0; i < 10; i++) ok(await d.get(key(i)), `hot object ${i} was evicted`);
      const countFiles = () => {
        let files = 0;
        for (const l1 of Deno.readDirSync(path)) {
          if (!/^[0-9A-F]{2}$/.test(l1.name)) continue;
          for (const l2 of Deno.readDirSync(`${path}/${l1.name}`)) {
            files += [...Deno.readDirSync(`${path}/${l1.name}/${l2.name}`)].length;
          }
        }
        return files;
      };
      // Victims leave the policy before their files are unlinked (asynchronously): wait for the
      // eviction pass to finish.
      await waitFor(() => countFiles() === d.stats().objects, `files = ${d.stats().objects} objects`);
    } finally {
      await d.close();
    }
  });
});

Deno.test("CacheDir refuses a directory locked by another live instance", async () => {
  await withDir(async (path) => {
    const lock = { instance: "other", pid: 1, hostname: "h", startedAt: "2026-01-01T00:00:00Z", ready: true };
    await Deno.writeTextFile(`${path}/LOCK`, JSON.stringify(lock));
    await rejects(
      CacheDir.open({ path, maxBytes: 1 << 20 }),
      (e: Error) => e instanceof DirLockedError && /used by instance other \(pid 1/.test(e.message),
    );
  });
});

Deno.test("CacheDir refuses a path that is a file", async () => {
  await withDir(async (path) => {
    await Deno.writeTextFile(`${path}/f`, "x");
    await rejects(CacheDir.open({ path: `${path}/f`, maxBytes: 1 << 20 }), /"[^"]+\/f": it is not a directory/);
  });
});

Deno.test("CacheDir workers of one instance share a directory; only the evictor evicts", async () => {
  await withDir(async (path) => {
    const instance = crypto.randomUUID();
    const size = 5000;
    const maxBytes = 40 * (size + 200);
    const w0 = await open(path, { instance, evictor: true, maxBytes });
    const w1 = await open(path, { instance, evictor: false, maxBytes });
    try {
      await fill(w1, 10, size);
      // w0 sees w1's objects at once (same files), and learns of them through the journal.
      assertEquals(await readAll((await w0.get(key(4)))!.openBody()), testBody("4", size));
      // Vary'd variants stored by w1 are listed by w0 (Vary marker + index).
      for (const v of ["gzip", "br"]) {
        await put(w1, testMeta("http://o/v", 10, { variant: v, vary: ["accept-encoding"] }), testBody(v, 10));
      }
      let seen: string[] = [];
      for (const end = Date.now() + 5000; seen.length < 2 && Date.now() < end; await sleep(10)) {
        seen = (await w0.variants("http://o/v")).map((m) => m.variant).sort();
      }
      assertEquals(seen, ["br", "gzip"]);
      strictEqual((await w0.variants("http://o/none")).length, 0);
      await fill(w1, 60, size, 10);
      await waitFor(() => w0.stats().evictions > 0 && w0.stats().bytes <= 0.95 * maxBytes, "eviction by w0");
      ok(w0.stats().objects > 0 && w0.stats().bytes <= 0.95 * maxBytes, JSON.stringify(w0.stats()));
      ok(w0.stats().evictions > 0);
      strictEqual(w1.stats().evictions, 0);
    } finally {
      await w1.close();
      await w0.close();
    }
    // A clean close released the lock: another instance may now open it.
    const other = await open(path, { instance: "next" });
    await other.close();
  });
});

Deno.test("CacheDir workers report their hits to the evictor, counted per object", async () => {
  await withDir(async (path) => {
    const instance = crypto.randomUUID();
    const w0 = await open(path, { instance, evictor: true });
    const w1 = await open(path, { instance, evictor: false });
    try {
      await fill(w0, 2, 100);
      for (let i = 0; i < 5; i++) ok(await w1.get(key(0)));
      ok(await w0.get(key(1)));
    } finally {
      await w1.close(); // reports the hits it counted
      await w0.close(); // takes the journal, writes the access records
    }
    const kv = await Deno.openKv(`${path}/index.kv`);
    try {
      const n = new Map<string, number>();
      for await (const e of kv.list<{ n: number }>({ prefix: ["o"] })) {
        n.set(`${e.key[1] as string}-${e.key[2] as string}`, e.value.n);
      }
      strictEqual(n.get(objectName("http://o/0", "")), 6); // stored + 5 hits in w1
      strictEqual(n.get(objectName("http://o/1", "")), 2); // stored + 1 hit in w0
    } finally {
      kv.close();
    }
  });
});

Deno.test("CacheDir rebuilds the index of a copied directory (the KV names the original's inode)", async () => {
  await withDir(async (path) => {
    const d1 = await open(path);
    await fill(d1, 10, 500);
    await d1.close();
    const copy = `${path}-copy`;
    const cp = await new Deno.Command("cp", { args: ["-a", path, copy] }).output();
    ok(cp.success);
    try {
      const lines: string[] = [];
      setLogSink((l) => lines.push(l));
      configureLogging({ components: { "cache.store": "info" } });
      const d2 = await open(copy);
      try {
        ok(lines.some((l) => l.includes("index belongs to another directory")), lines.join("\n"));
        strictEqual(d2.status().rebuild?.indexed, 10);
        assertEquals(await readAll((await d2.get(key(3)))!.openBody()), testBody("3", 500));
      } finally {
        await d2.close();
        setLogSink();
        configureLogging({ components: { "cache.store": "warn" } });
      }
    } finally {
      await Deno.remove(copy, { recursive: true });
    }
  });
});

Deno.test("CacheDir checks each block a range read sends, and reads format 1 files without a table", async () => {
  await withDir(async (path) => {
    const d = await open(path);
    try {
      const body = testBody("R", 300_000);
      await put(d, testMeta("http://o/R", body.length), body);
      const f = fileOf(path, "R");
      const good = await d.get(key("R"));
      ok(good);
      // A range across a block boundary: whole blocks read and checked, only the range sent.
      const range = { start: BODY_BLOCK_BYTES - 10, end: BODY_BLOCK_BYTES + 9 };
      assertEquals(concat(await Array.fromAsync(good.openBody(range))), body.subarray(range.start, range.end + 1));
      const bytes = await Deno.readFile(f);
      const bodyAt = bytes.length - 4 * Math.ceil(body.length / BODY_BLOCK_BYTES) - body.length;
      bytes[bodyAt + BODY_BLOCK_BYTES + 5000] ^= 1; // block 1, outside the range but inside its blocks
      await Deno.writeFile(f, bytes);
      const got = await d.get(key("R"));
      ok(got);
      await rejects(async () => {
        for await (const _ of got.openBody(range)) { /* consume */ }
      }, /block 1 fails its checksum/);
      strictEqual(d.stats().damaged, 1);
      // A format 1 file (written by an older webcache: no block table) is still served.
      const old = testBody("V", 300_000);
      await put(d, testMeta("http://o/V", old.length), old);
      const fv = fileOf(path, "V");
      const v2 = await Deno.readFile(fv);
      const h = new DataView(v2.buffer).getUint32(8, true);
      const v1 = v2.slice(0, h + old.length);
      new DataView(v1.buffer).setUint16(4, 1, true);
      new DataView(v1.buffer).setUint32(h - 4, crc32c(v1.subarray(0, h - 4)), true);
      await Deno.writeFile(fv, v1);
      const obj = await d.get(key("V"));
      ok(obj);
      assertEquals(concat(await Array.fromAsync(obj.openBody())), old);
    } finally {
      await d.close();
    }
  });
});

/**
 * Another worker (`w0`) replaces `r`, deletes `d` (PURGE) and damages `x` in place (same inode,
 * new bytes and ctime); `w1`, which keeps those files open (and maybe mapped), serves the new `r`
 * (twice: from the new version's kept file or mapping too), nothing for `d` and nothing for `x`.
 */
async function assertReplacedDeletedDamagedSeen(
  path: string,
  w0: CacheDir,
  w1: CacheDir,
  kept: number,
  damageAt: (fileBytes: number) => number,
): Promise<void> {
  await put(w0, testMeta("http://o/r", kept), testBody("new", kept));
  assertEquals(w1.get(key("r"))?.body, testBody("new", kept));
  assertEquals(w1.get(key("r"))?.body, testBody("new", kept));
  strictEqual(await w0.delete("http://o/d"), 1);
  strictEqual(w1.get(key("d")), undefined);
  const f = fileOf(path, "x");
  const bytes = await Deno.readFile(f);
  bytes[damageAt(bytes.length)] ^= 0x01;
  await Deno.writeFile(f, bytes);
  strictEqual(w1.get(key("x")), undefined);
  strictEqual(w1.stats().damaged, 1);
}

Deno.test("CacheDir with open files kept: another worker's replacement, deletion and damage are seen", async () => {
  await withDir(async (path) => {
    const instance = crypto.randomUUID();
    const w0 = await open(path, { instance, evictor: true, openFiles: 16 });
    const w1 = await open(path, { instance, evictor: false, openFiles: 16 });
    const KEPT = 20_000; // above ALWAYS_VERIFY_BYTES: files kept open
    try {
      await put(w0, testMeta("http://o/r", KEPT), testBody("old", KEPT));
      await put(w0, testMeta("http://o/d", KEPT), testBody("d", KEPT));
      await put(w0, testMeta("http://o/x", KEPT), testBody("x", KEPT));
      for (const k of ["r", "d", "x"]) ok(w1.get(key(k)), k); // w1 now keeps the three files open
      await assertReplacedDeletedDamagedSeen(path, w0, w1, KEPT, (n) => n - 5);
    } finally {
      await w1.close();
      await w0.close();
    }
  });
});

Deno.test("CacheDir decodes a header again when its bytes changed: another worker's new headers, in-place damage", async () => {
  await withDir(async (path) => {
    const instance = crypto.randomUUID();
    const w0 = await open(path, { instance, evictor: true });
    const w1 = await open(path, { instance, evictor: false });
    try {
      const meta = (etag: string) => testMeta("http://o/h", 1000, { headers: [["etag", etag]] });
      await put(w0, meta('"aaaa"'), testBody("h", 1000));
      assertEquals(w1.get(key("h"))?.meta.headers, [["etag", '"aaaa"']]); // decoded and remembered
      assertEquals(w1.get(key("h"))?.meta.headers, [["etag", '"aaaa"']]);
      // A new version with a header block of the same length: w1 serves its headers.
      await put(w0, meta('"bbbb"'), testBody("h", 1000));
      assertEquals(w1.get(key("h"))?.meta.headers, [["etag", '"bbbb"']]);
      // One header byte flipped in place (the header CRC no longer matches): never served.
      const f = fileOf(path, "h");
      const bytes = await Deno.readFile(f);
      const at = new TextDecoder("latin1").decode(bytes).indexOf('"bbbb"') + 1;
      bytes[at] = "c".charCodeAt(0);
      await Deno.writeFile(f, bytes);
      strictEqual(w1.get(key("h")), undefined);
      strictEqual(w1.stats().damaged, 1);
    } finally {
      await w1.close();
      await w0.close();
    }
  });
});

Deno.test("CacheDir gives a body read whole headroom of its own for the response head, once", async () => {
  await withDir(async (path) => {
    const d = await open(path);
    try {
      await fill(d, 2, 3000);
      const a = d.get(key(0))!;
      const b = d.get(key(1))!;
      const room = b.takeHeadroom!();
      ok(room >= 256 + 80, `headroom ${room}`);
      strictEqual(b.takeHeadroom!(), 0, "only one response may write there");
      // Writing the whole headroom changes neither this body nor the body read before it.
      new Uint8Array(b.body!.buffer, b.body!.byteOffset - room, room).fill(0xff);
      assertEquals(a.body, testBody("0", 3000));
      assertEquals(b.body, testBody("1", 3000));
      // A large body read through a kept file takes headroom too.
      const k = await open(`${path}/k`, { openFiles: 4 });
      try {
        await put(k, testMeta("http://o/K", 100_000), testBody("K", 100_000));
        for (let i = 0; i < 2; i++) {
          const obj = k.get(key("K"))!;
          ok(obj.takeHeadroom!() >= 256, `read ${i}`);
          assertEquals(obj.body, testBody("K", 100_000));
        }
      } finally {
        await k.close();
      }
    } finally {
      await d.close();
    }
  });
});

Deno.test("CacheDir never lets a later read overwrite a body that was not released", async () => {
  await withDir(async (path) => {
    const d = await open(path, { openFiles: 4 });
    try {
      await put(d, testMeta("http://o/K", 100_000), testBody("K", 100_000));
      await fill(d, 2, 3000);
      const held = d.get(key(0))!; // kept by its reader (a slow client, a memory tier)
      // Many reads that are released at once (served hits): their slabs are reused.
      for (let i = 0; i < 40; i++) d.get(key("K"))!.release!();
      assertEquals(held.body, testBody("0", 3000));
      const released = d.get(key(1))!;
      assertEquals(released.body, testBody("1", 3000));
      released.release!();
      for (let i = 0; i < 40; i++) assertEquals(d.get(key("K"))!.body, testBody("K", 100_000));
      assertEquals(held.body, testBody("0", 3000));
    } finally {
      await d.close();
    }
  });
});

Deno.test("CacheDir reads a kept file's hit into the buffer the last finished hit gave back, never into one still held", async () => {
  await withDir(async (path) => {
    const d = await open(path, { openFiles: 4, mapFiles: false }); // the read path
    try {
      await put(d, testMeta("http://o/A", 100_000), testBody("A", 100_000));
      await put(d, testMeta("http://o/B", 100_000), testBody("B", 100_000));
      d.get(key("A"))!.release!(); // first reads: the files are kept open from now on
      d.get(key("B"))!.release!();
      const held = d.get(key("A"))!; // a hit whose write has not completed
      const first = d.get(key("B"))!;
      ok(first.body!.buffer !== held.body!.buffer);
      first.release!();
      const next = d.get(key("B"))!; // the buffer just given back (still in the CPU's caches)
      strictEqual(next.body!.buffer, first.body!.buffer);
      assertEquals(next.body, testBody("B", 100_000));
      const other = d.get(key("A"))!; // next is held: another buffer
      ok(other.body!.buffer !== next.body!.buffer && other.body!.buffer !== held.body!.buffer);
      next.release!();
      other.release!();
      for (let i = 0; i < 20; i++) d.get(key(i % 2 ? "A" : "B"))!.release!();
      assertEquals(held.body, testBody("A", 100_000), "the held body kept its bytes");
      held.release!();
    } finally {
      await d.close();
    }
  });
});

Deno.test("CacheDir serves a kept file's hits from its mapping, never a replaced, purged or damaged version", async () => {
  await withDir(async (path) => {
    const instance = crypto.randomUUID();
    const w0 = await open(path, { instance, evictor: true, openFiles: 16 });
    const w1 = await open(path, { instance, evictor: false, openFiles: 16, mapFiles: true });
    const KEPT = 100_000;
    try {
      for (const k of ["r", "d", "x"]) await put(w0, testMeta(`http://o/${k}`, KEPT), testBody(k, KEPT));
      for (const k of ["r", "d", "x"]) for (let i = 0; i < 2; i++) w1.get(key(k))!.release!(); // opened, then mapped
      const a = w1.get(key("r"))!; // not released: a read buffer would never be handed out twice
      const b = w1.get(key("r"))!;
      strictEqual(b.body!.buffer, a.body!.buffer, "both hits show the one mapping");
      assertEquals(b.body, testBody("r", KEPT));
      a.release!();
      b.release!();
      // Damaged in the body (the block table ends the file).
      await assertReplacedDeletedDamagedSeen(path, w0, w1, KEPT, (n) => n >> 1);
    } finally {
      await w1.close();
      await w0.close();
    }
  });
});

Deno.test("CacheDir hands a mapped hit's headroom to one response at a time and never changes the file", async () => {
  await withDir(async (path) => {
    const d = await open(path, { openFiles: 4, mapFiles: true });
    try {
      const meta = testMeta("http://o/M", 100_000, { headers: [["etag", '"m1"']] });
      await put(d, meta, testBody("M", 100_000));
      const onDisk = await Deno.readFile(fileOf(path, "M"));
      for (let i = 0; i < 2; i++) d.get(key("M"))!.release!(); // opened, then mapped
      const a = d.get(key("M"))!;
      const room = a.takeHeadroom!();
      ok(room >= 80, `headroom ${room}`);
      // The sender writes a response head there (the header block the mapping shows).
      new Uint8Array(a.body!.buffer, a.body!.byteOffset - room, room).fill(0xff);
      const b = d.get(key("M"))!; // a's write has not completed
      strictEqual(b.body!.buffer, a.body!.buffer);
      strictEqual(b.takeHeadroom!(), 0, "a owns the headroom until it is released");
      assertEquals(b.meta.headers, [["etag", '"m1"']], "the header decoded before any head was written");
      assertEquals(b.body, testBody("M", 100_000));
      b.release!(); // releases nothing of a's
      strictEqual(d.get(key("M"))!.takeHeadroom!(), 0);
      a.release!();
      const c = d.get(key("M"))!;
      strictEqual(c.takeHeadroom!(), room, "free again once a's write completed");
      c.release!();
      assertEquals(await Deno.readFile(fileOf(path, "M")), onDisk, "the file is unchanged (a private mapping)");
    } finally {
      await d.close();
    }
  });
});
