import assert from "node:assert/strict";
import { SYNC_FULL, SYNC_FULL_END, SYNC_FULL_START } from "./message.ts";
import { MAX_RANGES, SyncGapTracker } from "./sync_gap_tracker.ts";

const GRACE = 50, INTERVAL = 1000, EPOCH = 1765000000000;
const START = SYNC_FULL | SYNC_FULL_START, END = SYNC_FULL | SYNC_FULL_END;

/** A tracker fed by a script; `applied` lists the sequences delivered. */
function setup(graceMs = GRACE, resyncIntervalMs = INTERVAL) {
  const t = new SyncGapTracker({ graceMs, resyncIntervalMs });
  const applied: number[] = [];
  const feed = (seq: number, nowMs: number, flags = 0, ok = true, source = "d1", epoch = EPOCH) =>
    t.batch(source, epoch, seq, flags, nowMs, () => {
      if (ok) applied.push(seq);
      return ok;
    });
  return { t, applied, feed };
}

Deno.test("SyncGapTracker: batches in order leave no gap and ask for nothing", () => {
  const { t, feed, applied } = setup();
  for (let i = 1; i <= 5; i++) assert.equal(feed(i, i), "new");
  t.announced("d1", EPOCH, 5, 10);
  assert.equal(t.due("d1", 10_000), undefined);
  assert.deepEqual(applied, [1, 2, 3, 4, 5]);
  assert.deepEqual(t.position("d1"), { epoch: EPOCH, held: 5, highest: 5, missing: 0 });
  assert.deepEqual(t.counters, { gaps: 0, late: 0, duplicates: 0, requests: 0, repaired: 0 });
});

Deno.test("SyncGapTracker: a dropped batch triggers exactly one resync request, repaired by the full table", () => {
  const { t, feed } = setup();
  feed(1, 0);
  feed(2, 0);
  feed(4, 10); // 3 lost
  assert.deepEqual(t.position("d1"), { epoch: EPOCH, held: 2, highest: 4, missing: 1 });
  assert.equal(t.due("d1", 10 + GRACE - 1), undefined, "within the grace it may still arrive");
  const req = t.due("d1", 10 + GRACE);
  assert.deepEqual(req, { target: "d1", targetEpoch: EPOCH, missingUpTo: 3, reason: "gap" });
  for (let ms = 10 + GRACE; ms < 10 + GRACE + INTERVAL; ms += 10) assert.equal(t.due("d1", ms), undefined);
  // The MASTER's full table (5..7) arrives, then changes go on.
  feed(5, 200, START);
  feed(6, 201, SYNC_FULL);
  feed(7, 202, END);
  feed(8, 300);
  for (let ms = 300; ms < 5000; ms += 100) assert.equal(t.due("d1", ms), undefined);
  assert.deepEqual(t.position("d1"), { epoch: EPOCH, held: 8, highest: 8, missing: 0 });
  assert.equal(t.counters.requests, 1);
  assert.equal(t.counters.gaps, 1);
  assert.equal(t.counters.repaired, 1);
});

Deno.test("SyncGapTracker: reordered batches fill their gap; duplicates are not applied", () => {
  const { t, feed, applied } = setup();
  feed(1, 0);
  assert.equal(feed(3, 1), "new");
  assert.equal(feed(2, 5), "late");
  assert.equal(feed(2, 6), "duplicate");
  assert.equal(feed(3, 7), "duplicate");
  assert.deepEqual(applied, [1, 3, 2]);
  assert.equal(t.due("d1", 10_000), undefined);
  assert.deepEqual(t.counters, { gaps: 0, late: 1, duplicates: 2, requests: 0, repaired: 0 });
  // A hole in the middle of a range splits it.
  feed(10, 20);
  feed(6, 21);
  assert.deepEqual(t.position("d1"), { epoch: EPOCH, held: 3, highest: 10, missing: 5 });
});

Deno.test("SyncGapTracker: the MASTER's heartbeat reveals a lost last batch", () => {
  const { t, feed } = setup();
  feed(1, 0);
  feed(2, 0);
  t.announced("d1", EPOCH, 3, 100); // 3 was sent; nothing follows it
  assert.equal(t.due("d1", 100 + GRACE - 1), undefined);
  assert.deepEqual(t.due("d1", 100 + GRACE), { target: "d1", targetEpoch: EPOCH, missingUpTo: 3, reason: "gap" });
  // Announced while still in flight: it arrives within the grace, no request.
  const b = setup();
  b.feed(1, 0);
  b.t.announced("d1", EPOCH, 2, 100);
  b.feed(2, 110);
  assert.equal(b.t.due("d1", 1000), undefined);
  assert.equal(b.t.counters.late, 1);
});

