import { assertEquals } from "../../tests/_assert.ts";
import { DEFAULT_TCP_TIMEOUTS } from "../tcp_state.ts";
import { ControlBlock, REAL, SVC } from "./control.ts";

Deno.test("ControlBlock carries config from one view to another over the same SharedArrayBuffer", () => {
  const main = new ControlBlock();
  const worker = new ControlBlock(main.sab);
  assertEquals(worker.readConfig(), undefined);
  const cfg = {
    services: [],
    timeouts: { ...DEFAULT_TCP_TIMEOUTS },
    maxConnections: 10,
    expireQuiescentTemplate: true,
    nextHops: {},
    serverState: [],
  };
  const seq = main.writeConfig(cfg);
  assertEquals(seq, 2);
  assertEquals(worker.readConfig(), { config: cfg, sequence: 2 });
  worker.appliedSequence = 2;
  assertEquals(main.appliedSequence, 2);
});

Deno.test("ControlBlock counters of services and reals do not overlap", () => {
  const b = new ControlBlock();
  const idx = new Set<number>();
  for (let s = 0; s < 64; s++) for (const w of Object.values(SVC)) idx.add(b.serviceIndex(s, w));
  for (let r = 0; r < 1024; r++) for (const w of Object.values(REAL)) idx.add(b.realIndex(r, w));
  assertEquals(idx.size, 64 * 4 + 1024 * 6);
  assertEquals(Math.max(...idx) < b.counters.length, true);
});

Deno.test("ControlBlock stop request is seen by the other view", () => {
  const main = new ControlBlock();
  const worker = new ControlBlock(main.sab);
  assertEquals(worker.stopRequested, false);
  main.requestStop();
  assertEquals(worker.stopRequested, true);
});
