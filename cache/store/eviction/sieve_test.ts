import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { SievePolicy } from "./sieve.ts";
import { runScript } from "./_policy_script_test_util.ts";

const CASES: { name: string; steps: string[]; evicted: string[] }[] = [
  { name: "empty policy evicts nothing", steps: ["e"], evicted: ["-"] },
  { name: "without hits it is FIFO", steps: ["+a", "+b", "+c", "e", "e", "e", "e"], evicted: ["a", "b", "c", "-"] },
  {
    name: "visited keys survive one pass and the hand keeps its place",
    steps: ["+a", "+b", "+c", "+d", "+e", "t a", "t c", "e", "e", "+f", "e", "e", "e", "e"],
    // hand: a visited (cleared) -> b evicted; c visited (cleared) -> d evicted; hand at e -> e;
    // then f (newer than e, next towards the head); then wrap to the tail: a, c.
    evicted: ["b", "d", "e", "f", "a", "c"],
  },
  {
    name: "a hit after the hand passed is seen on the next pass",
    steps: ["+a", "+b", "+c", "t a", "t b", "t c", "e", "t c", "e", "e"],
    // all visited: full pass clears a, b, c, wraps and evicts a; hand at b: b unvisited -> b; c.
    evicted: ["a", "b", "c"],
  },
  {
    name: "removing the key under the hand moves the hand on",
    steps: ["+a", "+b", "+c", "+d", "t a", "e", "-c", "e", "e"],
    // a cleared, b evicted, hand at c; c removed -> hand at d; d evicted; wrap -> a.
    evicted: ["b", "d", "a"],
  },
  {
    name: "re-inserting a present key counts as a hit",
    steps: ["+a", "+b", "+a:5", "e", "e"],
    evicted: ["b", "a"],
  },
];

for (const c of CASES) {
  Deno.test(`SievePolicy ${c.name}`, () => {
    assertEquals(runScript(new SievePolicy<string>(), c.steps), c.evicted);
  });
}

Deno.test("SievePolicy tracks size and bytes", () => {
  const p = new SievePolicy<string>();
  p.insert("a", 10);
  p.insert("b", 5);
  p.insert("a", 3);
  assertEquals([p.size, p.bytes], [2, 8]);
  p.remove("b");
  assertEquals([p.size, p.bytes], [1, 3]);
  p.evict();
  assertEquals([p.size, p.bytes], [0, 0]);
});
