/**
 * `webcache cache --cache-dir DIR --cache-size SIZE` end to end (the bundle as a process, over
 * real sockets): hits served from disk after a restart with and without the KV index, kill -9
 * of the cache during heavy writes (many times), and start-up errors.
 */
import { ok, strictEqual } from "node:assert/strict";
import { runWebcache } from "../_bin.ts";
import { withTmpfs } from "./_mount.ts";
import { requires } from "../_requires.ts";
import {
  type CacheProc,
  DerivedOrigin,
  fetchObject,
  freePort,
  isExpected,
  killDuringWrites,
  startCache,
  stopCache,
} from "./_disk_cache_proc.ts";

const SIZES = [1000, 40_000, 150_000, 400_000];

Deno.test("webcache cache serves hits from disk after a restart, with and without the KV index", async () => {
  const dir = await Deno.makeTempDir({ prefix: "webcache-e2e-" });
  const origin = new DerivedOrigin();
  let cache: CacheProc | undefined;
  try {
    cache = await startCache(`${dir}/c`, origin.url);
    const port = cache.port;
    for (let i = 0; i < 12; i++) {
      const r = await fetchObject(cache.port, `r${i}`, SIZES[i % 4]);
      ok(r.status === 200 && isExpected(`r${i}`, SIZES[i % 4], r.body), `first fetch of r${i}`);
    }
    strictEqual(origin.requests, 12);
    await stopCache(cache);
    ok(!cache.logs().includes('"level":"error"'), cache.logs());

    for (const withoutIndex of [false, true]) {
      if (withoutIndex) await Deno.remove(`${dir}/c/index.kv`);
      cache = await startCache(`${dir}/c`, origin.url, { port });
      for (let i = 0; i < 12; i++) {
        const r = await fetchObject(cache.port, `r${i}`, SIZES[i % 4]);
        ok(r.status === 200 && isExpected(`r${i}`, SIZES[i % 4], r.body), `r${i} after restart`);
        ok(r.xcache.startsWith("HIT"), `r${i} after restart: X-Cache ${r.xcache}`);
      }
      strictEqual(origin.requests, 12, "no origin request after the restart");
      const status = await (await fetch(`http://127.0.0.1:${cache.adminPort}/status`)).json();
      const d = status.store.dirs[0];
      strictEqual(d.state, "ready");
      if (withoutIndex) {
        strictEqual(d.rebuild.indexed, 12);
        ok(cache.logs().includes("index file missing"));
      } else {
        strictEqual(d.rebuild, undefined);
        strictEqual(d.objects, 12);
      }
      await stopCache(cache);
      cache = undefined;
    }
  } finally {
    if (cache) await stopCache(cache, "SIGKILL");
    await origin.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kill -9 of webcache cache during heavy writes, many times: every object served is complete and correct", async () => {
  const dir = await Deno.makeTempDir({ prefix: "webcache-e2e-kill-" });
  const origin = new DerivedOrigin();
  const port = freePort();
  try {
    const start = () => startCache(`${dir}/c`, origin.url, { port });
    const { requested, hits } = await killDuringWrites(start, 6, SIZES);
    console.log(`${requested} objects written over the rounds, ${hits} re-requests were disk hits`);
    ok(requested > 20, `only ${requested} objects were written`);
    ok(hits > requested / 4, `only ${hits} hits from disk after restarts`);
  } finally {
    await origin.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("webcache cache refuses --cache-dir without --cache-size and a directory locked by another instance", async () => {
  const alone = await runWebcache(["cache", "--cache-dir", "/tmp/x"]);
  strictEqual(alone.code, 2);
  ok(alone.stderr.includes("--cache-dir and --cache-size go together"), alone.stderr);

  const dir = await Deno.makeTempDir({ prefix: "webcache-e2e-lock-" });
  const origin = new DerivedOrigin();
  let cache: CacheProc | undefined;
  try {
    cache = await startCache(dir, origin.url);
    const r = await runWebcache([
      "cache",
      "--cache-dir",
      dir,
      "--cache-size",
      "1MiB",
      "--listen",
      `127.0.0.1:${freePort()}`,
      "--admin",
      `127.0.0.1:${freePort()}`,
    ]);
    strictEqual(r.code, 1);
    ok(r.stderr.includes(`Cannot lock cache directory "${dir}": it is used by instance`), r.stderr);
  } finally {
    if (cache) await stopCache(cache);
    await origin.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test({
  // A read-only mount: root can write to a read-only directory's files, not to a read-only mount.
  ...await requires("webcache cache refuses a read-only cache directory (a read-only tmpfs)", {
    root: true,
    commands: ["mount", "umount"],
  }),
  async fn() {
    await withTmpfs("ro,size=1m", async (mnt) => {
      const r = await runWebcache([
        "cache",
        "--cache-dir",
        mnt,
        "--cache-size",
        "1MiB",
        "--listen",
        `127.0.0.1:${freePort()}`,
      ]);
      strictEqual(r.code, 1);
      ok(r.stderr.includes(`Cannot start cache: Cannot use cache directory "${mnt}": not writable`), r.stderr);
    });
  },
});
