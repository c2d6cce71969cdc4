/**
 * `RequestFsm` with two workers in one process: two memory stores sharing a collapse table
 * (`shared_collapse.ts`) and an index (`shared_index.ts`), lazy copies over a `MessageChannel`. The
 * other thread's timing is played by the test at the exact point where it once made a second
 * origin request.
 */
import { assertEquals } from "../tests/_assert.ts";
import { LazyCopy } from "./lazy_copy.ts";
import { RequestFsm } from "./request_fsm.ts";
import { SharedCollapse } from "./shared_collapse.ts";
import { SharedIndex } from "./shared_index.ts";
import { MemoryStore } from "./store/memory_store.ts";
import type { StoredMeta } from "./store/store.ts";
import { createPolicy } from "./store/eviction/mod.ts";
import { exchange, parseRecorded, planFor, rawResponse, ScriptedOrigin, testContext, testStore } from "./_test_kit.ts";

/** Two workers (0 and 1) of one cache. */
function twoWorkers() {
  const collapse = SharedCollapse.allocate(64);
  const index = SharedIndex.allocate(64);
  const channel = new MessageChannel();
  return [0, 1].map((n) => {
    const store = testStore();
    const lazy = new LazyCopy(new SharedIndex(index, n), store);
    lazy.connect(1 - n, n === 0 ? channel.port1 : channel.port2);
    const claims = new SharedCollapse(collapse, { worker: n });
    const { ctx, pool } = testContext(store, { sharedCollapse: claims, lazyCopy: lazy });
    return { store, lazy, claims, fsm: new RequestFsm(ctx), pool };
  });
}

const GET = (path: string) => `GET ${path} HTTP/1.1\r\nHost: example.test\r\n\r\n`;

Deno.test("RequestFsm: a miss claimed just after another worker stored the object and released it is copied, not fetched", async () => {
  const origin = new ScriptedOrigin((_req, n) => rawResponse(200, [["cache-control", "max-age=60"]], `v${n}`));
  const [a, b] = twoWorkers();
  try {
    // Worker a fetches and stores /k. Then the test puts it back to "fetched, not yet published,
    // claim still held", so that it can finish exactly between b's lookup and b's claim.
    const exA = exchange(GET("/k"));
    const planA = planFor(exA, origin, "/k");
    await a.fsm.lookup(exA, planA);
    assertEquals(parseRecorded(exA.res.text()).body, "v1");
    const key = planA.primary;
    const meta = a.store.peek(key)[0].meta;
    a.lazy.index.withdraw(key);
    assertEquals(a.claims.claimOrWait(key, 1000), undefined, "a holds the claim again");
    // b looks /k up: nobody holds it yet. Right after that look-up, a publishes and releases.
    const pull = b.lazy.pull.bind(b.lazy);
    let first = true;
    b.lazy.pull = (k, opts) => {
      const r = pull(k, opts);
      if (first) {
        first = false;
        a.lazy.added(meta);
        a.claims.release(key, true);
      }
      return r;
    };
    const exB = exchange(GET("/k"));
    await b.fsm.lookup(exB, planFor(exB, origin, "/k"));
    const r = parseRecorded(exB.res.text());
    assertEquals([r.status, r.body], [200, "v1"], "b serves a's object");
    assertEquals(origin.seen.length, 1, "one origin request in all");
    assertEquals(b.claims.held, 0, "b released its claim");
    // Another miss of /k on b finds the slot free.
    assertEquals(b.claims.claimOrWait(key, 1000), undefined);
    b.claims.release(key, false);
  } finally {
    for (const w of [a, b]) {
      await w.fsm.settle();
      w.lazy.close();
      w.pool.close();
    }
    await origin.close();
  }
});

/** A memory store that answers look-ups a little later, as a disk tier's index does. */
class SlowLookupStore extends MemoryStore {
  override variants(primary: string): StoredMeta[] {
    const list = super.variants(primary);
    // A promise at run time (the `Store` interface allows it; `MemoryStore`'s own type does not).
    return new Promise<StoredMeta[]>((resolve) => setTimeout(() => resolve(list), 5)) as unknown as StoredMeta[];
  }
}

Deno.test("RequestFsm: while a worker's claimed miss looks again in an asynchronous store, its other requests wait for it and fetch nothing", async () => {
  const origin = new ScriptedOrigin((_req, n) => rawResponse(200, [["cache-control", "max-age=60"]], `v${n}`));
  const store = new SlowLookupStore({ maxBytes: 64 << 20, maxObjectBytes: 8 << 20, policy: createPolicy("sieve") });
  const claims = new SharedCollapse(SharedCollapse.allocate(64), { worker: 0 });
  const { ctx, pool } = testContext(store, { sharedCollapse: claims });
  const fsm = new RequestFsm(ctx);
  try {
    // Both requests look /k up (5 ms each); the first claims it and looks again (5 ms more),
    // the second finds the claim this worker's own: it must wait for that look, then join.
    const exs = [0, 1].map(() => exchange(GET("/k")));
    await Promise.all(exs.map((ex) => fsm.lookup(ex, planFor(ex, origin, "/k"))));
    for (const ex of exs) assertEquals(parseRecorded(ex.res.text()).body, "v1");
    assertEquals(origin.seen.length, 1, "one origin request");
    assertEquals(claims.held, 0, "the claim was released");
  } finally {
    await fsm.settle();
    pool.close();
    await origin.close();
  }
});
