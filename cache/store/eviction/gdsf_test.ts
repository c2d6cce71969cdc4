import { deepStrictEqual as assertEquals, ok } from "node:assert/strict";
import { GdsfPolicy } from "./gdsf.ts";
import { runScript } from "./_policy_script_test_util.ts";

const CASES: { name: string; steps: string[]; evicted: string[] }[] = [
  { name: "empty policy evicts nothing", steps: ["e"], evicted: ["-"] },
  { name: "larger objects go first", steps: ["+a:10", "+b:1000", "+c:100", "e", "e", "e"], evicted: ["b", "c", "a"] },
  {
    name: "frequency divides by size, ties go to the older key, L ages new keys",
    // a 2/100 = 0.02 (after a hit), b 1/10 = 0.1, c 1/50 = 0.02 (older than a's hit) -> c, L = 0.02;
    // d = 0.02 + 0.1 = 0.12 -> a (0.02), b (0.1), d (0.12).
    steps: ["+a:100", "+b:10", "+c:50", "t a", "e", "+d:10", "e", "e", "e"],
    evicted: ["c", "a", "b", "d"],
  },
  {
    name: "equal keys without hits are FIFO",
    steps: ["+a:5", "+b:5", "+c:5", "e", "e", "e"],
    evicted: ["a", "b", "c"],
  },
];

for (const c of CASES) {
  Deno.test(`GdsfPolicy ${c.name}`, () => {
    assertEquals(runScript(new GdsfPolicy<string>(), c.steps), c.evicted);
  });
}

Deno.test("GdsfPolicy priority is L + frequency / size", () => {
  const p = new GdsfPolicy<string>();
  p.insert("a", 4);
  p.insert("b", 2);
  p.touch("a");
  ok(Math.abs(p.priorityOf("a")! - 0.5) < 1e-12);
  assertEquals(p.evict(), "b"); // 0.5 vs 0.5: a was touched later, so b is older
  ok(Math.abs(p.age - 0.5) < 1e-12);
  p.insert("c", 1);
  ok(Math.abs(p.priorityOf("c")! - 1.5) < 1e-12);
});
