/**
 * A damaged stored object is never sent half or wrong: `webcache cache` (the bundle, two workers,
 * a disk directory, no memory tier) serves objects whose files are then damaged on disk between
 * requests (a flipped body byte, a truncated file). A small object is checked before its first
 * byte is sent, so the request becomes a miss and is refetched; a large one stops at its first bad
 * block with the connection closed (the client sees a transfer shorter than Content-Length), and
 * the next request refetches it.
 */
import { ok, strictEqual } from "node:assert/strict";
import { decodeEntryHeader, ENTRY_PEEK_BYTES } from "../../cache/store/disk/entry_format.ts";
import { BODY_BLOCK_BYTES } from "../../cache/store/disk/entry_format.ts";
import { testBody } from "../conformance/store_suite.ts";
import { type CacheProc, DerivedOrigin, fetchObject, isExpected, startCache } from "./_disk_cache_proc.ts";

/** The object file of `/o/<name>?size=N` under `dir`, with its header length. */
async function objectFile(dir: string, name: string, size: number): Promise<{ path: string; headerBytes: number }> {
  const want = `/o/${name}?size=${size}`;
  const walk = async (d: string): Promise<{ path: string; headerBytes: number } | undefined> => {
    for await (const e of Deno.readDir(d)) {
      const p = `${d}/${e.name}`;
      if (e.isDirectory) {
        const found = await walk(p);
        if (found) return found;
      } else if (e.isFile) {
        const f = await Deno.open(p);
        try {
          const buf = new Uint8Array(ENTRY_PEEK_BYTES);
          const n = (await f.read(buf)) ?? 0;
          const h = decodeEntryHeader(buf.subarray(0, n));
          if (h.meta.primary.endsWith(want)) {
            return { path: p, headerBytes: new DataView(buf.buffer).getUint32(8, true) };
          }
        } catch {
          /* not an object file */
        } finally {
          f.close();
        }
      }
    }
  };
  const found = await walk(dir);
  if (!found) throw new Error(`No object file for ${want}`);
  return found;
}

/** Flips one bit of the byte at `offset` of a file, in place. */
async function flip(path: string, offset: number): Promise<void> {
  const f = await Deno.open(path, { read: true, write: true });
  try {
    const b = new Uint8Array(1);
    await f.seek(offset, Deno.SeekMode.Start);
    await f.read(b);
    b[0] ^= 0x10;
    await f.seek(offset, Deno.SeekMode.Start);
    await f.write(b);
  } finally {
    f.close();
  }
}

/** One GET over a raw connection: the declared length and every body byte before the server closed. */
async function rawGet(port: number, target: string): Promise<{ status: number; length: number; body: Uint8Array }> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const chunks: Uint8Array[] = [];
  try {
    await conn.write(
      new TextEncoder().encode(`GET ${target} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nConnection: close\r\n\r\n`),
    );
    const buf = new Uint8Array(65536);
    const timer = setTimeout(() => conn.close(), 10_000);
    try {
      while (true) {
        const n = await conn.read(buf).catch(() => null);
        if (n === null) break;
        chunks.push(buf.slice(0, n));
      }
    } finally {
      clearTimeout(timer);
    }
  } finally {
    try {
      conn.close();
    } catch { /* closed */ }
  }
  const all = new Uint8Array(chunks.reduce((a, c) => a + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    all.set(c, o);
    o += c.length;
  }
  let end = 0;
  while (
    end + 3 < all.length && !(all[end] === 13 && all[end + 1] === 10 && all[end + 2] === 13 && all[end + 3] === 10)
  ) end++;
  const head = new TextDecoder().decode(all.subarray(0, end));
  return {
    status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1] ?? 0),
    length: Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? -1),
    body: all.subarray(end + 4),
  };
}

const equalPrefix = (got: Uint8Array, want: Uint8Array) => got.every((v, i) => v === want[i]);

