import assert from "node:assert/strict";
import { Awareness } from "./awareness.ts";

Deno.test("Awareness scales timeouts by score + 1 and clamps the score to 0..max−1", () => {
  const a = new Awareness(3);
  const steps: [number, number, number][] = [
    // [delta, expected score, expected scale(100)]
    [0, 0, 100],
    [1, 1, 200],
    [5, 2, 300],
    [-1, 1, 200],
    [-9, 0, 100],
  ];
  for (const [delta, score, scaled] of steps) {
    a.apply(delta);
    assert.equal(a.score, score);
    assert.equal(a.scale(100), scaled);
  }
});
