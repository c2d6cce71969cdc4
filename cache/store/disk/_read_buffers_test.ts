import { strictEqual } from "node:assert/strict";
import { MIN_CLASS_BYTES, ReadBuffers } from "./_read_buffers.ts";

Deno.test("ReadBuffers.take() hands out the most recently released buffer of the size class first", () => {
  const pool = new ReadBuffers(512 * 1024, 16 << 20);
  const a = pool.take(100 * 1024);
  const b = pool.take(110 * 1024);
  strictEqual(a.bytes.length, 128 * 1024);
  strictEqual(pool.allocated, 2);
  a.release();
  b.release();
  b.release(); // a second call does nothing
  strictEqual(pool.freeBytes, 2 * 128 * 1024);
  const c = pool.take(120 * 1024);
  strictEqual(c.bytes.buffer, b.bytes.buffer, "the last released comes back first");
  const d = pool.take(101 * 1024);
  strictEqual(d.bytes.buffer, a.bytes.buffer);
  strictEqual(pool.allocated, 2);
  strictEqual(pool.freeBytes, 0);
});

Deno.test("ReadBuffers.take() never hands out a buffer that was not released", () => {
  const pool = new ReadBuffers(512 * 1024, 16 << 20);
  const held = pool.take(100 * 1024);
  held.bytes.fill(7);
  for (let i = 0; i < 8; i++) {
    const r = pool.take(100 * 1024);
    strictEqual(r.bytes.buffer === held.bytes.buffer, false);
    r.bytes.fill(i);
    r.release();
  }
  strictEqual(held.bytes.every((x) => x === 7), true, "the held buffer kept its bytes");
  strictEqual(pool.allocated, 2);
});

Deno.test("ReadBuffers keeps size classes apart and pools nothing beyond its bounds", () => {
  const pool = new ReadBuffers(256 * 1024, 300 * 1024);
  const small = pool.take(10);
  strictEqual(small.bytes.length, MIN_CLASS_BYTES);
  const big = pool.take(200 * 1024);
  strictEqual(big.bytes.length, 256 * 1024);
  const huge = pool.take(300 * 1024); // above the largest class: exact size, never pooled
  strictEqual(huge.bytes.length, 300 * 1024);
  big.release();
  small.release(); // 256 KiB + 32 KiB free: within 300 KiB
  huge.release();
  strictEqual(pool.freeBytes, 288 * 1024);
  strictEqual(pool.take(40 * 1024).bytes.length, 64 * 1024); // no free 64 KiB buffer: a new one
  strictEqual(pool.allocated, 4);
  const again = pool.take(1000);
  strictEqual(again.bytes.buffer, small.bytes.buffer);
  const extra = pool.take(200 * 1024);
  strictEqual(extra.bytes.buffer, big.bytes.buffer);
  const other = pool.take(200 * 1024);
  other.release();
  extra.release(); // 2 × 256 KiB would pass 300 KiB: the second is left to the GC
  strictEqual(pool.freeBytes, 256 * 1024);
});
