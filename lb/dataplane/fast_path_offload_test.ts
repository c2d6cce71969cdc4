import { assert, assertEquals } from "../../tests/_assert.ts";
import { ipv4ToInt } from "../../core/addr.ts";
import { DrFastPath } from "../../netctl/dr_fast_path.ts";
import { TCX_NEXT, TCX_REDIRECT } from "../../netctl/ebpf_asm.ts";
import { Dispatcher } from "../dispatcher.ts";
import { TCP_ACK, TCP_FIN, TCP_SYN, TcpState } from "../tcp_state.ts";
import { ControlBlock, GLOBAL, REAL, SVC } from "./control.ts";
import { FastPathOffload } from "./fast_path_offload.ts";
import { requires } from "../../tests/_requires.ts";

const VIP = "10.77.0.100";
const OUR_MAC = new Uint8Array([2, 0, 0, 0, 0, 2]);
const MACS = [new Uint8Array([2, 0, 0, 0, 0, 0x11]), new Uint8Array([2, 0, 0, 0, 0, 0x12])];

/** An ACK from 10.77.0.10:`sport` to VIP:`dport` with a 10-byte payload (IP length 50). */
function ack(sport: number, dport = 80): Uint8Array {
  const b = new Uint8Array(64);
  const v = new DataView(b.buffer);
  b.set(OUR_MAC, 0);
  v.setUint16(12, 0x0800);
  v.setUint8(14, 0x45);
  v.setUint16(16, 50);
  v.setUint8(23, 6);
  v.setUint32(26, ipv4ToInt("10.77.0.10"));
  v.setUint32(30, ipv4ToInt(VIP));
  v.setUint16(34, sport);
  v.setUint16(36, dport);
  v.setUint8(46, 0x50);
  v.setUint8(47, TCP_ACK);
  return b;
}

const flow = (sport: number, dport = 80) => ({
  saddr: ipv4ToInt("10.77.0.10"),
  sport,
  daddr: ipv4ToInt(VIP),
  dport,
});

function setup() {
  const fp = DrFastPath.open({ maxFlows: 16, maxReals: 8 });
  const ctl = new ControlBlock();
  const offload = new FastPathOffload(fp, ctl, { srcMac: OUR_MAC, ifindex: 1 });
  const d = new Dispatcher({ maxConnections: 100 });
  d.offload = offload;
  d.configure([
    {
      vip: VIP,
      port: 80,
      method: "dr",
      scheduler: "rr",
      reals: [{ address: "10.77.0.11" }, { address: "10.77.0.12" }],
    },
    { vip: VIP, port: 81, method: "tun", scheduler: "rr", reals: [{ address: "10.77.0.13" }] },
  ]);
  const svcOf = new Int32Array(8).fill(-1);
  svcOf[0] = svcOf[1] = 0;
  svcOf[2] = 1;
  // Server 0 has a MAC, server 1 not yet; server 2 is TUN.
  const macs: (Uint8Array | undefined)[] = [MACS[0], undefined, MACS[1]];
  const target = (id: number) =>
    macs[id]
      ? { mac: macs[id]!, tun: id === 2 ? { source: 0x0a4d0002, dest: 0x0a4d000d, maxInnerBytes: 1480 } : undefined }
      : undefined;
  offload.syncReals(d, target, svcOf);
  return { fp, ctl, offload, d, macs, svcOf, target };
}

Deno.test({
  ...await requires("FastPathOffload installs established DR flows after the batch, to a slot with the server's MAC", {
    root: true,
  }),
  fn() {
    const { fp, ctl, offload, d } = setup();
    try {
      const id = d.schedule(flow(1000), TCP_SYN, 0)!;
      assertEquals(id, 0);
      d.schedule(flow(1000), TCP_ACK, 1);
      assertEquals(fp.run(ack(1000)).verdict, TCX_NEXT); // queued, not yet written
      offload.flush();
      const r = fp.run(ack(1000));
      assertEquals(r.verdict, TCX_REDIRECT);
      assertEquals([...r.frame.subarray(0, 12)], [...MACS[0], ...OUR_MAC]);
      assertEquals(ctl.counters[GLOBAL.fastPathFlows], 1);
      assertEquals(ctl.counters[GLOBAL.fastPathInstalls], 1);
      const seen = offload.lastSeenMs(d.table, d.table.lookup(flow(1000).saddr, flow(1000).daddr, 1000 << 16 | 80));
      assert(Math.abs(seen - Date.now()) < 1000, `last seen ${seen} vs now ${Date.now()}`);
    } finally {
      offload.close();
    }
  },
});

