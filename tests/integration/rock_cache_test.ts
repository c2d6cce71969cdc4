/**
 * `webcache cache` with a rock directory (small objects) beside a ufs one (large objects), the
 * bundle as a process with two workers over real sockets, its memory tier off so every hit
 * reads the disk: misses stored, hits from disk (from either worker), PURGE (exact, prefix, regex),
 * a restart, and kill -9 during heavy writes, many times, never serving a torn object.
 */
import { ok, strictEqual } from "node:assert/strict";
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
import { request } from "./_cache_harness.ts";

/** Rock takes records up to 16 KiB; 40 KB and 150 KB bodies go to ufs. */
const SIZES = [1000, 5000, 12_000, 40_000, 150_000];

async function writeConfig(dir: string, sizes = { rock: "32MiB", ufs: "64MiB" }): Promise<string> {
  const path = `${dir}/webcache.yaml`;
  await Deno.writeTextFile(
    path,
    [
      "cache:",
      "  memory:",
      "    maxBytes: 1MiB",
      "    maxObjectBytes: 0", // every hit reads the disk tier
      "  store:",
      "    dirs:",
      `      - { type: rock, path: ${dir}/rock, size: ${sizes.rock}, slotBytes: 16KiB, ways: 8 }`,
      `      - { type: ufs, path: ${dir}/ufs, size: ${sizes.ufs}, l1: 4, l2: 4 }`,
      "",
    ].join("\n"),
  );
  return path;
}

function ufsObjectFiles(root: string): string[] {
  const out: string[] = [];
  for (const l1 of Deno.readDirSync(root)) {
    if (!/^[0-9A-F]{2}$/.test(l1.name)) continue;
    for (const l2 of Deno.readDirSync(`${root}/${l1.name}`)) {
      for (const f of Deno.readDirSync(`${root}/${l1.name}/${l2.name}`)) out.push(f.name);
    }
  }
  return out;
}

