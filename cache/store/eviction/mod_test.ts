import { deepStrictEqual as assertEquals, throws } from "node:assert/strict";
import { createPolicy, POLICY_NAMES } from "./mod.ts";

Deno.test("createPolicy() rejects an unknown name", () => {
  throws(() => createPolicy("arc"), { name: "RangeError", message: /"arc" is not one of sieve, lru, gdsf, lfuda/ });
});

/** Small deterministic PRNG (mulberry32). */
function rng(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

for (const name of POLICY_NAMES) {
  Deno.test(`createPolicy("${name}") keeps size and bytes consistent under random operations`, () => {
    const p = createPolicy<number>(name);
    assertEquals(p.name, name);
    const model = new Map<number, number>();
    const r = rng(42);
    for (let i = 0; i < 20000; i++) {
      const k = Math.floor(r() * 500);
      const op = r();
      if (op < 0.4) {
        const bytes = 1 + Math.floor(r() * 1000);
        p.insert(k, bytes);
        model.set(k, bytes);
      } else if (op < 0.7) p.touch(k);
      else if (op < 0.8) {
        p.remove(k);
        model.delete(k);
      } else {
        const v = p.evict();
        if (model.size === 0) assertEquals(v, undefined);
        else {
          assertEquals(model.has(v!), true, `evicted ${v} which is not tracked`);
          model.delete(v!);
        }
      }
      assertEquals(p.size, model.size);
    }
    assertEquals(p.bytes, [...model.values()].reduce((a, b) => a + b, 0));
    const drained = new Set<number>();
    for (let v = p.evict(); v !== undefined; v = p.evict()) drained.add(v);
    assertEquals(drained, new Set(model.keys()));
    assertEquals([p.size, p.bytes], [0, 0]);
  });
}
