/**
 * A writer process for the kill -9 test (`disk_kill9_test.ts`): opens a cache directory as one
 * worker of an instance, optionally verifies every indexed object byte for byte, prints `READY`,
 * then stores objects (bodies derived from their keys, sizes from 500 B to 200 KB, some writes
 * aborted half-way) and reads earlier ones back until it is killed.
 *
 * Args: DIR INSTANCE OWNER_PID EVICTOR(0|1) MAX_BYTES PREFIX VERIFY(0|1)
 *
 * @module
 */
import { configureLogging, printOut } from "../../core/log.ts";
import { CacheDir } from "../../cache/store/disk/cache_dir.ts";
import { readAll, testBody, testMeta } from "../conformance/store_suite.ts";

configureLogging({ level: "warn" });
const [path, instance, owner, evictor, maxBytes, prefix, verify] = Deno.args;
const dir = await CacheDir.open({
  path,
  maxBytes: Number(maxBytes),
  l1: 4,
  l2: 4,
  instance,
  ownerPid: Number(owner) || undefined,
  evictor: evictor === "1",
});

const eq = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((v, i) => v === b[i]);

if (verify === "1") {
  await dir.whenReady();
  let ok = 0;
  let bad = 0;
  for await (const meta of dir.entries()) {
    const obj = await dir.get(meta);
    if (!obj) continue; // evicted or replaced meanwhile
    try {
      if (eq(await readAll(obj.openBody()), testBody(meta.primary, meta.bodyBytes))) ok++;
      else bad++;
    } catch {
      bad++;
    }
  }
  printOut(JSON.stringify({ verified: ok, bad, damaged: dir.stats().damaged, status: dir.status() }));
}
printOut("READY");

const SIZES = [500, 3000, 70_000, 200_000];
for (let i = 0;; i++) {
  const key = `http://k/${prefix}/${i}`;
  const size = SIZES[i % SIZES.length];
  const body = testBody(key, size);
  const w = dir.openWrite(testMeta(key, size));
  try {
    for (let o = 0; o < size; o += 16384) {
      if (i % 7 === 3 && o > size / 2) throw new Error("simulated aborted fetch");
      await w.write(body.subarray(o, o + 16384));
    }
    await w.commit();
  } catch {
    await w.abort();
  }
  if (i % 5 === 0 && i > 0) {
    const back = `http://k/${prefix}/${Math.floor(Math.random() * i)}`;
    const obj = await dir.get({ primary: back, variant: "" });
    if (obj && !eq(await readAll(obj.openBody()), testBody(back, obj.meta.bodyBytes))) {
      printOut(`BAD ${back}`);
      Deno.exit(3);
    }
  }
}