Deno.test("webcache cache with rock+ufs: misses stored, hits from disk, PURGE, restart", async () => {
  const dir = await Deno.makeTempDir({ prefix: "webcache-e2e-rock-" });
  const origin = new DerivedOrigin();
  const config = await writeConfig(dir);
  let cache: CacheProc | undefined;
  try {
    cache = await startCache(dir, origin.url, { config });
    const port = cache.port;
    for (let i = 0; i < 10; i++) {
      const r = await fetchObject(port, `r${i}`, SIZES[i % 5]);
      ok(r.status === 200 && isExpected(`r${i}`, SIZES[i % 5], r.body), `first fetch of r${i}`);
      ok(r.xcache.startsWith("MISS"), `r${i}: ${r.xcache}`);
    }
    strictEqual(origin.requests, 10);
    // Only the large objects have files; the small ones are slots of rock.slots.
    // (A body is stored as the response is relayed: the last write may land just after it.)
    for (const end = Date.now() + 5000; ufsObjectFiles(`${dir}/ufs`).length < 4 && Date.now() < end;) {
      await new Promise((r) => setTimeout(r, 20));
    }
    strictEqual(ufsObjectFiles(`${dir}/ufs`).length, 4, "r3, r4, r8, r9 are above the slot size");
    ok(Deno.statSync(`${dir}/rock/rock.slots`).isFile);
    // Hits from disk, several rounds over new connections (both workers answer some of them).
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < 10; i++) {
        const r = await fetchObject(port, `r${i}`, SIZES[i % 5]);
        ok(r.status === 200 && isExpected(`r${i}`, SIZES[i % 5], r.body), `hit of r${i}`);
        ok(r.xcache.startsWith("HIT"), `r${i}: ${r.xcache}`);
      }
    }
    strictEqual(origin.requests, 10, "every repeat was a hit");

    // PURGE of one small (rock) and one large (ufs) object: both fetched again.
    for (const i of [0, 3]) {
      const p = await request(port, `/o/r${i}?size=${SIZES[i % 5]}`, { method: "PURGE", host: `127.0.0.1:${port}` });
      strictEqual(p.status, 200, `PURGE r${i}`);
    }
    for (const i of [0, 3]) {
      const r = await fetchObject(port, `r${i}`, SIZES[i % 5]);
      ok(r.xcache.startsWith("MISS") && isExpected(`r${i}`, SIZES[i % 5], r.body), `r${i} after PURGE: ${r.xcache}`);
    }
    strictEqual(origin.requests, 12);
    // A prefix purge covers the rock objects too (a ban checked on lookup).
    const pp = await request(port, "/o/r1", {
      method: "PURGE",
      host: `127.0.0.1:${port}`,
      headers: { "x-purge-type": "prefix" },
    });
    strictEqual(pp.status, 200);
    const r1 = await fetchObject(port, "r1", SIZES[1]);
    ok(r1.xcache.startsWith("MISS") && isExpected("r1", SIZES[1], r1.body), `r1 after prefix PURGE: ${r1.xcache}`);
    strictEqual(origin.requests, 13);
    // So does a regex purge: r2 (rock) and r4 (ufs) fetched again, the others still hits.
    const rp = await request(port, "/", {
      method: "PURGE",
      host: `127.0.0.1:${port}`,
      headers: { "x-purge-type": "regex", "x-purge-regex": "/o/r[24]\\?" },
    });
    strictEqual(rp.status, 200, rp.head);
    for (let i = 0; i < 10; i++) {
      const r = await fetchObject(port, `r${i}`, SIZES[i % 5]);
      ok(isExpected(`r${i}`, SIZES[i % 5], r.body), `r${i} after regex PURGE`);
      strictEqual(r.xcache.startsWith("MISS"), i === 2 || i === 4, `r${i} after regex PURGE: ${r.xcache}`);
    }
    strictEqual(origin.requests, 15);
    await stopCache(cache);
    ok(!cache.logs().includes('"level":"error"'), cache.logs());

    // After a restart every object is a hit from disk.
    cache = await startCache(dir, origin.url, { config, port });
    for (let i = 0; i < 10; i++) {
      const r = await fetchObject(port, `r${i}`, SIZES[i % 5]);
      ok(r.status === 200 && isExpected(`r${i}`, SIZES[i % 5], r.body), `r${i} after restart`);
      ok(r.xcache.startsWith("HIT"), `r${i} after restart: ${r.xcache}`);
    }
    strictEqual(origin.requests, 15, "no origin request after the restart");
    const status = await (await fetch(`http://127.0.0.1:${cache.adminPort}/status`)).json();
    const rock = (status.store.dirs as { path: string; policy: string; state: string }[]).find((d) =>
      d.path === `${dir}/rock`
    );
    strictEqual(rock?.policy, "fifo-per-set", JSON.stringify(status.store.dirs));
    await stopCache(cache);
    cache = undefined;
  } finally {
    if (cache) await stopCache(cache, "SIGKILL");
    await origin.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("kill -9 of webcache cache with rock+ufs during heavy writes, many times: every object served is correct", async () => {
  const dir = await Deno.makeTempDir({ prefix: "webcache-e2e-rock-kill-" });
  const origin = new DerivedOrigin();
  const port = freePort();
  try {
    // Room for everything the clients can write in five rounds (several thousand objects on a
    // quiet machine; the rock file is sparse), so the hit count measures what survived the kills,
    // not what eviction made room for.
    const config = await writeConfig(dir, { rock: "256MiB", ufs: "256MiB" });
    const start = () => startCache(dir, origin.url, { config, port });
    const { requested, hits } = await killDuringWrites(start, 5, SIZES.slice(0, 4));
    console.log(`${requested} objects written over the rounds, ${hits} re-requests were disk hits`);
    ok(requested > 20, `only ${requested} objects were written`);
    ok(hits > requested / 4, `only ${hits} hits from disk after restarts`);
  } finally {
    await origin.close();
    await Deno.remove(dir, { recursive: true });
  }
});
