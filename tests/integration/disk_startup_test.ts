/**
 * Start-up errors of the disk store: a read-only cache directory and a directory locked by
 * another live instance (a real second process) are clear errors; the instance's own workers
 * join the lock; a dead holder's lock is taken over.
 */
import { ok, rejects } from "node:assert/strict";
import { CacheDir } from "../../cache/store/disk/cache_dir.ts";
import { DirLockedError } from "../../cache/store/disk/dir_lock.ts";
import { configureLogging } from "../../core/log.ts";
import { withTmpfs } from "./_mount.ts";
import { requires } from "../_requires.ts";

configureLogging({ components: { "cache.store": "warn" } });

Deno.test({
  ...await requires("A read-only cache directory is a clear error at start", {
    root: true,
    commands: ["mount", "umount"],
  }),
}, async () => {
  await withTmpfs("ro,size=1m", async (mnt) => {
    await rejects(
      CacheDir.open({ path: mnt, maxBytes: 1 << 20 }),
      (e: Error) =>
        e.message.startsWith(`Cannot use cache directory "${mnt}": not writable: `) && /Read-only/.test(e.message),
    );
  });
});

Deno.test("A cache directory locked by another live instance is a clear error at start", async () => {
  const path = await Deno.makeTempDir({ prefix: "webcache-lock-" });
  const proc = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      "--unstable-kv",
      new URL("./_disk_writer_proc.ts", import.meta.url).pathname,
      path,
      "holder",
      "0",
      "1",
      String(4 << 20),
      "p",
      "0",
    ],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  try {
    const reader = proc.stdout.pipeThrough(new TextDecoderStream()).getReader();
    let out = "";
    while (!out.includes("READY")) {
      const r = await reader.read();
      if (r.done) throw new Error("holder exited");
      out += r.value;
    }
    await rejects(
      CacheDir.open({ path, maxBytes: 4 << 20, instance: "intruder" }),
      (e: Error) => e instanceof DirLockedError && e.message.includes(`used by instance holder (pid ${proc.pid}`),
    );
    // The holder's workers join it freely.
    const sibling = await CacheDir.open({ path, maxBytes: 4 << 20, l1: 4, l2: 4, instance: "holder", evictor: false });
    await sibling.close();
    proc.kill("SIGKILL");
    await proc.status;
    await reader.cancel();
    // Once the holder is gone its lock is stale and is taken over.
    const next = await CacheDir.open({ path, maxBytes: 4 << 20, l1: 4, l2: 4, instance: "next" });
    ok(next.status().state !== undefined);
    await next.close();
  } finally {
    try {
      proc.kill("SIGKILL");
    } catch { /* gone */ }
    await proc.status;
    await Deno.remove(path, { recursive: true });
  }
});
