import assert from "node:assert/strict";
import { BroadcastQueue, retransmitLimit } from "./broadcast_queue.ts";
import type { Message } from "./codec.ts";

const dead = (node: string, incarnation = 1): Message => ({ type: "dead", incarnation, node, from: "x" });

Deno.test("retransmitLimit() is mult × ceil(log10(n + 1))", () => {
  assert.deepEqual([1, 9, 10, 99, 100, 500].map((n) => retransmitLimit(4, n)), [4, 4, 8, 8, 12, 12]);
});

Deno.test("BroadcastQueue sends each update retransmitLimit times, least-sent first", () => {
  const q = new BroadcastQueue(2, () => 5); // limit 2
  q.queue("a", dead("a"), 10);
  q.queue("b", dead("b"), 10);
  assert.deepEqual(q.take(2, 12).map((m) => (m as { node: string }).node), ["b"]); // newest first, room for one
  assert.deepEqual(q.take(2, 12).map((m) => (m as { node: string }).node), ["a"]); // a has fewer sends now
  assert.deepEqual(q.take(2, 100).length, 2);
  assert.equal(q.length, 0, "both reached the limit");
  assert.deepEqual(q.take(2, 100), []);
});

Deno.test("BroadcastQueue replaces an older update about the same node", () => {
  const q = new BroadcastQueue(4, () => 3);
  q.queue("a", dead("a", 1), 10);
  q.queue("a", dead("a", 2), 10);
  assert.equal(q.length, 1);
  assert.deepEqual(q.take(2, 100), [dead("a", 2)]);
});
