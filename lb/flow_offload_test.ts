import assert from "node:assert/strict";
import { ipv4ToInt } from "../core/addr.ts";
import type { ConnTable } from "./conn_table.ts";
import { compactConnState, importConnState, snapshotConnState } from "./conn_state.ts";
import { Dispatcher, type ServiceSpec } from "./dispatcher.ts";
import type { FlowOffload } from "./flow_offload.ts";
import type { FlowKey } from "./scheduler/mod.ts";
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from "./tcp_state.ts";

const VIP = "10.0.0.100";
const SERVICE: ServiceSpec = {
  vip: VIP,
  port: 80,
  scheduler: "rr",
  persistence: { timeoutS: 300, netmask: 32 },
  reals: [{ address: "10.0.0.11" }, { address: "10.0.0.12" }],
};
const flow = (sport: number): FlowKey => ({ saddr: ipv4ToInt("1.1.1.1"), sport, daddr: ipv4ToInt(VIP), dport: 80 });

/** Records what the dispatcher asks; `seen` is the last-seen time it reports per client port. */
class Recorder implements FlowOffload {
  readonly events: string[] = [];
  readonly seen = new Map<number, number>();
  readonly packetCount = new Map<number, number>();
  accept = true;
  install(t: ConnTable, slot: number): boolean {
    this.events.push(`install ${t.ports(slot) >>> 16} -> ${t.server(slot)}`);
    return this.accept;
  }
  remove(t: ConnTable, slot: number): void {
    this.events.push(`remove ${t.ports(slot) >>> 16}`);
  }
  lastSeenMs(t: ConnTable, slot: number): number {
    return this.seen.get(t.ports(slot) >>> 16) ?? -Infinity;
  }
  packets(t: ConnTable, slot: number): number {
    return this.packetCount.get(t.ports(slot) >>> 16) ?? 0;
  }
}

function setup() {
  const d = new Dispatcher({ maxConnections: 100, timeouts: { establishedS: 10, finWaitS: 5 } });
  const o = new Recorder();
  d.offload = o;
  d.configure([SERVICE]);
  return { d, o };
}

Deno.test("Dispatcher installs a flow in the offload when it becomes ESTABLISHED, not on the SYN", () => {
  const { d, o } = setup();
  const id = d.schedule(flow(1000), TCP_SYN, 0);
  assert.deepEqual(o.events, []);
  d.schedule(flow(1000), TCP_ACK, 1);
  assert.deepEqual(o.events, [`install 1000 -> ${id}`]);
  d.schedule(flow(1000), TCP_ACK, 2); // already installed: nothing
  assert.equal(o.events.length, 1);
});

Deno.test("Dispatcher installs a sloppy mid-flow schedule at once", () => {
  const { d, o } = setup();
  const id = d.schedule(flow(1001), TCP_ACK, 0);
  assert.deepEqual(o.events, [`install 1001 -> ${id}`]);
});

for (const [what, flags] of [["FIN", TCP_FIN | TCP_ACK], ["RST", TCP_RST]] as const) {
  Deno.test(`Dispatcher removes an installed flow from the offload on a ${what}`, () => {
    const { d, o } = setup();
    d.schedule(flow(1002), TCP_SYN, 0);
    d.schedule(flow(1002), TCP_ACK, 1);
    d.schedule(flow(1002), flags, 2);
    assert.deepEqual(o.events.slice(1), ["remove 1002"]);
    // Later packets (no longer ESTABLISHED) do not install it again.
    d.schedule(flow(1002), TCP_ACK, 3);
    assert.equal(o.events.length, 2);
  });
}

Deno.test("Dispatcher extends an installed flow's expiry from the offload's last-seen time", () => {
  const { d, o } = setup();
  d.schedule(flow(1003), TCP_ACK, 0); // expires at 10 s
  o.seen.set(1003, 8_000); // a packet on the fast path at 8 s
  assert.equal(d.expire(10_000), 0);
  assert.equal(d.table.size, 1);
  assert.equal(d.expire(17_999), 0);
  assert.equal(d.expire(18_000), 1); // 8 s + 10 s, no packet since
  assert.deepEqual(o.events.slice(1), ["remove 1003"]);
  assert.equal(d.table.size, 0);
});

Deno.test("Dispatcher expires a flow the offload refused as before, without asking for last-seen", () => {
  const { d, o } = setup();
  o.accept = false;
  const id = d.schedule(flow(1004), TCP_ACK, 0);
  o.seen.set(1004, 9_000);
  assert.equal(d.expire(10_000), 1);
  assert.deepEqual(o.events, [`install 1004 -> ${id}`]);
});

Deno.test("Dispatcher re-installs established flows restored from saved state, and keeps persistence", () => {
  const { d } = setup();
  const a = d.schedule(flow(1005), TCP_SYN, 0)!;
  d.schedule(flow(1005), TCP_ACK, 1);
  d.schedule(flow(1006), TCP_SYN, 1); // stays SYN_RECV
  const state = compactConnState(snapshotConnState(d, 2, 2));
  const { d: d2, o: o2 } = setup();
  importConnState(d2, state, 2, 2);
  assert.deepEqual(o2.events, [`install 1005 -> ${a}`]);
  // Persistence still holds the client on its server for new connections.
  assert.equal(d2.schedule(flow(1007), TCP_SYN, 3), a);
});