Deno.test({
  ...await requires("FastPathOffload skips an install whose flow ended in the same batch; TUN flows are encapsulated", {
    root: true,
  }),
  fn() {
    const { fp, ctl, offload, d } = setup();
    try {
      d.schedule(flow(1001), TCP_ACK, 0); // sloppy: ESTABLISHED, queued
      d.schedule(flow(1001), TCP_FIN | TCP_ACK, 1); // ends before the flush
      d.schedule(flow(1002, 81), TCP_ACK, 1); // TUN server
      offload.flush();
      assertEquals(fp.flow(flow(1001).saddr, flow(1001).daddr, 1001, 80), undefined);
      assertEquals(fp.flow(flow(1002).saddr, flow(1002).daddr, 1002, 81)?.slot, 2);
      assertEquals(ctl.counters[GLOBAL.fastPathInstalls], 1);
      const frame = ack(1002, 81);
      frame[20] = 0x40; // DF
      const r = fp.run(frame);
      assertEquals(r.verdict, TCX_REDIRECT);
      assertEquals([...r.frame.subarray(14, 16), ...r.frame.subarray(26, 34)], [0x45, 0, 10, 77, 0, 2, 10, 77, 0, 13]);
    } finally {
      offload.close();
    }
  },
});

Deno.test({
  ...await requires(
    "FastPathOffload passes a server's flows to user space until its MAC is known, then forwards them",
    { root: true },
  ),
  fn() {
    const { fp, offload, d, macs, svcOf, target } = setup();
    try {
      d.schedule(flow(1003), TCP_ACK, 0); // rr: server 0
      d.schedule(flow(1004), TCP_ACK, 0); // rr: server 1, MAC unknown
      offload.flush();
      assertEquals(fp.run(ack(1004)).verdict, TCX_NEXT);
      macs[1] = MACS[1];
      offload.syncReals(d, target, svcOf);
      assertEquals(fp.run(ack(1004)).verdict, TCX_REDIRECT);
      // A server marked down passes its flows to user space again.
      d.setHealth(1, false);
      offload.syncReals(d, target, svcOf);
      assertEquals(fp.run(ack(1004)).verdict, TCX_NEXT);
      assertEquals(fp.run(ack(1003)).verdict, TCX_REDIRECT);
    } finally {
      offload.close();
    }
  },
});

Deno.test({
  ...await requires(
    "FastPathOffload.fold() adds the kernel's packets to the real, service, dispatcher and global counters",
    { root: true },
  ),
  fn() {
    const { ctl, fp, offload, d } = setup();
    try {
      d.schedule(flow(1005), TCP_ACK, 0);
      offload.flush();
      for (let i = 0; i < 3; i++) assertEquals(fp.run(ack(1005)).verdict, TCX_REDIRECT);
      offload.fold(d);
      const C = ctl.counters;
      assertEquals([C[ctl.realIndex(0, REAL.packets)], C[ctl.realIndex(0, REAL.bytes)]], [3, 150]);
      assertEquals([C[ctl.serviceIndex(0, SVC.packets)], C[ctl.serviceIndex(0, SVC.bytes)]], [3, 150]);
      assertEquals([C[GLOBAL.fastPathPackets], C[GLOBAL.fastPathBytes]], [3, 150]);
      assertEquals([d.server(0)!.inPkts, d.server(0)!.inBytes], [3, 150]);
      offload.fold(d); // nothing new: nothing added
      assertEquals(C[GLOBAL.fastPathPackets], 3);
      assertEquals(C[GLOBAL.fastPathActive], 1);
    } finally {
      offload.close();
    }
    assertEquals(ctl.counters[GLOBAL.fastPathActive], 0);
  },
});

/** A SYN from `client`:40000 to VIP:80. */
function syn(client: string): Uint8Array {
  const b = ack(40000);
  new DataView(b.buffer).setUint32(26, ipv4ToInt(client));
  b[47] = TCP_SYN;
  return b;
}

