import { strictEqual, throws } from "node:assert/strict";
import { SlabPool } from "./_slab_pool.ts";

/** Reads `n` bytes of `fill` through the pool, as a lookup does. */
function read(pool: SlabPool, n: number, fill: number) {
  const room = pool.room(n);
  room.fill(fill);
  const release = pool.claim(room, n);
  return { bytes: room.subarray(0, n), release };
}

Deno.test("SlabPool reuses a full slab once every read from it was released, never before", () => {
  const pool = new SlabPool(1024);
  const a = read(pool, 500, 1);
  const b = read(pool, 500, 2);
  const c = read(pool, 500, 3); // second slab: the first still has a and b
  strictEqual(pool.allocated, 2);
  a.release();
  a.release(); // a second call does nothing
  const d = read(pool, 500, 4);
  const e = read(pool, 500, 5); // third slab: b is still held
  strictEqual(pool.allocated, 3);
  strictEqual(b.bytes.every((x) => x === 2), true, "b kept its bytes");
  b.release();
  c.release();
  d.release();
  read(pool, 500, 6); // the third slab is full now: the first or second comes back, no new slab
  strictEqual(pool.allocated, 3);
  strictEqual(e.bytes.every((x) => x === 5), true, "e (not released) kept its bytes");
});

Deno.test("SlabPool.claim() refuses a view that is not the last room handed out", () => {
  const pool = new SlabPool(1024);
  const room = pool.room(100);
  throws(() => pool.claim(room.subarray(8), 10), RangeError);
});
