import { assert, assertEquals, assertThrows } from "../tests/_assert.ts";
import { NUMBERS_PER_META, type ReplicaBatch, ReplicaBatcher, unpackReplicas } from "./replica_batch.ts";
import type { StoredMeta } from "./store/store.ts";

function meta(primary: string, bodyBytes: number): StoredMeta {
  return {
    primary,
    variant: "",
    status: 200,
    headers: [["content-type", "text/plain"]],
    vary: [],
    requestTime: 1,
    responseTime: 2,
    expiresAt: 3,
    bodyBytes,
  };
}

const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A batcher whose batches are collected (transferring them, as postMessage would, detaches nothing here). */
function collecting(opts = {}) {
  const sent: { batch: ReplicaBatch; transfer: ArrayBuffer[] }[] = [];
  const b = new ReplicaBatcher((batch, transfer) => sent.push({ batch, transfer }), opts);
  return { b, sent };
}

Deno.test("ReplicaBatcher sends the objects added within the delay as one batch", async () => {
  const { b, sent } = collecting({ delayMs: 5 });
  b.add(meta("http://h/a", 1), bytes("A"));
  b.add(meta("http://h/b", 2), bytes("BB"));
  b.add(meta("http://h/c", 0), bytes(""));
  assertEquals(sent.length, 0, "nothing before the delay");
  assertEquals(b.pending, 3);
  await sleep(30);
  assertEquals(sent.length, 1);
  const got = unpackReplicas(sent[0].batch).map(([m, body]) => [m.primary, text(body)]);
  assertEquals(got, [["http://h/a", "A"], ["http://h/b", "BB"], ["http://h/c", ""]]);
  assertEquals(sent[0].transfer, [sent[0].batch.bodies.buffer as ArrayBuffer]);
  assertEquals(b.pending, 0);
});

Deno.test("ReplicaBatcher sends at once when maxObjects or maxBytes is reached", () => {
  const { b, sent } = collecting({ delayMs: 60_000, maxObjects: 2, maxBytes: 10 });
  b.add(meta("http://h/1", 1), bytes("1"));
  b.add(meta("http://h/2", 1), bytes("2"));
  assertEquals(sent.length, 1, "two objects");
  b.add(meta("http://h/big", 12), bytes("x".repeat(12)));
  assertEquals(sent.length, 2, "ten bytes");
  assertEquals(unpackReplicas(sent[1].batch).length, 1);
  b.close();
});

Deno.test("ReplicaBatcher copies bodies, so the caller's buffer stays its own", () => {
  const { b, sent } = collecting({ maxObjects: 1 });
  const body = bytes("stored");
  b.add(meta("http://h/s", 6), body);
  assert(sent[0].batch.bodies.buffer !== body.buffer);
  body[0] = 0x53; // "S": a later change of the stored buffer does not reach the sent copy
  assertEquals(text(unpackReplicas(sent[0].batch)[0][1]), "stored");
});

Deno.test("ReplicaBatcher fixes bodyBytes that did not match the body", () => {
  const { b, sent } = collecting({ maxObjects: 1 });
  b.add(meta("http://h/u", -1), bytes("abc"));
  assertEquals(unpackReplicas(sent[0].batch)[0][0].bodyBytes, 3);
});

Deno.test("ReplicaBatcher batches unpack to equal metadata: headers, Vary, variants, times", () => {
  const { b, sent } = collecting({ maxObjects: 3 });
  const metas: StoredMeta[] = [
    { ...meta("http://h/v", 2), variant: "gzip\u0000en", vary: ["accept-encoding", "accept-language"] },
    { ...meta("http://h/none", 0), headers: [], status: 204, expiresAt: 1.5e12 },
    { ...meta("http://h/many", 1), headers: [["set-cookie", "a=1"], ["set-cookie", "b=2"], ["x-empty", ""]] },
  ];
  const bodies = [bytes("ab"), bytes(""), bytes("z")];
  metas.forEach((m, i) => b.add(m, bodies[i]));
  const got = unpackReplicas(sent[0].batch);
  assertEquals(got.map(([m]) => m), metas);
  assertEquals(got.map(([, body]) => text(body)), ["ab", "", "z"]);
});

Deno.test("ReplicaBatcher.forget() drops pending copies of deleted keys and keeps the others", async () => {
  const { b, sent } = collecting({ delayMs: 5 });
  b.add(meta("http://h/keep", 1), bytes("k"));
  b.add(meta("http://h/gone", 1), bytes("g"));
  b.add({ ...meta("http://h/gone", 1), variant: "gzip" }, bytes("G"));
  b.forget(["http://h/gone"]);
  await sleep(30);
  assertEquals(sent.length, 1);
  assertEquals(unpackReplicas(sent[0].batch).map(([m, body]) => [m.primary, text(body)]), [["http://h/keep", "k"]]);
});

Deno.test("ReplicaBatcher.forget() of everything pending stops the timer; close() drops what is pending", async () => {
  const { b, sent } = collecting({ delayMs: 5 });
  b.add(meta("http://h/x", 1), bytes("x"));
  b.forget(["http://h/x"]);
  b.add(meta("http://h/y", 1), bytes("y"));
  b.close();
  await sleep(30);
  assertEquals(sent.length, 0);
  assertEquals(b.pending, 0);
});

/** A batch as the batcher would send it, built through a batcher. */
function batchOf(entries: [StoredMeta, string][]): ReplicaBatch {
  const { b, sent } = collecting({ maxObjects: entries.length });
  for (const [m, body] of entries) b.add(m, bytes(body));
  return sent[0].batch;
}

Deno.test("unpackReplicas() gives a single object a view and several objects copies", () => {
  const one = batchOf([[meta("http://h/1", 3), "abc"]]);
  assertEquals(unpackReplicas(one)[0][1].buffer, one.bodies.buffer);
  const two = batchOf([[meta("http://h/1", 1), "a"], [meta("http://h/2", 2), "bc"]]);
  const got = unpackReplicas(two);
  assertEquals(got.map(([, b]) => text(b)), ["a", "bc"]);
  for (const [, b] of got) assert(b.buffer !== two.bodies.buffer);
});

Deno.test("unpackReplicas() rejects batches whose parts do not fit together", () => {
  const good = () => batchOf([[meta("http://h/1", 3), "abc"]]);
  const withNumber = (i: number, v: number) => {
    const g = good();
    g.numbers[i] = v;
    return g;
  };
  const cases: [string, ReplicaBatch, string][] = [
    ["body too long", withNumber(4, 5), "body of 5 bytes at 0 exceeds 3"],
    ["bytes left over", withNumber(4, 2), "objects use 2 of 3 bytes"],
    ["negative body", withNumber(4, -1), "body of -1 bytes"],
    ["too many headers", withNumber(5, 9), "needs more than 4 strings"],
    ["strings left over", { ...good(), strings: [...good().strings, "extra"] }, "3 of 3 bytes and 4 of 5 strings"],
    ["numbers cut", { ...good(), numbers: good().numbers.subarray(0, NUMBERS_PER_META - 1) }, "is not a multiple"],
  ];
  for (const [name, batch, msg] of cases) {
    try {
      assertThrows(() => unpackReplicas(batch), RangeError, msg);
    } catch (e) {
      throw new Error(`${name}: ${(e as Error).message}`);
    }
  }
});
