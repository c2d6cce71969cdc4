import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { DiskIndex, type JournalEvent } from "./disk_index.ts";

Deno.test("DiskIndex.flush() writes a large journal whole (KV's 64 KiB value limit)", async () => {
  const dir = await Deno.makeTempDir({ prefix: "disk-index-" });
  const errors: unknown[] = [];
  const index = await DiskIndex.open(`${dir}/index.kv`, (e) => errors.push(e));
  try {
    // One second of hits of a busy worker on 20,000 objects: one touch event per object, each
    // with a 65-character object name (as _paths.ts makes them).
    const n = 20_000;
    for (let i = 0; i < n; i++) {
      index.journal(
        { o: i % 3 ? "t" : "i", k: `${i.toString(16).padStart(32, "0")}-${"f".repeat(32)}`, b: 1 } as JournalEvent,
      );
    }
    await index.flush();
    assertEquals(errors, []);
    const got: JournalEvent[] = [];
    for (let evs = await index.takeJournal(); evs.length; evs = await index.takeJournal()) got.push(...evs);
    assertEquals(got.length, n);
    assertEquals(new Set(got.map((e) => e.k)).size, n);
  } finally {
    await index.close();
    await Deno.remove(dir, { recursive: true });
  }
});