Deno.test("webcache cache never sends a damaged stored object whole: small ones refetch, large ones stop at the bad block", async () => {
  const dir = await Deno.makeTempDir({ prefix: "webcache-damage-" });
  const origin = new DerivedOrigin();
  const cfg = `${dir}/nomem.yaml`;
  // No memory tier copy: every hit reads the disk file.
  await Deno.writeTextFile(cfg, "cache:\n  memory:\n    maxObjectBytes: 1\n");
  let cache: CacheProc | undefined;
  try {
    cache = await startCache(`${dir}/c`, origin.url, { extra: ["-c", cfg] });
    const port = cache.port;
    const SMALL = [1000, 40_000, 200_000];
    const LARGE = 1_000_000;
    const fill = async () => {
      for (const s of [...SMALL, LARGE]) {
        const r = await fetchObject(port, `d${s}`, s);
        ok(r.status === 200 && isExpected(`d${s}`, s, r.body), `fetch of d${s}`);
      }
    };
    await fill();
    await fill(); // both workers have read (and checked) each object once
    const before = origin.requests;

    // Small objects, a body byte flipped: the request is a miss that refetches, never wrong bytes.
    for (const s of SMALL) {
      const { path, headerBytes } = await objectFile(`${dir}/c`, `d${s}`, s);
      await flip(path, headerBytes + Math.floor(s / 2));
      for (let i = 0; i < 2; i++) {
        const r = await fetchObject(port, `d${s}`, s);
        ok(r.status === 200 && isExpected(`d${s}`, s, r.body), `d${s} after damage: complete and correct`);
      }
    }
    strictEqual(origin.requests, before + SMALL.length, "each damaged small object was fetched again once");

    // Small objects, the file truncated: a miss as well.
    for (const s of SMALL) {
      const { path, headerBytes } = await objectFile(`${dir}/c`, `d${s}`, s);
      await Deno.truncate(path, headerBytes + 10);
      const r = await fetchObject(port, `d${s}`, s);
      ok(r.status === 200 && isExpected(`d${s}`, s, r.body), `d${s} after truncation`);
    }
    strictEqual(origin.requests, before + 2 * SMALL.length);

    // The large object, a byte of block 5 flipped: the good blocks before it, then the connection closes.
    const want = testBody(`/o/d${LARGE}`, LARGE);
    const large = await objectFile(`${dir}/c`, `d${LARGE}`, LARGE);
    await flip(large.path, large.headerBytes + 5 * BODY_BLOCK_BYTES + 1234);
    const cut = await rawGet(port, `/o/d${LARGE}?size=${LARGE}`);
    strictEqual(cut.status, 200);
    strictEqual(cut.length, LARGE);
    ok(cut.body.length <= 5 * BODY_BLOCK_BYTES, `stopped at the bad block: ${cut.body.length} bytes sent`);
    ok(equalPrefix(cut.body, want), "what was sent is the object's true prefix");
    await Deno.stat(large.path).then(() => ok(false, "the damaged file is removed"), () => {});
    const again = await fetchObject(port, `d${LARGE}`, LARGE);
    ok(again.status === 200 && isExpected(`d${LARGE}`, LARGE, again.body), "the next request refetches it whole");
    strictEqual(origin.requests, before + 2 * SMALL.length + 1);

    // The large object truncated: never a complete wrong answer.
    const t = await objectFile(`${dir}/c`, `d${LARGE}`, LARGE);
    await Deno.truncate(t.path, t.headerBytes + 3 * BODY_BLOCK_BYTES);
    const r = await rawGet(port, `/o/d${LARGE}?size=${LARGE}`);
    ok(r.body.length < r.length || (r.body.length === LARGE && isExpected(`d${LARGE}`, LARGE, r.body)));
    ok(equalPrefix(r.body, want));
    const last = await fetchObject(port, `d${LARGE}`, LARGE);
    ok(last.status === 200 && isExpected(`d${LARGE}`, LARGE, last.body));

    // Workers report their counters to /metrics about once a second.
    let damaged = 0;
    for (let i = 0; i < 50 && damaged < 2 * SMALL.length + 1; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const text = await (await fetch(`http://127.0.0.1:${cache.adminPort}/metrics`)).text();
      damaged = [...text.matchAll(/^webcache_cache_disk_damaged_total\{[^}]*\} (\d+)/gm)]
        .reduce((a, m) => a + Number(m[1]), 0);
    }
    ok(damaged >= 2 * SMALL.length + 1, `${damaged} damaged files counted`);
  } finally {
    if (cache) {
      try {
        cache.proc.kill("SIGKILL");
      } catch { /* gone */ }
      await cache.done();
    }
    await origin.close();
    await Deno.remove(dir, { recursive: true });
  }
});
