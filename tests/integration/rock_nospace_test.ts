/**
 * A full disk (ENOSPC) under a rock directory on a 1 MiB tmpfs: its slot file is sparse, so
 * writes into slots never written before fail once the file system is full. Storing stops and is
 * counted with reason "nospace", logged once; every object stored before is still served byte
 * for byte and none reads as damaged; after the back-off, objects that reuse a slot already
 * written (a replaced key) are stored again.
 */
import { deepStrictEqual as assertEquals, ok, strictEqual } from "node:assert/strict";
import { configureLogging, setLogSink } from "../../core/log.ts";
import { RockDir } from "../../cache/store/disk/rock/rock_dir.ts";
import { put, readAll, testBody, testMeta } from "../conformance/store_suite.ts";
import { withTmpfs } from "./_mount.ts";
import { requires } from "../_requires.ts";

Deno.test({
  ...await requires(
    "A full disk under a rock directory stops storing, keeps serving, logs once and counts nospace",
    { root: true, commands: ["mount", "umount"] },
  ),
}, async () => {
  await withTmpfs("size=1m", async (mnt) => {
    const lines: string[] = [];
    setLogSink((l) => lines.push(l));
    configureLogging({ components: { "cache.store": "info" } });
    const dir = await RockDir.open({
      path: `${mnt}/rock`,
      maxBytes: 64 << 20, // far larger than the file system: created sparse
      slotBytes: 16 * 1024,
      ways: 8,
      noSpaceBackoffMs: 300,
    });
    try {
      const stored: string[] = [];
      const reasons: string[] = [];
      for (let i = 0; i < 400 && reasons.length < 5; i++) {
        const key = `http://full/${i}`;
        try {
          await put(dir, testMeta(key, 12_000), testBody(key, 12_000));
          stored.push(key);
        } catch (e) {
          reasons.push((e as { reason?: string }).reason ?? String(e));
        }
      }
      ok(stored.length >= 10, `only ${stored.length} objects fit`);
      assertEquals(new Set(reasons), new Set(["nospace"]));
      ok((dir.stats().writeFailures?.nospace ?? 0) >= 5);
      strictEqual(dir.status().noSpace, true);
      strictEqual(lines.filter((l) => l.includes("is full (ENOSPC)")).length, 1, "logged once");
      for (const key of stored) {
        const obj = dir.get({ primary: key, variant: "" });
        assertEquals(await readAll(obj!.openBody()), testBody(key, 12_000), key);
      }
      strictEqual(dir.stats().damaged, 0);

      // After the back-off a replaced key reuses its written slot: storing works again.
      await new Promise((r) => setTimeout(r, 350));
      await put(dir, testMeta(stored[0], 11_000), testBody("again", 11_000));
      assertEquals(await readAll(dir.get({ primary: stored[0], variant: "" })!.openBody()), testBody("again", 11_000));
      ok(lines.some((l) => l.includes("accepts objects again")));
    } finally {
      await dir.close();
      setLogSink();
      configureLogging({ components: { "cache.store": "warn" } });
    }
  });
});
