/**
 * Scheduling decisions per second for each scheduler: 16 servers, weights 1-4, a new flow per call
 * (distinct source and destination), connection counts updated as the dispatcher would.
 * Run: deno bench -A lb/scheduler/scheduler_bench.ts
 */
import { createScheduler, type FlowKey, type SchedDest, SCHEDULER_NAMES } from "./mod.ts";

const dests: SchedDest[] = Array.from({ length: 16 }, (_, i) => ({
  id: i,
  key: `10.0.1.${i + 1}:80`,
  addr: (10 << 24 | 1 << 8 | (i + 1)) >>> 0,
  weight: (i % 4) + 1,
  activeConns: 0,
  inactConns: 0,
  overloaded: false,
}));

for (const name of SCHEDULER_NAMES) {
  const s = createScheduler(name);
  s.update(dests);
  const flow: FlowKey = { saddr: 0, sport: 0, daddr: 0, dport: 80 };
  let i = 0;
  Deno.bench({ name: `schedule ${name}`, group: "scheduler", baseline: name === "rr" }, () => {
    i++;
    flow.saddr = 0x0b000000 + (i & 0xfffff);
    flow.daddr = 0x0c000000 + (i & 0x3fff);
    flow.sport = i & 0xffff;
    const d = s.schedule(dests, flow, i);
    if (d) {
      // Keep counts moving and bounded, as connections come and go.
      if (d.activeConns < 1000) d.activeConns++;
      else d.activeConns = 0;
    }
  });
}
