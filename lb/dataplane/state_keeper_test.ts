import assert from "node:assert/strict";
import { ipv4ToInt } from "../../core/addr.ts";
import { compactConnState, exportConnState } from "../conn_state.ts";
import { Dispatcher, type ServiceSpec } from "../dispatcher.ts";
import { TCP_ACK, TCP_SYN } from "../tcp_state.ts";
import { StateKeeper, type StateMessage } from "./state_keeper.ts";

const SPEC: ServiceSpec = {
  vip: "10.0.0.100",
  port: 80,
  scheduler: "rr",
  method: "dr",
  reals: [{ address: "10.0.0.11" }, { address: "10.0.0.12" }],
};
const flow = (i: number) => ({
  saddr: ipv4ToInt(`192.168.0.${i}`),
  sport: 40000 + i,
  daddr: ipv4ToInt("10.0.0.100"),
  dport: 80,
});

function keeper(opts: ConstructorParameters<typeof StateKeeper>[0]) {
  const posted: { msg: StateMessage; transfer: ArrayBuffer[] }[] = [];
  return { k: new StateKeeper(opts, (msg, transfer) => posted.push({ msg, transfer })), posted };
}

Deno.test("StateKeeper restores once, after the first configuration", () => {
  const old = new Dispatcher({ maxConnections: 10 });
  old.configure([SPEC]);
  old.schedule(flow(1), TCP_SYN, Date.now());
  old.schedule(flow(1), TCP_ACK, Date.now());
  const { k, posted } = keeper({ restore: exportConnState(old, Date.now(), Date.now()), saveIntervalMs: 1000 });
  const d = new Dispatcher({ maxConnections: 10 });
  d.configure([SPEC]);
  k.configured(d, Date.now());
  k.configured(d, Date.now()); // a reload: nothing restored again
  assert.equal(posted.length, 1);
  const m = posted[0].msg;
  assert(m.type === "restored");
  assert.equal(m.summary.conns, 1);
  assert.equal(d.table.size, 1);
});

Deno.test("StateKeeper snapshots at most once per interval, only when the table changed, and at stop", () => {
  const { k, posted } = keeper({ saveIntervalMs: 1000 });
  const d = new Dispatcher({ maxConnections: 10 });
  d.configure([SPEC]);
  const t0 = Date.now();
  k.configured(d, t0);
  k.tick(d, t0 + 1000);
  assert.equal(posted.length, 0, "no change, no snapshot");
  d.schedule(flow(1), TCP_SYN, t0 + 1100);
  k.tick(d, t0 + 1500);
  assert.equal(posted.length, 0, "interval not over");
  k.tick(d, t0 + 2000);
  assert.equal(posted.length, 1);
  const m = posted[0].msg;
  assert(m.type === "state" && !m.final && compactConnState(m.snapshot).conns.saddr.length === 1);
  assert.equal(posted[0].transfer.length, 9, "the typed arrays are transferred");
  k.tick(d, t0 + 3000);
  assert.equal(posted.length, 1, "unchanged since");
  d.schedule(flow(1), TCP_ACK, t0 + 3100);
  k.stop(d, t0 + 3200);
  assert.equal(posted.length, 2);
  const last = posted[1].msg;
  assert(last.type === "state" && last.final);
  k.stop(d, t0 + 3300);
  assert.equal(posted.length, 3, "a stop always saves, changed or not");
});
