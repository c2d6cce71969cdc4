import assert from "node:assert/strict";
import { flow, letters, makeDests } from "../../tests/conformance/scheduler_suite.ts";
import { SourceHashing } from "./sh.ts";

Deno.test("SourceHashing.schedule() hashes the source with hash_32(saddr, 8), weight buckets per server", () => {
  // weights A 2, B 1: buckets A A B A A B ...; bucket b is B when b mod 3 = 2.
  // hash_32(1..8, 8) = 97 195 37 135 232 74 172 14 → mod 3 = 1 0 1 0 1 2 1 2
  const d = makeDests([{ weight: 2 }, { weight: 1 }]);
  const s = new SourceHashing();
  s.update(d);
  const picks = [1, 2, 3, 4, 5, 6, 7, 8].map((saddr) => s.schedule(d, flow(saddr), 0));
  assert.equal(letters(picks), "AAAAABAB");
});

Deno.test("SourceHashing.schedule() keeps a client on one server whatever its port", () => {
  const d = makeDests([{}, {}, {}]);
  const s = new SourceHashing();
  s.update(d);
  const first = s.schedule(d, flow(0x7f000105, 0, 1000), 0);
  for (let port = 1001; port < 1100; port++) assert.equal(s.schedule(d, flow(0x7f000105, 0, port), 0), first);
});
