import { assert, assertEquals, assertThrows } from "../tests/_assert.ts";
import { NUMBERS_PER_META, packReplicas, type ReplicaBatch, unpackReplicas } from "./replica_batch.ts";
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
Deno.test("packReplicas() fixes bodyBytes that did not match the body", () => {
  assertEquals(unpackReplicas(packReplicas([[meta("http://h/u", -1), bytes("abc")]]))[0][0].bodyBytes, 3);
});

Deno.test("packReplicas() copies bodies, so the stored buffers stay their own", () => {
  const body = bytes("abc");
  const batch = packReplicas([[meta("http://h/c", 3), body]]);
  assert(batch.bodies.buffer !== body.buffer);
  batch.bodies[0] = 0x7a;
  assertEquals(text(body), "abc");
});

Deno.test("packReplicas() batches unpack to equal metadata: headers, Vary, variants, times", () => {
  const metas: StoredMeta[] = [
    { ...meta("http://h/v", 2), variant: "gzip\u0000en", vary: ["accept-encoding", "accept-language"] },
    { ...meta("http://h/none", 0), headers: [], status: 204, expiresAt: 1.5e12 },
    { ...meta("http://h/many", 1), headers: [["set-cookie", "a=1"], ["set-cookie", "b=2"], ["x-empty", ""]] },
  ];
  const bodies = [bytes("ab"), bytes(""), bytes("z")];
  const got = unpackReplicas(packReplicas(metas.map((m, i) => [m, bodies[i]])));
  assertEquals(got.map(([m]) => m), metas);
  assertEquals(got.map(([, body]) => text(body)), ["ab", "", "z"]);
});

function batchOf(entries: [StoredMeta, string][]): ReplicaBatch {
  return packReplicas(entries.map(([m, body]) => [m, bytes(body)]));
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
