import assert from "node:assert/strict";
import { makeDests } from "../../tests/conformance/scheduler_suite.ts";
import { ipv4ToInt } from "../../core/addr.ts";
import { MAGLEV_HASH_VECTORS, MAGLEV_TABLE_SIZE } from "../../netctl/dr_fast_path_program.ts";
import { maglevFlowHash, MaglevHashing, MH_TABLE_SIZE, populateMaglev } from "./mh.ts";

Deno.test("populateMaglev() fills every slot, shares by weight within 2 %", () => {
  const d = makeDests([{ weight: 1 }, { weight: 2 }, { weight: 1 }, { weight: 0 }]);
  const table = new Int32Array(65537);
  assert.equal(populateMaglev(d, table), 3);
  const counts = [0, 0, 0, 0];
  for (const t of table) counts[t]++;
  assert.equal(counts[3], 0);
  assert.equal(counts[0] + counts[1] + counts[2], 65537);
  for (const [i, share] of [[0, 0.25], [1, 0.5], [2, 0.25]]) {
    assert.ok(Math.abs(counts[i] / 65537 - share) < 0.02, `server ${i}: ${counts[i]}`);
  }
});

Deno.test("MaglevHashing.update() moves few slots of the remaining servers when one leaves", () => {
  const d = makeDests([{}, {}, {}, {}, {}, {}, {}, {}, {}, {}]);
  const s = new MaglevHashing();
  s.update(d);
  const before = s.slots();
  const rest = d.filter((x) => x.id !== 4);
  s.update(rest);
  const after = s.slots();
  let kept = 0;
  let movedFromOthers = 0;
  for (let i = 0; i < before.length; i++) {
    if (before[i] === 4) continue;
    kept++;
    if (after[i] !== before[i]) movedFromOthers++;
  }
  // The paper reports small disruption; with 10 servers at M = 65537 it is a few percent at most.
  assert.ok(movedFromOthers / kept < 0.05, `${movedFromOthers} of ${kept} moved`);
  for (const t of after) assert.notEqual(t, 4);
});

Deno.test("populateMaglev() gives each slot the same server whatever the list order and ids", () => {
  const d = makeDests([{ weight: 1 }, { weight: 2 }, { weight: 1 }, { weight: 3 }, { weight: 1 }]);
  const reversed = d.map((_x, i) => ({ ...d[d.length - 1 - i], id: 100 + i }));
  const a = new Int32Array(4099);
  const b = new Int32Array(4099);
  populateMaglev(d, a);
  populateMaglev(reversed, b);
  for (let i = 0; i < a.length; i++) assert.equal(reversed[b[i]].key, d[a[i]].key, `slot ${i}`);
});

Deno.test("MaglevHashing constructor rejects a table size below 2", () => {
  assert.throws(() => new MaglevHashing(1), RangeError);
});

Deno.test("maglevFlowHash() gives the in-kernel fast path's slot for every test vector", () => {
  assert.equal(MH_TABLE_SIZE, MAGLEV_TABLE_SIZE);
  for (const v of MAGLEV_HASH_VECTORS) {
    assert.equal(maglevFlowHash(ipv4ToInt(v.saddr)) % MH_TABLE_SIZE, v.slot, v.saddr);
  }
});
