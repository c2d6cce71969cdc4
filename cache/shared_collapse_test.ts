import { assert, assertEquals, assertThrows } from "../tests/_assert.ts";
import { keyHash, SharedCollapse, SLOT_WORDS } from "./shared_collapse.ts";

function pair() {
  const buf = SharedCollapse.allocate(16);
  return {
    a: new SharedCollapse(buf, { worker: 0 }),
    b: new SharedCollapse(buf, { worker: 1 }),
  };
}

Deno.test("keyHash() is odd (never 0) and differs for different keys", () => {
  const seen = new Set<number>();
  for (const k of ["", "a", "b", "http://x/1", "http://x/2"]) {
    const h = keyHash(k);
    assertEquals(h & 1, 1);
    seen.add(h);
  }
  assertEquals(seen.size, 5);
});

Deno.test("SharedCollapse.allocate() rejects a slot count that is not a power of two", () => {
  assertThrows(() => SharedCollapse.allocate(100), RangeError, "100 slots is not a power of two");
  assertThrows(() => SharedCollapse.allocate(8), RangeError);
});

Deno.test("SharedCollapse: the first worker claims, a second waits and learns the object is stored at the release", async () => {
  const { a, b } = pair();
  assertEquals(a.claimOrWait("http://x/k", 1000), undefined);
  const wait = b.claimOrWait("http://x/k", 1000);
  assert(wait);
  setTimeout(() => a.release("http://x/k", true), 20);
  assertEquals(await wait, true);
  assertEquals(a.held, 0);
  assertEquals(b.claimOrWait("http://x/k", 1000), undefined, "the slot is free again: the next miss claims");
  b.release("http://x/k", false);
});

Deno.test("SharedCollapse: a waiter goes itself at once when the leader's answer was not stored", async () => {
  const { a, b } = pair();
  a.claimOrWait("k", 5000);
  const wait = b.claimOrWait("k", 5000)!;
  const t0 = performance.now();
  setTimeout(() => a.release("k", false), 30);
  assertEquals(await wait, false);
  assert(performance.now() - t0 < 1000);
});

Deno.test("SharedCollapse: a waiter gives up after waitMs while the leader still fetches", async () => {
  const { a, b } = pair();
  a.claimOrWait("slow", 5000);
  const t0 = performance.now();
  assertEquals(await b.claimOrWait("slow", 60)!, false);
  const waited = performance.now() - t0;
  assert(waited >= 50 && waited < 1000, `waited ${waited} ms`);
  a.release("slow", true);
});

Deno.test("SharedCollapse: a claim older than staleMs is taken over", () => {
  const buf = SharedCollapse.allocate(16);
  const a = new SharedCollapse(buf, { worker: 0, staleMs: 0 });
  const b = new SharedCollapse(buf, { worker: 1, staleMs: -100 });
  a.claimOrWait("stuck", 1000);
  assertEquals(b.claimOrWait("stuck", 1000), undefined, "taken over");
  a.release("stuck", false); // no longer a's: does not free b's claim
  const c = new SharedCollapse(buf, { worker: 2 });
  const wait = c.claimOrWait("stuck", 10);
  assert(wait, "still claimed by b");
  b.release("stuck", false);
  return wait.then((r) => assertEquals(r, false));
});

Deno.test("SharedCollapse: a key whose slot holds another key is not shared (both lead)", () => {
  const { a, b } = pair();
  // Find two keys in the same slot of a 16-slot table.
  const k1 = "collide-0";
  let k2 = "";
  for (let i = 1; i < 10_000; i++) {
    if ((keyHash(`collide-${i}`) & 15) === (keyHash(k1) & 15) && keyHash(`collide-${i}`) !== keyHash(k1)) {
      k2 = `collide-${i}`;
      break;
    }
  }
  assertEquals(a.claimOrWait(k1, 1000), undefined);
  assertEquals(b.claimOrWait(k2, 1000), undefined);
  assertEquals(b.held, 0, "no cross-worker claim for the colliding key");
  a.release(k1, true);
});

Deno.test("SharedCollapse: a key another worker is still claiming is waited for, never decided by the last claim's words", async () => {
  const buf = SharedCollapse.allocate(16);
  const a = new SharedCollapse(buf, { worker: 0 });
  const words = new Int32Array(buf);
  const key = "http://x/again";
  // a fetched and stored the key once: the slot's words are a's, outcome "stored".
  assertEquals(a.claimOrWait(key, 1000), undefined);
  a.release(key, true);
  // Worker 1 has just won the slot for the key and not yet written the other words (the state
  // between its compare-and-exchange and its stores).
  const hash = keyHash(key);
  const base = (hash & 15) * SLOT_WORDS;
  assertEquals(Atomics.compareExchange(words, base, 0, hash - 1), 0);
  const wait = a.claimOrWait(key, 2000);
  assert(wait, "a waits (it neither takes over its own old claim nor fetches beside worker 1)");
  let settled = false;
  wait.then(() => settled = true);
  await new Promise((r) => setTimeout(r, 30));
  assertEquals(settled, false, "the old outcome (stored) is not read as worker 1's");
  // Worker 1 completes its claim, fetches, stores, releases.
  Atomics.store(words, base + 3, 0);
  Atomics.store(words, base + 1, 2);
  Atomics.store(words, base + 2, Math.floor(Date.now() / 16) & 0x7fffffff);
  Atomics.store(words, base, hash);
  await new Promise((r) => setTimeout(r, 10));
  assertEquals(settled, false);
  Atomics.store(words, base + 3, 1);
  Atomics.notify(words, base + 3);
  Atomics.store(words, base + 1, 0);
  Atomics.store(words, base, 0);
  assertEquals(await wait, true, "a looks the object up");
});
