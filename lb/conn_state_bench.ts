/**
 * Cost of `director.stateFile` at 100,000 and 1,000,000 connection entries (plus one template per
 * 8 clients): `snapshotConnState` is what the data-plane Worker pays per save (the forwarding loop
 * stalls that long), `compactConnState` + `encodeConnState` + write + rename run on the main thread, and
 * `decodeConnState` + `importConnState` once at start (the Worker's import runs before the first
 * packet is forwarded).
 *
 * Run: flock /tmp/webcache-bench.lock deno bench -A lb/conn_state_bench.ts
 */
import { compactConnState, exportConnState, importConnState, snapshotConnState } from "./conn_state.ts";
import { decodeConnState, encodeConnState } from "./conn_state_codec.ts";
import { Dispatcher, type ServiceSpec } from "./dispatcher.ts";
import { TCP_ACK, TCP_SYN } from "./tcp_state.ts";

const SPEC: ServiceSpec = {
  vip: "10.0.0.100",
  port: 80,
  scheduler: "rr",
  method: "dr",
  persistence: { timeoutS: 300, netmask: 29 },
  reals: Array.from({ length: 8 }, (_, i) => ({ address: `10.0.1.${i + 1}` })),
};
const dir = Deno.makeTempDirSync({ prefix: "ds-bench-" });
addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));

for (const n of [100_000, 1_000_000]) {
  const d = new Dispatcher({ maxConnections: n });
  d.configure([SPEC]);
  const flow = { saddr: 0, sport: 0, daddr: 0x0a000064, dport: 80 };
  for (let i = 0; i < n; i++) {
    flow.saddr = (0xac100000 + (i >> 2)) >>> 0; // 4 connections per client
    flow.sport = 1024 + (i & 3);
    d.schedule(flow, TCP_SYN, 0);
    d.schedule(flow, TCP_ACK, 0);
  }
  const state = exportConnState(d, 0, Date.now());
  const bytes = encodeConnState(state);
  const label = `${n / 1000}k entries, ${state.templates.client.length / 1000}k templates, ${
    (bytes.length / 1e6).toFixed(1)
  } MB`;
  const opts = { n: n > 100_000 ? 8 : 30, warmup: 2 };
  Deno.bench({ name: `snapshotConnState (Worker stall per save) ${label}`, group: `${n}`, ...opts }, () => {
    snapshotConnState(d, 0, Date.now());
  });
  const snap = snapshotConnState(d, 0, Date.now());
  Deno.bench({ name: `compactConnState (main thread) ${label}`, group: `${n}`, ...opts }, () => {
    compactConnState(snap);
  });
  Deno.bench({ name: `encodeConnState (main thread) ${label}`, group: `${n}`, ...opts }, () => {
    encodeConnState(state);
  });
  Deno.bench({ name: `write temp file + rename (main thread) ${label}`, group: `${n}`, ...opts }, () => {
    Deno.writeFileSync(`${dir}/s.tmp`, bytes, { mode: 0o600 });
    Deno.renameSync(`${dir}/s.tmp`, `${dir}/s`);
  });
  Deno.bench({ name: `decodeConnState (start) ${label}`, group: `${n}`, ...opts }, () => {
    decodeConnState(bytes);
  });
  Deno.bench({ name: `importConnState into a new dispatcher (Worker, start) ${label}`, group: `${n}`, ...opts }, () => {
    const fresh = new Dispatcher({ maxConnections: n });
    fresh.configure([SPEC]);
    importConnState(fresh, state, 0, Date.now());
  });
}
