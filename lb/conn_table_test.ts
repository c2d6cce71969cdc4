import assert from "node:assert/strict";
import { ConnTable } from "./conn_table.ts";

Deno.test("ConnTable.insert() and lookup() round-trip fields and grow past the initial size", () => {
  const t = new ConnTable(10_000);
  for (let i = 0; i < 5000; i++) assert.ok(t.insert(i, 99, i * 7, 1, i % 3, 3, i) >= 0);
  assert.equal(t.size, 5000);
  for (let i = 0; i < 5000; i++) {
    const s = t.lookup(i, 99, i * 7);
    assert.ok(s >= 0);
    assert.equal(t.server(s), i % 3);
    assert.equal(t.service(s), 1);
    assert.equal(t.expires(s), i);
  }
  assert.equal(t.lookup(1, 98, 7), -1);
});

Deno.test("ConnTable.remove() frees slots for reuse and keeps chains intact", () => {
  const t = new ConnTable(100);
  const slots = Array.from({ length: 100 }, (_, i) => t.insert(i, 1, 2, 0, 0, 1, 0));
  assert.ok(t.full);
  assert.equal(t.insert(1000, 1, 2, 0, 0, 1, 0), -1, "full table refuses");
  for (let i = 0; i < 100; i += 2) t.remove(slots[i]);
  assert.equal(t.size, 50);
  for (let i = 1; i < 100; i += 2) assert.ok(t.lookup(i, 1, 2) >= 0);
  for (let i = 0; i < 100; i += 2) assert.equal(t.lookup(i, 1, 2), -1);
  for (let i = 0; i < 50; i++) assert.ok(t.insert(500 + i, 1, 2, 0, 0, 1, 0) >= 0);
  assert.equal(t.capacity, 100);
});

Deno.test("ConnTable constructor rejects a bound below 1", () => {
  assert.throws(() => new ConnTable(0), RangeError);
});

Deno.test("ConnTable.lookup() treats keys as unsigned 32-bit", () => {
  const t = new ConnTable(10);
  const ports = (0xc000 << 16) | 80; // negative as int32
  assert.ok(ports < 0);
  t.insert(0xc0000201, 0x0a000064, ports, 0, 1, 1, 0);
  assert.ok(t.lookup(0xc0000201 | 0, 0x0a000064, ports >>> 0) >= 0);
});

Deno.test("ConnTable.reserve() grows once, keeps entries and never passes maxEntries", () => {
  const t = new ConnTable(5000);
  t.insert(1, 2, 3, 0, 4, 1, 10);
  t.reserve(3000);
  assert.equal(t.capacity, 3000);
  assert.equal(t.server(t.lookup(1, 2, 3)), 4);
  t.reserve(1 << 20);
  assert.equal(t.capacity, 5000);
  t.reserve(10);
  assert.equal(t.capacity, 5000);
});
