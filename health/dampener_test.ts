import assert from "node:assert/strict";
import { dampen, Dampener } from "./dampener.ts";

const b = (s: string) => [...s].map((c) => c === "1");
const u = (xs: boolean[]) => xs.map((x) => (x ? "U" : "D")).join("");

const table = [
  { rise: 2, fall: 3, input: "1100100011", expect: "UUUUUUUDDU", why: "fall 3 then rise 2" },
  { rise: 1, fall: 1, input: "0101", expect: "DUDU", why: "rise 1 fall 1 follows every result" },
  { rise: 3, fall: 2, input: "00110111", expect: "UDDDDDDU", why: "an interrupted streak starts over" },
  { rise: 2, fall: 2, input: "0101010", expect: "UUUUUUU", why: "isolated failures never take it down" },
];

for (const { rise, fall, input, expect, why } of table) {
  Deno.test(`dampen() ${why}: ${input} → ${expect}`, () => {
    assert.equal(u(dampen(b(input), { rise, fall })), expect);
  });
}

Deno.test("dampen() can start down and needs rise successes", () => {
  assert.equal(u(dampen(b("11"), { rise: 2, fall: 1, initiallyUp: false })), "DU");
});

Deno.test("Dampener.feed() reports only transitions", () => {
  const d = new Dampener({ rise: 1, fall: 2 });
  assert.deepEqual([false, false, true, true].map((x) => d.feed(x)), [false, true, true, false]);
});

Deno.test("Dampener constructor rejects rise 0", () => {
  assert.throws(() => new Dampener({ rise: 0, fall: 1 }), RangeError);
});
