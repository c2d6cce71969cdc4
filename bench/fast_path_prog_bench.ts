/**
 * The director's cost per new connection without the lab's noise: ns per run of the fast-path program in the
 * kernel (BPF_PROG_TEST_RUN with `repeat`, no interface, nothing sent) for each packet kind of a connection, the
 * benchmark's null hop (`_null_hop_program.ts`) beside it, and the director's user-space CPU per kernel-scheduled
 * connection (ring drain, table adoption, the FIN record and the batched delete of its flow, the entry's expiry).
 *
 * `deno run -A bench/fast_path_prog_bench.ts [--calls N] [--conns N]` as root (loads eBPF programs).
 *
 * ```text
 * kind                   frame                               what one run does
 * syn (mh, DR)           SYN to an mh service's VIP:port     service + Maglev + real lookups, flow insert, ring record
 * data (known flow, DR)  ACK|PSH, 100 B payload              flow + real lookups, stamp, counters, MAC rewrite
 * fin (kernel flow, DR)  FIN|ACK of a kernel-scheduled flow  as data, plus a ring record
 * passed (no flow)       ACK of an unknown flow              the checks and one flow lookup → TCX_NEXT
 * null hop               any IPv4 frame                      EtherType check, MAC rewrite, redirect
 * ```
 *
 * Each kind is timed `--calls` times (default 31) with `repeat` runs per call (the kernel's mean per call) and the
 * minimum and median over calls are printed: the minimum is the figure least disturbed by other work on the
 * machine. The repeated runs see one skb as the run before left it (a SYN's flow is replaced each time, the MACs
 * are already rewritten), which is the same work for these kinds; TUN changes the frame (encapsulated, it is no
 * longer TCP to the program), so "data (known flow, TUN)" is timed with one run per call (the kernel's timer is
 * then in the figure: compare it with "data, 1 run/call, DR"). The ring is drained between calls.
 *
 * Both with the flow map allocated on insert (the default) and preallocated (`director.fastPathPreallocate`, rows
 * marked "prealloc").
 *
 * User space: `--conns` (default 20,000) SYNs of distinct clients are run through the program, then the time of
 * `FastPathOffload.adoptNewFlows()` for their records is taken; then their FINs, and the drain again (records
 * applied, the flows deleted in batches); then `Dispatcher.expire()` once their TIME_WAIT has run out. Wall time
 * of one thread doing only that, per connection; minimum and median of 7 rounds.
 *
 * @module
 */
import { ipv4ToInt } from "../core/addr.ts";
import { DrFastPath } from "../netctl/dr_fast_path.ts";
import { MAGLEV_TABLE_SIZE } from "../netctl/dr_fast_path_program.ts";
import { BPF_PROG_TYPE_SCHED_CLS, closeBpfFd, loadBpfProgram, timeBpfRun } from "../netctl/ebpf.ts";
import { TCX_NEXT, TCX_REDIRECT } from "../netctl/ebpf_asm.ts";
import { Dispatcher } from "../lb/dispatcher.ts";
import { ControlBlock } from "../lb/dataplane/control.ts";
import { FastPathOffload } from "../lb/dataplane/fast_path_offload.ts";
import { nullHopProgram } from "./_null_hop_program.ts";

const arg = (name: string, dflt: number) => {
  const i = Deno.args.indexOf(name);
  return i >= 0 ? Number(Deno.args[i + 1]) : dflt;
};
const CALLS = arg("--calls", 31);
const CONNS = arg("--conns", 20_000);

const DIRECTOR_MAC = [0x02, 0, 0, 0, 0, 0x02];
const RS_MAC = [0x02, 0, 0, 0, 0, 0x11];
const CLIENT = ipv4ToInt("10.77.0.10");
const VIP = ipv4ToInt("10.77.0.100");
const ACK = 0x10, SYN = 0x02, FIN = 0x01, PSH = 0x08;

