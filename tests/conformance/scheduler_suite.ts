/**
 * The conformance suite every scheduler in `lb/scheduler/` passes (Hono's shared router cases),
 * plus small helpers to build server lists for scheduler tests.
 *
 * @module
 */
import assert from "node:assert/strict";
import type { FlowKey, SchedDest, Scheduler } from "../../lb/scheduler/mod.ts";

/** Shorthand for a server in tests. */
export interface DestSpec {
  weight?: number;
  active?: number;
  inactive?: number;
  overloaded?: boolean;
}

/** Builds servers A, B, C... with ids 0.. and addresses 10.0.0.1.. */
export function makeDests(specs: DestSpec[]): SchedDest[] {
  return specs.map((s, i) => ({
    id: i,
    key: `10.0.0.${i + 1}:80`,
    addr: (10 << 24 | i + 1) >>> 0,
    weight: s.weight ?? 1,
    activeConns: s.active ?? 0,
    inactConns: s.inactive ?? 0,
    overloaded: s.overloaded ?? false,
  }));
}

/** A flow from `saddr` to `daddr` (numbers). */
export function flow(saddr: number, daddr = 0x0a0000fe, sport = 40000, dport = 80): FlowKey {
  return { saddr, sport, daddr, dport };
}

/** Letters of chosen servers, `-` for none. */
export function letters(picks: (SchedDest | undefined)[]): string {
  return picks.map((d) => (d ? String.fromCharCode(65 + d.id) : "-")).join("");
}

/** Schedules `n` flows with increasing source addresses, applying `onPick` (e.g. count a connection). */
export function run(
  s: Scheduler,
  dests: SchedDest[],
  n: number,
  onPick?: (d: SchedDest) => void,
  flowOf: (i: number) => FlowKey = (i) => flow(0x0b000000 + i, 0x0c000000 + i),
): string {
  const out: (SchedDest | undefined)[] = [];
  for (let i = 0; i < n; i++) {
    const d = s.schedule(dests, flowOf(i), 1000 + i);
    if (d && onPick) onPick(d);
    out.push(d);
  }
  return letters(out);
}

/**
 * Registers the shared cases for one scheduler.
 *
 * @param name scheduler name, used in test names
 * @param make creates a fresh instance
 */
export function schedulerConformance(name: string, make: () => Scheduler): void {
  const fresh = (dests: SchedDest[]) => {
    const s = make();
    s.update(dests);
    return s;
  };

  Deno.test(`${name}: reports its ipvsadm name`, () => {
    assert.equal(make().name, name);
  });

  Deno.test(`${name}: schedule() returns undefined without servers`, () => {
    const s = fresh([]);
    assert.equal(s.schedule([], flow(1), 0), undefined);
  });

  Deno.test(`${name}: schedule() never picks a weight 0 server`, () => {
    const dests = makeDests([{ weight: 0 }, { weight: 0 }, { weight: 0 }]);
    const s = fresh(dests);
    assert.equal(run(s, dests, 50), "-".repeat(50));
  });

  Deno.test(`${name}: schedule() never picks an overloaded server`, () => {
    const dests = makeDests([{ overloaded: true }, { overloaded: true }]);
    const s = fresh(dests);
    assert.equal(run(s, dests, 50), "-".repeat(50));
  });

  Deno.test(`${name}: schedule() always picks the only usable server or none`, () => {
    const dests = makeDests([{ weight: 0 }, { weight: 3 }, { overloaded: true }]);
    const s = fresh(dests);
    const seq = run(s, dests, 200, (d) => d.activeConns++);
    // Hashing schedulers may map a flow to an unusable server (IPVS has no fallback); others must pick B.
    assert(/^[B-]+$/.test(seq), seq);
    if (!["dh", "sh", "mh"].includes(name)) assert.equal(seq, "B".repeat(200));
  });

  Deno.test(`${name}: schedule() spreads flows over servers of equal weight`, () => {
    const dests = makeDests([{}, {}, {}]);
    const s = fresh(dests);
    const counts = [0, 0, 0];
    const seq = run(s, dests, 3000, (d) => {
      counts[d.id]++;
      d.activeConns++;
    });
    assert(!seq.includes("-"), "every flow scheduled");
    // Locality schedulers see a distinct destination per flow here, so they spread too.
    for (const c of counts) assert(c > 600 && c < 1400, `counts ${counts}`);
  });

  Deno.test(`${name}: clone() leaves the original unchanged`, () => {
    const dests = makeDests([{ weight: 2 }, { weight: 1 }, { weight: 1 }]);
    const s = fresh(dests);
    run(s, dests, 5);
    const c = s.clone();
    const fromClone = run(c, dests, 7);
    const fromOriginal = run(s, dests, 7);
    assert.equal(fromOriginal, fromClone);
  });

  Deno.test(`${name}: update() after a server leaves never returns it`, () => {
    const dests = makeDests([{}, {}, {}]);
    const s = fresh(dests);
    run(s, dests, 10);
    const rest = [dests[0], dests[2]];
    s.update(rest);
    const seq = run(s, rest, 300);
    assert(!seq.includes("B"), seq);
    assert(!seq.includes("-"), seq);
  });
}
