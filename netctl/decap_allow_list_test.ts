import { assertEquals, assertThrows } from "../tests/_assert.ts";
import { ipv4ToInt } from "../core/addr.ts";
import { DecapAllowList, sourceAllowed } from "./decap_allow_list.ts";

const A = ipv4ToInt("10.77.0.2"), B = ipv4ToInt("192.168.0.2"), C = ipv4ToInt("10.77.0.3");

Deno.test("DecapAllowList allows nothing until set, then what the writer sets, seen through the shared memory", () => {
  const writer = new DecapAllowList();
  const reader = new DecapAllowList(writer.sab);
  const allowed = (src: number) => sourceAllowed(reader.snapshot(), src);
  assertEquals([allowed(A), allowed(B)], [false, false]);
  writer.set([A, B]);
  assertEquals([allowed(A), allowed(B), allowed(C)], [true, true, false]); // B above 2^31 survives int32 slots
  writer.set([C]);
  assertEquals([allowed(A), allowed(B), allowed(C)], [false, false, true]);
  writer.set("any");
  assertEquals(reader.snapshot(), "any");
  writer.set([]);
  assertEquals([allowed(A), allowed(C)], [false, false]);
});

Deno.test("DecapAllowList.snapshot() keeps the previous list while a write is in progress", () => {
  const writer = new DecapAllowList();
  const reader = new DecapAllowList(writer.sab);
  writer.set([A]);
  assertEquals(sourceAllowed(reader.snapshot(), A), true);
  const w = new Int32Array(writer.sab);
  Atomics.add(w, 0, 1); // a writer in the middle of a change (odd sequence) ...
  w[2] = 1;
  w[3] = C;
  assertEquals([sourceAllowed(reader.snapshot(), A), sourceAllowed(reader.snapshot(), C)], [true, false]);
  Atomics.add(w, 0, 1); // ... done
  assertEquals([sourceAllowed(reader.snapshot(), A), sourceAllowed(reader.snapshot(), C)], [false, true]);
});

Deno.test("DecapAllowList.set() rejects more directors than it holds", () => {
  const l = new DecapAllowList();
  assertThrows(() => l.set(Array.from({ length: 65 }, (_, i) => i + 1)), RangeError, "65 directors");
});
