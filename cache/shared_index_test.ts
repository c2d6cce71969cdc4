import { assert, assertEquals, assertThrows } from "../tests/_assert.ts";
import { keyHash } from "./shared_collapse.ts";
import { ENTRY_WORDS, HEADER_WORDS, keyHashHi, PROBE, SharedIndex } from "./shared_index.ts";

const NOW = 1_800_000_000_000;
const LATER = NOW + 600_000;

function table(slots = 16) {
  const buf = SharedIndex.allocate(slots, NOW);
  return { buf, w0: new SharedIndex(buf, 0), w1: new SharedIndex(buf, 1), w2: new SharedIndex(buf, 2) };
}

/** `n` keys whose home entry is `home` in a table of `slots` entries. */
function keysAt(home: number, n: number, slots = 16): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < n; i++) {
    const k = `http://h/${i}`;
    if ((keyHash(k) & (slots - 1)) === home) out.push(k);
  }
  return out;
}

/** Which entry (index) holds `key`'s hash words, or -1. */
function entryOf(buf: SharedArrayBuffer, key: string): number[] {
  const w = new Int32Array(buf);
  const found: number[] = [];
  for (let e = 0; e < w[1]; e++) {
    const at = HEADER_WORDS + e * ENTRY_WORDS;
    if (w[at + 2] !== 0 && w[at] === keyHash(key) && w[at + 1] === keyHashHi(key)) found.push(e);
  }
  return found;
}

Deno.test("SharedIndex.allocate() rejects slot counts that are not a power of two in range", () => {
  const cases: [number, string][] = [
    [100, "100 slots is not a power of two"],
    [8, "8 slots"],
    [1 << 23, "8388608 slots"],
    [16.5, "16.5 slots"],
  ];
  for (const [slots, msg] of cases) assertThrows(() => SharedIndex.allocate(slots), RangeError, msg);
});

Deno.test("new SharedIndex() rejects a buffer that is not an index", () => {
  assertThrows(() => new SharedIndex(new SharedArrayBuffer(64), 0), RangeError, "64 bytes is not an index");
  const other = new SharedArrayBuffer((HEADER_WORDS + 16 * ENTRY_WORDS) * 4);
  assertThrows(() => new SharedIndex(other, 0), RangeError, "is not an index");
});

Deno.test("SharedIndex.slotsFor() gives a power of two, about two entries per KiB object, within bounds", () => {
  const cases: [number, number][] = [
    [0, 1 << 14],
    [256 * 1024 * 1024, 1 << 19],
    [64 * 1024 * 1024 * 1024, 1 << 22],
  ];
  for (const [maxBytes, slots] of cases) assertEquals(SharedIndex.slotsFor(maxBytes), slots, `maxBytes ${maxBytes}`);
});

Deno.test("SharedIndex: holders of one key from several workers; withdrawing the last frees the entry", () => {
  const { buf, w0, w1, w2 } = table();
  assertEquals(w0.lookup("k"), { holders: 0, freshUntil: 0 });
  assert(w0.publish("k", LATER, NOW));
  assert(w2.publish("k", LATER, NOW));
  assertEquals(w1.lookup("k").holders, 0b101);
  assertEquals(w1.lookup("k").freshUntil, Math.floor(LATER / 1000) * 1000);
  assertEquals(entryOf(buf, "k").length, 1, "one entry shared by both holders");
  w0.withdraw("k");
  assertEquals(w1.lookup("k").holders, 0b100);
  w1.withdraw("k"); // not a holder: changes nothing
  assertEquals(w1.lookup("k").holders, 0b100);
  w2.withdraw("k");
  assertEquals(w1.lookup("k").holders, 0);
  assertEquals(w0.used(), 0);
});

Deno.test("SharedIndex.freshHolder() names another worker with a fresh copy, never this one", () => {
  const { w0, w1, w2 } = table();
  assertEquals(w1.freshHolder("k", NOW), -1);
  w1.publish("k", LATER, NOW);
  assertEquals(w1.freshHolder("k", NOW), -1, "only this worker holds it");
  assertEquals(w0.freshHolder("k", NOW), 1);
  w2.publish("k", LATER, NOW);
  assertEquals(w0.freshHolder("k", NOW), 1, "the next holder above this worker");
  assertEquals(w1.freshHolder("k", NOW), 2);
  w1.withdraw("k");
  w0.publish("k", LATER, NOW);
  assertEquals(w2.freshHolder("k", NOW), 0, "none above: the lowest");
  assertEquals(w1.freshHolder("k", NOW), 2);
  w0.withdraw("k");
  w1.publish("k", LATER, NOW);
  assertEquals(w0.freshHolder("k", LATER + 1000), -1, "not after its freshness passed");
  assert(w0.freshAnywhere("k", NOW));
  assert(!w0.freshAnywhere("k", LATER + 1000));
  w0.publish("stale", 0, NOW);
  assertEquals(w1.freshHolder("stale", NOW), -1, "a copy that is never fresh is not offered");
  assert(!w1.freshAnywhere("stale", NOW));
  assertEquals(w1.lookup("stale").holders, 1);
});