/** A client → VIP:`dport` TCP frame with DF (checksums are not looked at). */
function frame(flags: number, sport: number, o: { saddr?: number; dport?: number; payload?: number } = {}) {
  const payload = o.payload ?? (flags & SYN ? 0 : 100);
  const ipLen = 20 + 20 + payload;
  const b = new Uint8Array(Math.max(60, 14 + ipLen));
  const v = new DataView(b.buffer);
  b.set(DIRECTOR_MAC, 0);
  b.set([0x02, 0, 0, 0, 0, 0x10], 6);
  v.setUint16(12, 0x0800);
  v.setUint8(14, 0x45);
  v.setUint16(16, ipLen);
  v.setUint16(20, 0x4000);
  v.setUint8(22, 64);
  v.setUint8(23, 6);
  v.setUint32(26, o.saddr ?? CLIENT);
  v.setUint32(30, VIP);
  v.setUint16(34, sport);
  v.setUint16(36, o.dport ?? 80);
  v.setUint8(46, 0x50);
  v.setUint8(47, flags);
  return b;
}

const sorted = (xs: number[]) => [...xs].sort((a, b) => a - b);
const median = (xs: number[]) => sorted(xs)[xs.length >> 1];

/** Times `run` `CALLS` times; `after` runs between calls (not timed). */
function timeKind(run: () => { verdict: number; ns: number }, want: number, after = () => {}) {
  const ns: number[] = [];
  for (let i = 0; i < CALLS; i++) {
    const r = run();
    if (r.verdict !== want) throw new Error(`verdict ${r.verdict}, expected ${want}`);
    ns.push(r.ns);
    after();
  }
  return { min: sorted(ns)[0], median: median(ns) };
}

const rows: { kind: string; repeat: number; min: number; median: number }[] = [];
const REAL = { dstMac: new Uint8Array(RS_MAC), srcMac: new Uint8Array(DIRECTOR_MAC), ifindex: 1 };

for (const preallocate of [false, true]) {
  const fp = DrFastPath.open({ maxFlows: 1 << 16, maxReals: 4, preallocate });
  const mode = preallocate ? ", prealloc" : "";
  try {
    fp.setReal(1, REAL);
    fp.setReal(2, {
      ...REAL,
      tun: { source: ipv4ToInt("10.77.0.2"), dest: ipv4ToInt("10.77.0.11"), maxInnerBytes: 1480 },
    });
    fp.setService(VIP, 80, 0, new Int32Array(MAGLEV_TABLE_SIZE).fill(1));
    const drain = () => void fp.drainNewFlows(() => {});
    const kinds: { kind: string; frame: Uint8Array; repeat: number; want: number; setup?: () => void }[] = [
      { kind: "syn (mh, DR)", frame: frame(SYN, 41000), repeat: 10_000, want: TCX_REDIRECT },
      {
        kind: "data (known flow, DR)",
        frame: frame(ACK | PSH, 40000),
        repeat: 50_000,
        want: TCX_REDIRECT,
        setup: () => fp.addFlow(CLIENT, VIP, 40000, 80, 1),
      },
      {
        kind: "fin (kernel flow, DR)",
        frame: frame(FIN | ACK, 42000, { payload: 0 }),
        repeat: 10_000,
        want: TCX_REDIRECT,
        setup: () => void fp.run(frame(SYN, 42000)),
      },
      { kind: "passed (no flow)", frame: frame(ACK, 43000), repeat: 50_000, want: TCX_NEXT },
      { kind: "data, 1 run/call, DR", frame: frame(ACK | PSH, 40000), repeat: 1, want: TCX_REDIRECT },
      {
        kind: "data (known flow, TUN), 1 run/call",
        frame: frame(ACK | PSH, 44000, { dport: 81 }),
        repeat: 1,
        want: TCX_REDIRECT,
        setup: () => fp.addFlow(CLIENT, VIP, 44000, 81, 2),
      },
    ];
    for (const k of kinds) {
      k.setup?.();
      drain();
      fp.timeRun(k.frame, k.repeat); // warm
      drain();
      const t = timeKind(() => fp.timeRun(k.frame, k.repeat), k.want, drain);
      rows.push({ kind: k.kind + mode, repeat: k.repeat, ...t });
    }
  } finally {
    fp.close();
  }
}

