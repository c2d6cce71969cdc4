/**
 * Connection table and dispatcher throughput: inserts and lookups per second on the raw table, and
 * full `Dispatcher.schedule()` calls (new flows with SYN, and packets of known flows).
 * Run: deno bench -A lb/conn_table_bench.ts
 */
import { ConnTable } from "./conn_table.ts";
import { Dispatcher } from "./dispatcher.ts";
import { TCP_ACK, TCP_SYN } from "./tcp_state.ts";

const N = 1 << 20;
const table = new ConnTable(N);
let ins = 0;
Deno.bench({ name: "ConnTable.insert (+remove when full)", group: "table" }, () => {
  const i = ins++ & (N - 1);
  if (table.full) {
    const s = table.lookup(i, 0x0a000064, (i & 0xffff) << 16 | 80);
    if (s >= 0) table.remove(s);
  }
  table.insert(i, 0x0a000064, (i & 0xffff) << 16 | 80, 0, i & 7, 1, 0);
});

const lookupTable = new ConnTable(N);
for (let i = 0; i < N; i++) lookupTable.insert(i, 0x0a000064, (i & 0xffff) << 16 | 80, 0, i & 7, 1, 0);
let lk = 0;
Deno.bench({ name: "ConnTable.lookup hit (1M entries)", group: "table" }, () => {
  const i = (lk = (lk + 7919) & (N - 1));
  if (lookupTable.lookup(i, 0x0a000064, (i & 0xffff) << 16 | 80) < 0) throw new Error("miss");
});
Deno.bench({ name: "ConnTable.lookup miss (1M entries)", group: "table" }, () => {
  lk = (lk + 7919) & (N - 1);
  lookupTable.lookup(lk + N, 0x0a000064, 80);
});

const reals = Array.from({ length: 8 }, (_, i) => ({ address: `10.0.1.${i + 1}`, weight: 1 }));
const d = new Dispatcher({ maxConnections: N });
d.configure([{ vip: "10.0.0.100", port: 80, scheduler: "wlc", reals }]);
const flow = { saddr: 0, sport: 0, daddr: 0x0a000064, dport: 80 };
let nf = 0;
let now = 0;
Deno.bench({ name: "Dispatcher.schedule new flow (SYN, wlc)", group: "dispatcher" }, () => {
  nf++;
  flow.saddr = 0x0b000000 + nf;
  flow.sport = nf & 0xffff;
  d.schedule(flow, TCP_SYN, now);
  if ((nf & 0xffff) === 0) d.expire(now += 61_000);
});

const d2 = new Dispatcher({ maxConnections: N });
d2.configure([{ vip: "10.0.0.100", port: 80, scheduler: "wlc", reals }]);
const K = 100_000;
for (let i = 0; i < K; i++) {
  d2.schedule({ saddr: 0x0b000000 + i, sport: i & 0xffff, daddr: 0x0a000064, dport: 80 }, TCP_SYN, 0);
}
let kf = 0;
Deno.bench({ name: "Dispatcher.schedule known flow (ACK, 100k entries)", group: "dispatcher" }, () => {
  kf = (kf + 1) % K;
  flow.saddr = 0x0b000000 + kf;
  flow.sport = kf & 0xffff;
  d2.schedule(flow, TCP_ACK, 1);
});
