/**
 * A full disk (ENOSPC) on a 2 MiB tmpfs: storing stops and is counted with reason "nospace",
 * logged once, lookups keep serving every object stored before (byte for byte), and storing
 * resumes once space is freed.
 */
import { deepStrictEqual as assertEquals, ok, strictEqual } from "node:assert/strict";
import { configureLogging, setLogSink } from "../../core/log.ts";
import { CacheDir } from "../../cache/store/disk/cache_dir.ts";
import { put, readAll, testBody, testMeta } from "../conformance/store_suite.ts";
import { withTmpfs } from "./_mount.ts";
import { requires } from "../_requires.ts";

Deno.test({
  ...await requires(
    "A full disk stops storing, keeps serving, logs once and counts nospace; nothing stored is damaged",
    {
      root: true,
      commands: ["mount", "umount"],
    },
  ),
}, async () => {
  await withTmpfs("size=2m", async (mnt) => {
    const lines: string[] = [];
    setLogSink((l) => lines.push(l));
    configureLogging({ components: { "cache.store": "info" } });
    const dir = await CacheDir.open({
      path: `${mnt}/cache`,
      maxBytes: 100 << 20, // larger than the file system: the disk fills before any watermark
      l1: 2,
      l2: 2,
      noSpaceBackoffMs: 300,
    });
    try {
      await dir.whenReady();
      const stored: string[] = [];
      const reasons: string[] = [];
      for (let i = 0; i < 40 && reasons.length < 5; i++) {
        const key = `http://full/${i}`;
        try {
          await put(dir, testMeta(key, 100_000), testBody(key, 100_000));
          stored.push(key);
        } catch (e) {
          reasons.push((e as { reason?: string }).reason ?? String(e));
        }
      }
      ok(stored.length >= 5, `only ${stored.length} objects fit`);
      assertEquals(new Set(reasons), new Set(["nospace"]));
      ok((dir.stats().writeFailures?.nospace ?? 0) >= 5);
      strictEqual(dir.status().noSpace, true);
      strictEqual(lines.filter((l) => l.includes("is full (ENOSPC)")).length, 1, "logged once");
      for (const key of stored) {
        const obj = await dir.get({ primary: key, variant: "" });
        assertEquals(await readAll(obj!.openBody()), testBody(key, 100_000), key);
      }
      assertEquals([...Deno.readDirSync(`${mnt}/cache/tmp`)], []);
      strictEqual(dir.stats().damaged, 0);

      // Free space; after the back-off storing resumes.
      for (const key of stored.slice(0, 6)) await dir.delete(key);
      await new Promise((r) => setTimeout(r, 350));
      await put(dir, testMeta("http://full/again", 50_000), testBody("http://full/again", 50_000));
      ok(await dir.get({ primary: "http://full/again", variant: "" }));
      ok(lines.some((l) => l.includes("accepts objects again")));
    } finally {
      await dir.close();
      setLogSink();
      configureLogging({ components: { "cache.store": "warn" } });
    }
  });
});
