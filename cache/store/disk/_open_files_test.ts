import { deepStrictEqual as assertEquals, ok as assert } from "node:assert/strict";
import { MAX_OPEN_FILES, openFileBudget, OpenFiles } from "./_open_files.ts";

const LIMITS = (soft: string) =>
  `Limit                     Soft Limit           Hard Limit           Units\n` +
  `Max cpu time              unlimited            unlimited            seconds\n` +
  `Max open files            ${soft}                20000                files\n`;

Deno.test("openFileBudget: half the soft limit shared by workers and directories, capped", () => {
  assertEquals(openFileBudget(2, 1, LIMITS("20000")), 5000);
  assertEquals(openFileBudget(4, 2, LIMITS("1024")), 64);
  assertEquals(openFileBudget(1, 1, LIMITS("1048576")), MAX_OPEN_FILES);
  assertEquals(openFileBudget(1, 1, LIMITS("unlimited")), MAX_OPEN_FILES);
  assertEquals(openFileBudget(1, 1, "no such line"), 0);
  assert(openFileBudget(1, 1) >= 0);
});

Deno.test("OpenFiles: a kept file is handed back with what was kept with it; a replaced or deleted one never", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const path = `${dir}/obj`;
    await Deno.writeTextFile(path, "version 1");
    const files = new OpenFiles<string>(8);
    const f = Deno.openSync(path, { read: true });
    f.readSync(new Uint8Array(4));
    files.keep(path, f, "mapping of version 1");
    const t = files.take(path)!;
    assertEquals(t.size, 9);
    assertEquals(t.extra, "mapping of version 1");
    const buf = new Uint8Array(9);
    t.file.seekSync(0, Deno.SeekMode.Start); // handed back where its last reader left it
    t.file.readSync(buf);
    assertEquals(new TextDecoder().decode(buf), "version 1");
    assertEquals(files.take(path), undefined, "taken files are out of the cache until kept again");
    files.keep(path, t.file);
    assertEquals(files.take(path)!.extra, undefined, "kept again without it: nothing kept with it");
    files.keep(path, t.file, "again");

    // Another writer installs a new version by rename: the kept descriptor is of the old inode.
    await Deno.writeTextFile(`${dir}/tmp`, "version 2!");
    await Deno.rename(`${dir}/tmp`, path);
    assertEquals(files.take(path), undefined);
    assertEquals(files.size, 0);

    const g = Deno.openSync(path, { read: true });
    files.keep(path, g);
    await Deno.remove(path);
    assertEquals(files.take(path), undefined, "an unlinked file is not handed out");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("OpenFiles: bounded (oldest closed first), sweep closes unlinked files, drop and closeAll", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const files = new OpenFiles(2);
    for (const n of ["a", "b", "c"]) {
      await Deno.writeTextFile(`${dir}/${n}`, n);
      files.keep(`${dir}/${n}`, Deno.openSync(`${dir}/${n}`, { read: true }));
    }
    assertEquals(files.size, 2);
    assertEquals(files.take(`${dir}/a`), undefined, "the oldest was pushed out");
    await Deno.remove(`${dir}/b`);
    assertEquals(files.sweep(), 1);
    assertEquals(files.size, 1);
    files.drop(`${dir}/c`);
    assertEquals(files.size, 0);
    files.keep(`${dir}/c`, Deno.openSync(`${dir}/c`, { read: true }));
    files.closeAll();
    assertEquals(files.size, 0);
    const none = new OpenFiles(0);
    none.keep(`${dir}/c`, Deno.openSync(`${dir}/c`, { read: true }));
    assertEquals(none.size, 0);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