Deno.test({
  ...await requires(
    "FastPathOffload gives the kernel an mh service's table; kernel-scheduled SYNs go where user space would",
    { root: true },
  ),
  fn() {
    const fp = DrFastPath.open({ maxFlows: 64, maxReals: 8 });
    try {
      const ctl = new ControlBlock();
      const offload = new FastPathOffload(fp, ctl, { srcMac: OUR_MAC, ifindex: 1 });
      const d = new Dispatcher({ maxConnections: 100 });
      d.offload = offload;
      d.configure([
        {
          vip: VIP,
          port: 80,
          method: "dr",
          scheduler: "mh",
          reals: [{ address: "10.77.0.11" }, { address: "10.77.0.12" }],
        },
        { vip: VIP, port: 81, method: "dr", scheduler: "rr", reals: [{ address: "10.77.0.13" }] },
      ]);
      offload.syncReals(d, (id) => ({ mac: MACS[id % 2] }), new Int32Array(8).fill(-1));
      offload.syncServices(d);
      const svc = d.services[0];
      const clients = ["10.1.0.1", "10.1.0.2", "10.1.0.3", "10.1.0.4", "10.1.0.5", "10.1.0.6"];
      const want = new Set<number>();
      for (const c of clients) {
        const f = { saddr: ipv4ToInt(c), sport: 40000, daddr: ipv4ToInt(VIP), dport: 80 };
        const id = svc.scheduler.schedule(svc.eligible, f, 0)!.id;
        want.add(id);
        const r = fp.run(syn(c));
        assertEquals(r.verdict, TCX_REDIRECT, c);
        assertEquals([...r.frame.subarray(0, 6)], [...MACS[id % 2]], `${c} to server ${id}`);
      }
      assertEquals(want.size, 2, "the clients cover both servers");
      assertEquals(offload.adoptNewFlows(d, 0), clients.length);
      assertEquals(d.table.size, clients.length);
      assertEquals(ctl.counters[GLOBAL.kernelScheduled], clients.length);
      // The FIN reaches user space: same server, and the kernel's flow goes.
      const f0 = { saddr: ipv4ToInt(clients[0]), sport: 40000, daddr: ipv4ToInt(VIP), dport: 80 };
      d.schedule(f0, TCP_FIN | TCP_ACK, 1);
      assertEquals(fp.flow(f0.saddr, f0.daddr, 40000, 80), undefined);
      // A FIN that passes in the kernel: recorded, applied to the entry, which leaves the fast path.
      const fin = syn(clients[1]);
      fin[47] = TCP_FIN | TCP_ACK;
      assertEquals(fp.run(fin).verdict, TCX_REDIRECT);
      assertEquals(offload.adoptNewFlows(d, 2), 1);
      assertEquals(ctl.counters[GLOBAL.kernelEnded], 1);
      const f1 = { saddr: ipv4ToInt(clients[1]), daddr: ipv4ToInt(VIP) };
      assertEquals(fp.flow(f1.saddr, f1.daddr, 40000, 80), undefined);
      const slot1 = d.table.lookup(f1.saddr, f1.daddr, ((40000 << 16) | 80) >>> 0);
      assert(slot1 >= 0 && d.table.state(slot1) !== TcpState.ESTABLISHED, "the entry moved on from ESTABLISHED");
      // Several ends in one drain leave the kernel together (one batched delete), each counted once.
      const flowsBefore = ctl.counters[GLOBAL.fastPathFlows];
      for (const c of clients.slice(2)) {
        const b = syn(c);
        b[47] = TCP_FIN | TCP_ACK;
        assertEquals(fp.run(b).verdict, TCX_REDIRECT, c);
      }
      assertEquals(offload.adoptNewFlows(d, 3), clients.length - 2);
      for (const c of clients.slice(2)) assertEquals(fp.flow(ipv4ToInt(c), ipv4ToInt(VIP), 40000, 80), undefined, c);
      assertEquals(ctl.counters[GLOBAL.fastPathFlows], flowsBefore - (clients.length - 2));
      // A server taken down loses its slots; kernel scheduling off (HA standby) passes every SYN on.
      d.setHealth(0, false);
      offload.syncServices(d);
      for (const c of clients) {
        const f = { saddr: ipv4ToInt(c), sport: 40001, daddr: ipv4ToInt(VIP), dport: 80 };
        const b = syn(c);
        new DataView(b.buffer).setUint16(34, 40001);
        const id = svc.scheduler.schedule(svc.eligible, f, 0)?.id;
        assertEquals(fp.run(b).verdict, id === 1 ? TCX_REDIRECT : TCX_NEXT, c);
      }
      offload.syncServices(d, false);
      assertEquals(fp.run(syn("10.1.0.9")).verdict, TCX_NEXT);
      // The rr service never reaches the kernel's scheduler.
      const rr = syn("10.1.0.1");
      new DataView(rr.buffer).setUint16(36, 81);
      offload.syncServices(d);
      assertEquals(fp.run(rr).verdict, TCX_NEXT);
    } finally {
      fp.close();
    }
  },
});
