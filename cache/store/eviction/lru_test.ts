import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { LruPolicy } from "./lru.ts";
import { runScript } from "./_policy_script_test_util.ts";

const CASES: { name: string; steps: string[]; evicted: string[] }[] = [
  { name: "empty policy evicts nothing", steps: ["e"], evicted: ["-"] },
  { name: "without hits it is FIFO", steps: ["+a", "+b", "+c", "e", "e", "e"], evicted: ["a", "b", "c"] },
  {
    name: "a hit makes a key the most recently used",
    steps: ["+a", "+b", "+c", "t a", "e", "t b", "e", "e"],
    evicted: ["b", "c", "a"],
  },
  { name: "removed keys are never evicted", steps: ["+a", "+b", "-a", "e", "e"], evicted: ["b", "-"] },
  { name: "re-inserting a present key counts as a use", steps: ["+a", "+b", "+a:4", "e", "e"], evicted: ["b", "a"] },
];

for (const c of CASES) {
  Deno.test(`LruPolicy ${c.name}`, () => {
    assertEquals(runScript(new LruPolicy<string>(), c.steps), c.evicted);
  });
}

Deno.test("LruPolicy tracks size and bytes", () => {
  const p = new LruPolicy<string>();
  p.insert("a", 10);
  p.insert("b", 5);
  p.insert("a", 3);
  assertEquals([p.size, p.bytes], [2, 8]);
  p.evict();
  assertEquals([p.size, p.bytes], [1, 3]);
});
