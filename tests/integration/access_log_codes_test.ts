/**
 * Squid's result codes in `access.log` from a real `webcache cache` process with a disk
 * directory: a disk read logs TCP_HIT (after a restart, or for an object too large for the memory
 * tier), a memory hit TCP_MEM_HIT, a fetch HIER_DIRECT and a hit HIER_NONE.
 */
import { ok, strictEqual } from "node:assert/strict";
import { type CacheProc, DerivedOrigin, fetchObject, freePort, startCache } from "./_disk_cache_proc.ts";

async function stop(c: CacheProc): Promise<void> {
  c.proc.kill("SIGTERM");
  await c.done();
}

/** `CODE/STATUS HIERARCHY/PEER` of each line for `name`, in order. */
async function codes(file: string, name: string): Promise<string[]> {
  const text = await Deno.readTextFile(file).catch(() => "");
  return text.split("\n").filter((l) => l.includes(`/o/${name}?`)).map((l) => {
    const f = l.trim().split(/\s+/);
    return `${f[3]} ${f[8].replace(/\/.*$/, "")}`;
  });
}

Deno.test("access.log: TCP_HIT for disk hits (after a restart, objects too large for memory), TCP_MEM_HIT for memory", async () => {
  const dir = await Deno.makeTempDir({ prefix: "webcache-logcodes-" });
  const log = `${dir}/access.log`;
  const origin = new DerivedOrigin();
  const port = freePort();
  const extra = ["--access-log", log, "--workers", "1"];
  let cache: CacheProc | undefined;
  try {
    cache = await startCache(`${dir}/c`, origin.url, { port, extra });
    // small: fits the memory tier; big: 2 MiB, over cache.memory.maxObjectBytes (1 MiB), disk only.
    for (const [name, size] of [["small", 1000], ["big", 2 << 20]] as const) {
      for (let i = 0; i < 2; i++) strictEqual((await fetchObject(port, name, size)).status, 200);
    }
    await stop(cache);
    cache = undefined;
    strictEqual(origin.requests, 2);
    ok(
      (await codes(log, "small")).join() === "TCP_MISS/200 HIER_DIRECT,TCP_MEM_HIT/200 HIER_NONE",
      await Deno.readTextFile(log),
    );
    ok(
      (await codes(log, "big")).join() === "TCP_MISS/200 HIER_DIRECT,TCP_HIT/200 HIER_NONE",
      await Deno.readTextFile(log),
    );

    cache = await startCache(`${dir}/c`, origin.url, { port, extra });
    for (const [name, size] of [["small", 1000], ["big", 2 << 20]] as const) {
      for (let i = 0; i < 2; i++) strictEqual((await fetchObject(port, name, size)).status, 200);
    }
    await stop(cache);
    cache = undefined;
    strictEqual(origin.requests, 2, "every request after the restart was a hit");
    const text = await Deno.readTextFile(log);
    // After the restart the small object comes off disk once, then from memory (promoted).
    strictEqual((await codes(log, "small")).slice(2).join(), "TCP_HIT/200 HIER_NONE,TCP_MEM_HIT/200 HIER_NONE", text);
    strictEqual((await codes(log, "big")).slice(2).join(), "TCP_HIT/200 HIER_NONE,TCP_HIT/200 HIER_NONE", text);
  } finally {
    if (cache) {
      cache.proc.kill("SIGKILL");
      await cache.done();
    }
    await origin.close();
    await Deno.remove(dir, { recursive: true });
  }
});