const nullProg = loadBpfProgram({
  type: BPF_PROG_TYPE_SCHED_CLS,
  insns: nullHopProgram(1, RS_MAC, DIRECTOR_MAC),
  name: "wc_null_bench",
});
try {
  const f = frame(ACK | PSH, 40000);
  timeBpfRun(nullProg, f, 50_000);
  rows.push({ kind: "null hop", repeat: 50_000, ...timeKind(() => timeBpfRun(nullProg, f, 50_000), TCX_REDIRECT) });
} finally {
  closeBpfFd(nullProg);
}

console.log("ns per program run (BPF_PROG_TEST_RUN)");
console.log("kind                                repeat    min  median");
for (const r of rows) {
  console.log(
    `${r.kind.padEnd(34)} ${String(r.repeat).padStart(7)} ${String(r.min).padStart(6)} ${String(r.median).padStart(7)}`,
  );
}

// User space: adopt, end, expire per kernel-scheduled connection.
const us: Record<string, number[]> = {};
for (let round = 0; round < 14; round++) {
  const preallocate = round % 2 === 1;
  const mode = preallocate ? ", prealloc" : "";
  for (const k of ["adopt", "end", "expire"]) us[k + mode] ??= [];
  const ufp = DrFastPath.open({ maxFlows: CONNS * 2, maxReals: 8, preallocate });
  try {
    const ctl = new ControlBlock();
    const offload = new FastPathOffload(ufp, ctl, { srcMac: new Uint8Array(DIRECTOR_MAC), ifindex: 1 });
    const d = new Dispatcher({ maxConnections: CONNS * 2 });
    d.offload = offload;
    d.configure([{
      vip: "10.77.0.100",
      port: 80,
      method: "dr",
      scheduler: "mh",
      reals: [{ address: "10.77.0.11" }, { address: "10.77.0.12" }],
    }]);
    offload.syncReals(d, () => ({ mac: new Uint8Array(RS_MAC) }), new Int32Array(8).fill(-1));
    offload.syncServices(d);
    const client = (i: number) => (ipv4ToInt("10.128.0.0") + (i >> 4)) >>> 0;
    const sport = (i: number) => 20000 + (i & 15);
    for (let i = 0; i < CONNS; i++) {
      if (ufp.run(frame(SYN, sport(i), { saddr: client(i) })).verdict !== TCX_REDIRECT) throw new Error("SYN passed");
    }
    let t = performance.now();
    if (offload.adoptNewFlows(d, 0) !== CONNS) throw new Error("not every SYN was recorded");
    us["adopt" + mode].push((performance.now() - t) * 1000 / CONNS);
    if (d.table.size !== CONNS) throw new Error(`table holds ${d.table.size}`);
    for (let i = 0; i < CONNS; i++) {
      const f = frame(FIN | ACK, sport(i), { saddr: client(i), payload: 0 });
      if (ufp.run(f).verdict !== TCX_REDIRECT) throw new Error("FIN passed");
    }
    t = performance.now();
    if (offload.adoptNewFlows(d, 1) !== CONNS) throw new Error("not every FIN was recorded");
    us["end" + mode].push((performance.now() - t) * 1000 / CONNS);
    t = performance.now();
    d.expire(10 * 60_000);
    us["expire" + mode].push((performance.now() - t) * 1000 / CONNS);
    if (d.table.size !== 0) throw new Error(`${d.table.size} entries left after expiry`);
  } finally {
    ufp.close();
  }
}
console.log(`\nuser space per kernel-scheduled connection (µs, ${CONNS} connections, min / median of 7)`);
for (const [k, xs] of Object.entries(us)) {
  console.log(`${k.padEnd(18)} ${sorted(xs)[0].toFixed(3)} / ${median(xs).toFixed(3)}`);
}
