import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { LfudaPolicy } from "./lfuda.ts";
import { runScript } from "./_policy_script_test_util.ts";

const CASES: { name: string; steps: string[]; evicted: string[] }[] = [
  { name: "empty policy evicts nothing", steps: ["e"], evicted: ["-"] },
  {
    name: "least frequent first, size ignored",
    steps: ["+a:1", "+b:1000", "t b", "+c:5", "t c", "t c", "e", "e", "e"],
    evicted: ["a", "b", "c"],
  },
  {
    name: "dynamic aging: L is the priority of the last victim",
    // a=3, b=2, c=1 -> c (L=1); d = 1+1 = 2 -> b (older than d), d (L=2); e = 2+1 = 3 -> a (older), e.
    steps: ["+a", "+b", "+c", "t a", "t a", "t b", "e", "+d", "e", "e", "+e", "e", "e"],
    evicted: ["c", "b", "d", "a", "e"],
  },
  { name: "removed keys are never evicted", steps: ["+a", "+b", "-a", "e", "e"], evicted: ["b", "-"] },
];

for (const c of CASES) {
  Deno.test(`LfudaPolicy ${c.name}`, () => {
    assertEquals(runScript(new LfudaPolicy<string>(), c.steps), c.evicted);
  });
}

Deno.test("LfudaPolicy lets a once-popular key age out", () => {
  const p = new LfudaPolicy<string>();
  p.insert("old", 1);
  for (let i = 0; i < 5; i++) p.touch("old"); // priority 6
  const evicted: string[] = [];
  for (let i = 0; i < 20; i++) {
    p.insert(`n${i}`, 1);
    p.touch(`n${i}`);
    evicted.push(p.evict()!);
  }
  assertEquals(evicted.includes("old"), true);
});