Deno.test("SyncGapTracker: a restarted MASTER (new epoch) starts a new stream from 1", () => {
  const { t, feed } = setup();
  feed(1, 0);
  feed(2, 0);
  feed(7, 5); // gap 3..6
  assert.equal(feed(1, 10, START, true, "d1", EPOCH + 5000), "new");
  feed(2, 11, END, true, "d1", EPOCH + 5000);
  assert.equal(feed(9, 12, 0, true, "d1", EPOCH), "stale", "the old life's batch");
  assert.equal(t.due("d1", 10_000), undefined);
  assert.deepEqual(t.position("d1"), { epoch: EPOCH + 5000, held: 2, highest: 2, missing: 0 });
  // A BACKUP that first hears of a MASTER from its heartbeat holds nothing of its epoch.
  const b = setup();
  b.t.announced("d1", EPOCH, 40, 0);
  assert.deepEqual(b.t.due("d1", GRACE), { target: "d1", targetEpoch: EPOCH, missingUpTo: 40, reason: "no-stream" });
});

Deno.test("SyncGapTracker: requests are rate limited; an unrepaired gap is asked for again after the interval", () => {
  const { t, feed } = setup();
  feed(1, 0);
  feed(3, 0);
  assert.ok(t.due("d1", GRACE));
  feed(5, 100); // a second loss soon after
  assert.equal(t.due("d1", 100 + GRACE), undefined);
  assert.equal(t.due("d1", GRACE + INTERVAL - 1), undefined);
  assert.deepEqual(t.due("d1", GRACE + INTERVAL), { target: "d1", targetEpoch: EPOCH, missingUpTo: 4, reason: "gap" });
  assert.equal(t.counters.requests, 2);
  assert.equal(t.counters.gaps, 2);
  // 0 turns requests off (gaps are still counted).
  const off = setup(GRACE, 0);
  off.feed(1, 0);
  off.feed(3, 0);
  assert.equal(off.t.due("d1", 10_000), undefined);
  assert.equal(off.t.counters.gaps, 1);
});

Deno.test("SyncGapTracker: a full table with a lost part repairs nothing; one on its way defers requests", () => {
  const { t, feed } = setup();
  feed(1, 0);
  feed(3, 0); // 2 lost
  feed(4, 10, START);
  assert.equal(t.due("d1", 1000), undefined, "the full table under way will repair 2");
  feed(6, 20, END); // 5 lost
  assert.deepEqual(t.due("d1", 20 + GRACE), { target: "d1", targetEpoch: EPOCH, missingUpTo: 5, reason: "gap" });
  assert.equal(t.counters.repaired, 0);
  // The next full table arrives whole: both ranges are repaired.
  feed(7, 300, START);
  feed(8, 301, END);
  assert.deepEqual(t.position("d1"), { epoch: EPOCH, held: 8, highest: 8, missing: 0 });
  assert.equal(t.counters.repaired, 2);
});

Deno.test("SyncGapTracker: a batch the data plane could not take counts as missing", () => {
  const { t, feed, applied } = setup();
  feed(1, 0);
  feed(2, 0, 0, false);
  feed(3, 0);
  assert.deepEqual(applied, [1, 3]);
  assert.deepEqual(t.due("d1", GRACE), { target: "d1", targetEpoch: EPOCH, missingUpTo: 2, reason: "gap" });
});

Deno.test("SyncGapTracker: only the followed MASTER is asked; others' gaps are counted", () => {
  const { t, feed } = setup();
  feed(1, 0, 0, true, "d3");
  feed(3, 0, 0, true, "d3");
  assert.equal(t.due("d1", GRACE), undefined);
  assert.equal(t.counters.gaps, 1);
  assert.equal(t.due(undefined, GRACE + 1), undefined);
  assert.equal(t.due("d3", GRACE + 2)?.target, "d3");
});

Deno.test("SyncGapTracker: many holes merge into one range (bounded memory)", () => {
  const { t, feed } = setup();
  for (let i = 1; i <= 4 * MAX_RANGES; i += 2) feed(i, 0);
  const p = t.position("d1");
  assert.equal(p.held, 1);
  assert.ok(p.missing >= 2 * MAX_RANGES - 1, `missing ${p.missing}`);
  assert.equal(t.due("d1", GRACE)?.missingUpTo, 4 * MAX_RANGES - 2);
  feed(10_000, 100, START | SYNC_FULL_END);
  assert.deepEqual(t.position("d1"), { epoch: EPOCH, held: 10_000, highest: 10_000, missing: 0 });
});
