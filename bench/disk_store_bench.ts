/**
 * `deno task bench:disk`: what one store and one lookup cost on a cache directory (index writes
 * are batched, so a store is a temp file write + rename + a queue push). Run on the real disk
 * the cache would use: `WEBCACHE_BENCH_DIR=/var/cache/webcache deno task bench:disk`.
 *
 * @module
 */
import { configureLogging } from "../core/log.ts";
import { CacheDir } from "../cache/store/disk/cache_dir.ts";
import { encodeEntryHeader, validatorsOf } from "../cache/store/disk/entry_format.ts";
import { crc32c } from "../cache/store/disk/crc32c.ts";

configureLogging({ level: "warn" });

const given = Deno.env.get("WEBCACHE_BENCH_DIR");
const base = given ?? Deno.makeTempDirSync({ prefix: "webcache-bench-" });
const dir = await CacheDir.open({ path: `${base}/d`, maxBytes: 2 * 1024 ** 3, l1: 16, l2: 256 });
globalThis.addEventListener("unload", () => {
  Deno.removeSync(given ? `${base}/d` : base, { recursive: true });
});

const meta = (primary: string, bodyBytes: number) => ({
  primary,
  variant: "",
  status: 200,
  headers: [["content-type", "text/plain"], ["cache-control", "max-age=3600"], ["etag", '"x"']] as [string, string][],
  vary: [],
  requestTime: Date.now(),
  responseTime: Date.now(),
  expiresAt: Date.now() + 3_600_000,
  bodyBytes,
});
const body1k = new Uint8Array(1024).fill(97);
const body100k = new Uint8Array(100 * 1024).fill(98);
let n = 0;

Deno.bench("store a 1 KiB object (temp file, rename, batched index)", { group: "store", baseline: true }, async () => {
  const w = dir.openWrite(meta(`http://bench/s1/${n++}`, body1k.length));
  await w.write(body1k);
  await w.commit();
});

Deno.bench("store a 100 KiB object", { group: "store" }, async () => {
  const w = dir.openWrite(meta(`http://bench/s100/${n++}`, body100k.length));
  for (let o = 0; o < body100k.length; o += 16384) await w.write(body100k.subarray(o, o + 16384));
  await w.commit();
});

for (let i = 0; i < 100; i++) {
  const w = dir.openWrite(meta(`http://bench/hot/${i}`, body1k.length));
  await w.write(body1k);
  await w.commit();
}
let g = 0;
Deno.bench("look up a 1 KiB object (open, read, verify header and CRC)", { group: "get" }, async () => {
  const o = await dir.get({ primary: `http://bench/hot/${g++ % 100}`, variant: "" });
  if (!o?.body) throw new Error("miss");
});

Deno.bench("look up a missing object", { group: "get" }, async () => {
  await dir.get({ primary: `http://bench/none/${g++}`, variant: "" });
});

Deno.bench("a hit as the cache serves it: variants() then get() (one file read)", { group: "get" }, async () => {
  const primary = `http://bench/hot/${g++ % 100}`;
  const [meta] = await dir.variants(primary);
  const o = await dir.get({ primary, variant: meta.variant });
  if (!o?.body) throw new Error("miss");
});

Deno.bench("a miss as the cache looks it up: variants() twice", { group: "get" }, async () => {
  const primary = `http://bench/none/${g++}`;
  await dir.variants(primary);
  await dir.variants(primary);
});

for (let i = 0; i < 100; i++) {
  const w = dir.openWrite(meta(`http://bench/hot100k/${i}`, body100k.length));
  await w.write(body100k);
  await w.commit();
}
Deno.bench("a 100 KiB hit: variants() then get() (body checked once per file version)", { group: "get" }, async () => {
  const primary = `http://bench/hot100k/${g++ % 100}`;
  const [meta] = await dir.variants(primary);
  const o = await dir.get({ primary, variant: meta.variant });
  if (o?.body?.length !== body100k.length) throw new Error("miss");
});

const header = {
  meta: meta("http://bench/codec", 1024),
  storedTime: Date.now(),
  bodyCrc: 0,
  ...validatorsOf(meta("x", 1).headers),
};
Deno.bench("encodeEntryHeader()", { group: "codec" }, () => {
  encodeEntryHeader(header);
});
Deno.bench("crc32c() of 64 KiB", { group: "codec" }, () => {
  crc32c(body100k.subarray(0, 65536));
});
