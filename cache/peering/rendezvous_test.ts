import assert from "node:assert/strict";
import { murmur3, RendezvousHash } from "./rendezvous.ts";

const keys = Array.from({ length: 20000 }, (_, i) => `http://site${i % 97}.example/obj/${i}`);
const members = (n: number) => Array.from({ length: n }, (_, i) => ({ id: `10.0.0.${i + 1}:3128` }));

Deno.test("murmur3() matches the reference vectors", () => {
  // MurmurHash3_x86_32 reference values.
  assert.equal(murmur3("", 0), 0);
  assert.equal(murmur3("", 1), 0x514e28b7);
  assert.equal(murmur3("hello", 0), 0x248bfa47);
  assert.equal(murmur3("The quick brown fox jumps over the lazy dog", 0), 0x2e4ff723);
});

Deno.test("RendezvousHash spreads keys evenly over equal members", () => {
  const r = new RendezvousHash(members(3));
  const counts = new Map<string, number>();
  for (const k of keys) counts.set(r.owner(k)!, (counts.get(r.owner(k)!) ?? 0) + 1);
  for (const c of counts.values()) assert.ok(Math.abs(c / keys.length - 1 / 3) < 0.02, `share ${c / keys.length}`);
});

Deno.test("RendezvousHash moves only the leaving member's keys", () => {
  const r3 = new RendezvousHash(members(3));
  const r2 = new RendezvousHash(members(3).filter((m) => m.id !== "10.0.0.2:3128"));
  let moved = 0;
  for (const k of keys) {
    const before = r3.owner(k)!;
    const after = r2.owner(k)!;
    if (before !== "10.0.0.2:3128") assert.equal(after, before, k);
    else moved++;
    // The liveness filter gives the same answer as removing the member.
    assert.equal(r3.owner(k, (id) => id !== "10.0.0.2:3128"), after);
  }
  assert.ok(Math.abs(moved / keys.length - 1 / 3) < 0.02);
});

Deno.test("RendezvousHash gives a joining member about 1/(n+1) of the keys, taken from everyone", () => {
  const r3 = new RendezvousHash(members(3));
  const r4 = new RendezvousHash(members(4));
  const takenFrom = new Map<string, number>();
  let moved = 0;
  for (const k of keys) {
    const before = r3.owner(k)!;
    const after = r4.owner(k)!;
    if (after !== before) {
      assert.equal(after, "10.0.0.4:3128");
      moved++;
      takenFrom.set(before, (takenFrom.get(before) ?? 0) + 1);
    }
  }
  assert.ok(Math.abs(moved / keys.length - 1 / 4) < 0.02, `moved ${moved / keys.length}`);
  assert.equal(takenFrom.size, 3);
});

Deno.test("RendezvousHash honours weights and is independent of member order", () => {
  const r = new RendezvousHash([{ id: "a", weight: 1 }, { id: "b", weight: 3 }]);
  const rev = new RendezvousHash([{ id: "b", weight: 3 }, { id: "a", weight: 1 }]);
  let b = 0;
  for (const k of keys) {
    if (r.owner(k) === "b") b++;
    assert.equal(r.owner(k), rev.owner(k));
  }
  assert.ok(Math.abs(b / keys.length - 0.75) < 0.02, `b share ${b / keys.length}`);
  assert.deepEqual(new RendezvousHash([{ id: "a", weight: 0 }]).owner("x"), undefined);
  assert.equal(new RendezvousHash([]).owner("x"), undefined);
  assert.equal(r.ranked("x")[0], r.owner("x"));
});
