import { assert, assertEquals, assertThrows } from "../tests/_assert.ts";
import { COPY_GRACE_MS, keyHash, LINGER_MS, SharedCollapse } from "./shared_collapse.ts";

function pair(replicated = true) {
  const buf = SharedCollapse.allocate(16);
  return {
    a: new SharedCollapse(buf, { worker: 0, replicated }),
    b: new SharedCollapse(buf, { worker: 1, replicated }),
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

Deno.test("SharedCollapse: the first worker claims, a second waits and learns the object is stored when it arrives", async () => {
  const { a, b } = pair();
  assertEquals(a.claimOrWait("http://x/k", 1000), undefined);
  const wait = b.claimOrWait("http://x/k", 1000);
  assert(wait);
  a.release("http://x/k", true);
  setTimeout(() => b.arrived("http://x/k"), 20);
  assertEquals(await wait, true);
  assertEquals(a.held, 0);
});

Deno.test("SharedCollapse: right after a stored release a miss elsewhere waits for the copy; after LINGER_MS it claims", async () => {
  const { a, b } = pair();
  a.claimOrWait("k2", 1000);
  a.release("k2", true, 10);
  const wait = b.claimOrWait("k2", 5000);
  assert(wait, "lingering: the copy is on its way");
  setTimeout(() => b.arrived("k2"), 10);
  assertEquals(await wait, true);
  await new Promise((r) => setTimeout(r, LINGER_MS + 40));
  assertEquals(b.claimOrWait("k2", 1000), undefined, "lingered long enough: claimed");
  assertEquals(b.held, 1);
  b.release("k2", false);
  assertEquals(a.claimOrWait("k2", 1000), undefined, "freed");
  a.release("k2", false);
});

Deno.test("SharedCollapse: a copy that does not come ends the wait after COPY_GRACE_MS", async () => {
  const { a, b } = pair();
  a.claimOrWait("lost", 1000);
  const wait = b.claimOrWait("lost", 10_000)!;
  a.release("lost", true, 10);
  const t0 = performance.now();
  assertEquals(await wait, false);
  const waited = performance.now() - t0;
  assert(waited >= COPY_GRACE_MS - 20 && waited < 2000, `waited ${waited} ms`);
});

Deno.test("SharedCollapse: an object above copyMaxBytes is not stored for the other workers", async () => {
  const buf = SharedCollapse.allocate(16);
  const a = new SharedCollapse(buf, { worker: 0, replicated: true, copyMaxBytes: 100 });
  const b = new SharedCollapse(buf, { worker: 1, replicated: true, copyMaxBytes: 100 });
  a.claimOrWait("big", 1000);
  const wait = b.claimOrWait("big", 10_000)!;
  const t0 = performance.now();
  a.release("big", true, 101);
  assertEquals(await wait, false);
  assert(performance.now() - t0 < 200, "at once, not after a grace");
  assertEquals(b.claimOrWait("big", 1000), undefined, "freed at once");
  b.release("big", false);
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

Deno.test("SharedCollapse: a stored object on a shared disk tier needs no copy to arrive", async () => {
  const { a, b } = pair(false);
  a.claimOrWait("disk", 5000);
  const wait = b.claimOrWait("disk", 5000)!;
  a.release("disk", true);
  assertEquals(await wait, true);
});

Deno.test("SharedCollapse: the copy arriving before the release also ends the wait", async () => {
  const { a, b } = pair();
  a.claimOrWait("early", 5000);
  const wait = b.claimOrWait("early", 5000)!;
  b.arrived("early");
  assertEquals(await wait, true);
  a.release("early", true);
});

Deno.test("SharedCollapse: a claim older than staleMs is taken over", () => {
  const buf = SharedCollapse.allocate(16);
  const a = new SharedCollapse(buf, { worker: 0, replicated: true, staleMs: 0 });
  const b = new SharedCollapse(buf, { worker: 1, replicated: true, staleMs: -100 });
  a.claimOrWait("stuck", 1000);
  assertEquals(b.claimOrWait("stuck", 1000), undefined, "taken over");
  a.release("stuck", false); // no longer a's: does not free b's claim
  const c = new SharedCollapse(buf, { worker: 2, replicated: true });
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
