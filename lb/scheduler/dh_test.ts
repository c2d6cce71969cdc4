import assert from "node:assert/strict";
import { flow, letters, makeDests } from "../../tests/conformance/scheduler_suite.ts";
import { DestinationHashing } from "./dh.ts";

Deno.test("DestinationHashing.schedule() maps destinations by (daddr * 2654435761) & 255, bucket i → server i mod n", () => {
  const d = makeDests([{}, {}, {}]);
  const s = new DestinationHashing();
  s.update(d);
  // daddr 0 → bucket 0 → A; 1 → 0xB1 = 177 → 177 mod 3 = 0 → A; 2 → 0x62 = 98 → 2 → C; 3 → 0x13 = 19 → 1 → B
  const picks = [0, 1, 2, 3].map((daddr) => s.schedule(d, flow(99, daddr), 0));
  assert.equal(letters(picks), "AACB");
});

Deno.test("DestinationHashing.schedule() refuses when the bucket's server has weight 0", () => {
  const d = makeDests([{}, { weight: 0 }, {}]);
  const s = new DestinationHashing();
  s.update(d);
  assert.equal(s.schedule(d, flow(99, 3), 0), undefined);
  assert.equal(s.schedule(d, flow(99, 2), 0)?.id, 2);
});