Deno.test("SharedIndex.holder() names another worker holding a copy, fresh or stale, never this one", () => {
  const { w0, w1, w2 } = table();
  assertEquals(w0.holder("k"), -1);
  w0.publish("k", 0, NOW); // never fresh (no-cache): still held, still worth revalidating
  assertEquals(w0.holder("k"), -1, "only this worker holds it");
  assertEquals(w1.holder("k"), 0);
  assertEquals(w1.freshHolder("k", NOW), -1);
  w2.publish("k", LATER, NOW);
  assertEquals(w1.holder("k"), 2, "the next holder above this worker");
  assertEquals(w0.holder("k"), 2);
  w2.withdraw("k");
  w0.withdraw("k");
  assertEquals(w1.holder("k"), -1, "gone from every worker");
});

Deno.test("SharedIndex: keys with the same home entry probe onward and wrap at the end of the table", () => {
  const { buf, w0, w1 } = table();
  const keys = keysAt(15, 3); // home is the last entry
  for (const k of keys) assert(w0.publish(k, LATER, NOW));
  assertEquals(keys.map((k) => entryOf(buf, k)), [[15], [0], [1]]);
  // Lookups tell them apart (different hashes in entries of one window).
  w1.publish(keys[1], LATER, NOW);
  assertEquals(keys.map((k) => w0.lookup(k).holders), [0b01, 0b11, 0b01]);
  // Freeing an entry in the middle needs no tombstone: the key behind it is still found.
  w0.withdraw(keys[0]);
  assertEquals(w1.lookup(keys[2]).holders, 0b01);
  assertEquals(w1.lookup(keys[0]).holders, 0);
});

Deno.test("SharedIndex: a full probe window refuses a new key, reclaims an entry whose freshness passed", () => {
  const { w0, w1 } = table();
  const keys = keysAt(3, PROBE + 1);
  for (const k of keys.slice(0, PROBE)) assert(w0.publish(k, LATER, NOW));
  assert(!w1.publish(keys[PROBE], LATER, NOW), "no free entry in the window");
  assertEquals(w0.lookup(keys[PROBE]).holders, 0);
  // Later, when the others are stale, the new key takes one of their entries.
  assert(w1.publish(keys[PROBE], LATER + 600_000, LATER + 1000));
  assertEquals(w0.lookup(keys[PROBE]).holders, 0b10);
  assertEquals(keys.slice(0, PROBE).filter((k) => w0.lookup(k).holders !== 0).length, PROBE - 1);
});

Deno.test("SharedIndex: the whole table full of other keys publishes nothing and finds nothing wrong", () => {
  const { w0, w1 } = table();
  let published = 0;
  for (let i = 0; i < 200; i++) if (w0.publish(`http://fill/${i}`, LATER, NOW)) published++;
  assertEquals(published, 16, "every entry in use");
  assertEquals(w0.used(), 16);
  assert(!w1.publish("http://new/", LATER, NOW));
  assertEquals(w1.lookup("http://new/").holders, 0);
});

Deno.test("SharedIndex: a key with the same home entry but another hash is a different key", () => {
  const { buf, w0, w1 } = table();
  const [a, b] = keysAt(7, 2);
  w0.publish(a, LATER, NOW);
  assertEquals(w1.lookup(b), { holders: 0, freshUntil: 0 });
  // An entry whose low hash word matches but whose high word differs is not the key either.
  const w = new Int32Array(buf);
  const e = HEADER_WORDS + entryOf(buf, a)[0] * ENTRY_WORDS;
  w[e + 1] ^= 1;
  assertEquals(w1.lookup(a).holders, 0);
});

Deno.test("SharedIndex: an entry rewritten for another key answers for that key only", () => {
  const { buf, w0, w1 } = table();
  const [a, b] = keysAt(5, 2);
  w0.publish(a, LATER, NOW);
  // Key `a`'s entry rewritten for `b` (as after freeing and claiming) keeps its bits but no longer means `a`.
  const w = new Int32Array(buf);
  const e = HEADER_WORDS + 5 * ENTRY_WORDS;
  w[e] = keyHash(b);
  w[e + 1] = keyHashHi(b);
  assertEquals(w1.lookup(a).holders, 0);
  assertEquals(w1.lookup(b).holders, 1);
  w0.withdraw(b);
  assertEquals(w1.lookup(b).holders, 0);
});

Deno.test("SharedIndex: an invalidation blocks copies of its stripe while it runs and changes the epoch", () => {
  const { w0, w1 } = table();
  const e0 = w1.copyEpoch("http://h/p");
  assert(e0 >= 0);
  w0.beginInvalidation(["http://h/p"]);
  assertEquals(w1.copyEpoch("http://h/p"), -1);
  w0.endInvalidation(["http://h/p"]);
  const e1 = w1.copyEpoch("http://h/p");
  assert(e1 >= 0 && e1 !== e0);
});

Deno.test("SharedIndex: workers above 30 do not publish but can look up", () => {
  const { buf, w0 } = table();
  const w31 = new SharedIndex(buf, 31);
  assert(!w31.publish("k", LATER, NOW));
  w0.publish("k", LATER, NOW);
  assertEquals(w31.freshHolder("k", NOW), 0);
});
