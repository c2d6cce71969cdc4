import assert from "node:assert/strict";
import { SyncInbox } from "./sync_inbox.ts";

Deno.test("SyncInbox: messages come out whole and in order across the ring's wrap", () => {
  const main = new SyncInbox(100);
  const worker = new SyncInbox(main.sab);
  let next = 0, expect = 0;
  for (let round = 0; round < 50; round++) {
    for (let k = 0; k < 3; k++) {
      const m = new Uint8Array(5 + ((next * 7) % 20)).fill(next & 0xff);
      if (main.push(m)) next++;
    }
    for (let m = worker.pop(); m; m = worker.pop()) {
      assert.equal(m.length, 5 + ((expect * 7) % 20));
      assert.ok(m.every((b) => b === (expect & 0xff)));
      expect++;
    }
  }
  assert.equal(expect, next);
  assert.ok(next > 100, "the ring wrapped many times");
});

Deno.test("SyncInbox: a message that does not fit is refused and counted", () => {
  const main = new SyncInbox(64);
  assert.equal(main.push(new Uint8Array(60)), false);
  assert.equal(main.push(new Uint8Array(59)), true);
  assert.equal(main.push(new Uint8Array(1)), false);
  assert.equal(main.dropped, 2);
});

Deno.test("SyncInbox: full-table requests are taken once", () => {
  const main = new SyncInbox(64);
  const worker = new SyncInbox(main.sab);
  assert.equal(worker.takeFullRequest(), false);
  main.requestFull();
  main.requestFull();
  assert.equal(worker.takeFullRequest(), true);
  assert.equal(worker.takeFullRequest(), false);
});
