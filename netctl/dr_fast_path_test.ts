import { assert, assertEquals, assertThrows } from "../tests/_assert.ts";
import { ipv4ToInt } from "../core/addr.ts";
import { DrFastPath, type KernelNewFlow, writeFlowKey } from "./dr_fast_path.ts";
import { FLOW_KEY_BYTES, MAGLEV_HASH_VECTORS, MAGLEV_TABLE_SIZE } from "./dr_fast_path_program.ts";
import { TCX_NEXT, TCX_REDIRECT } from "./ebpf_asm.ts";
import { monotonicNs } from "./ebpf.ts";
import { requires } from "../tests/_requires.ts";

const DIRECTOR_MAC = [0x02, 0, 0, 0, 0, 0x02];
const RS_MAC = [0x02, 0, 0, 0, 0, 0x11];
const CLIENT = "10.77.0.10";
const VIP = "10.77.0.100";
const ACK = 0x10, SYN = 0x02, FIN = 0x01, RST = 0x04, PSH = 0x08;

/**
 * A client → VIP TCP frame as it arrives at the director (checksums are not looked at).
 *
 * ```text
 * Ethernet: dst = director, src = client, 0800 | IPv4 (IHL words, flags/frag) | TCP ports, flags | payload
 * ```
 */
function frame(
  o: {
    flags?: number;
    dst?: string;
    src?: string;
    sport?: number;
    ihl?: number;
    frag?: number;
    proto?: number;
    payload?: number;
  },
) {
  const ihl = o.ihl ?? 5;
  const payload = o.payload ?? 10;
  const ipLen = ihl * 4 + 20 + payload;
  const b = new Uint8Array(14 + ipLen);
  const v = new DataView(b.buffer);
  b.set(DIRECTOR_MAC, 0);
  b.set([0x02, 0, 0, 0, 0, 0x10], 6);
  v.setUint16(12, 0x0800);
  v.setUint8(14, 0x40 | ihl);
  v.setUint16(16, ipLen);
  v.setUint16(20, o.frag ?? 0x4000); // DF
  v.setUint8(22, 64);
  v.setUint8(23, o.proto ?? 6);
  v.setUint32(26, ipv4ToInt(o.src ?? CLIENT));
  v.setUint32(30, ipv4ToInt(o.dst ?? VIP));
  const t = 14 + ihl * 4;
  v.setUint16(t, o.sport ?? 40000);
  v.setUint16(t + 2, 80);
  v.setUint8(t + 12, 0x50);
  v.setUint8(t + 13, o.flags ?? ACK);
  return b;
}

function withFastPath(fn: (fp: DrFastPath) => void) {
  const fp = DrFastPath.open({ maxFlows: 64, maxReals: 4 });
  try {
    fn(fp);
  } finally {
    fp.close();
  }
}

const REAL = { dstMac: new Uint8Array(RS_MAC), srcMac: new Uint8Array(DIRECTOR_MAC), ifindex: 7 };

Deno.test({
  ...await requires("DrFastPath redirects a known flow's packet with the real server's MAC and counts it", {
    root: true,
  }),
  fn() {
    withFastPath((fp) => {
      fp.setReal(2, REAL);
      assertEquals(fp.addFlow(ipv4ToInt(CLIENT), ipv4ToInt(VIP), 40000, 80, 2), 0);
      const before = monotonicNs();
      const input = frame({ flags: ACK | PSH, payload: 100 });
      const r = fp.run(input);
      assertEquals(r.verdict, TCX_REDIRECT);
      const expected = new Uint8Array(input);
      expected.set(RS_MAC, 0);
      expected.set(DIRECTOR_MAC, 6);
      assertEquals(r.frame, expected);
      const f = fp.flow(ipv4ToInt(CLIENT), ipv4ToInt(VIP), 40000, 80)!;
      assertEquals([f.slot, f.packets, f.bytes], [2, 1, 140]);
      // The program stamps with the coarse clock (CLOCK_MONOTONIC_COARSE: the last tick, at most a jiffy behind).
      const tick = 20e6;
      assert(f.lastSeenNs >= before - tick && f.lastSeenNs <= monotonicNs(), `last seen ${f.lastSeenNs}`);
      assert(f.lastSeenNs > 0, "stamped");
      fp.run(input);
      assertEquals(fp.realCounters(2), { packets: 2, bytes: 280 });
      assertEquals(fp.realCounters(1), { packets: 0, bytes: 0 });
    });
  },
});

Deno.test({
  ...await requires("DrFastPath with redirectPeer is accepted by the kernel and redirects a known flow's packet", {
    root: true,
  }),
  fn() {
    const fp = DrFastPath.open({ maxFlows: 8, maxReals: 4, redirectPeer: true });
    try {
      fp.setReal(2, REAL);
      fp.addFlow(ipv4ToInt(CLIENT), ipv4ToInt(VIP), 40000, 80, 2);
      const r = fp.run(frame({ flags: ACK }));
      assertEquals(r.verdict, TCX_REDIRECT);
      assertEquals([...r.frame.subarray(0, 12)], [...RS_MAC, ...DIRECTOR_MAC]);
    } finally {
      fp.close();
    }
  },
});

const PASSED: { description: string; frame: Uint8Array; setup?: "no-flow" | "invalid" | "deleted" }[] = [
  { description: "a SYN", frame: frame({ flags: SYN }) },
  { description: "a FIN", frame: frame({ flags: FIN | ACK }) },
  { description: "a RST", frame: frame({ flags: RST }) },
  { description: "an unknown flow", frame: frame({}), setup: "no-flow" },
  { description: "a flow whose real slot is invalid", frame: frame({}), setup: "invalid" },
  { description: "a flow that was deleted", frame: frame({}), setup: "deleted" },
  { description: "another destination (not the VIP)", frame: frame({ dst: "10.77.0.101" }) },
  { description: "IHL 6 (IP options)", frame: frame({ ihl: 6 }) },
  { description: "a first fragment (MF)", frame: frame({ frag: 0x2000 }) },
  { description: "a later fragment (offset)", frame: frame({ frag: 0x0010 }) },
  { description: "UDP", frame: frame({ proto: 17 }) },
  { description: "a frame too short for TCP", frame: frame({}).subarray(0, 40) },
];

for (const c of PASSED) {
  Deno.test({
    ...await requires(`DrFastPath passes ${c.description} on to user space unchanged`, { root: true }),
    fn() {
      withFastPath((fp) => {
        fp.setReal(2, REAL);
        if (c.setup === "invalid") fp.setReal(2, undefined);
        if (c.setup !== "no-flow") fp.addFlow(ipv4ToInt(CLIENT), ipv4ToInt(VIP), 40000, 80, 2);
        if (c.setup === "deleted") assert(fp.deleteFlow(ipv4ToInt(CLIENT), ipv4ToInt(VIP), 40000, 80));
        const r = fp.run(c.frame);
        assertEquals(r.verdict, TCX_NEXT);
        assertEquals(r.frame, new Uint8Array(c.frame));
        assertEquals(fp.realCounters(2), { packets: 0, bytes: 0 });
      });
    },
  });
}

const TUN_REAL = {
  ...REAL,
  tun: { source: ipv4ToInt("10.77.0.2"), dest: ipv4ToInt("10.77.0.11"), maxInnerBytes: 1480 },
};

/** RFC 1071 checksum of an IPv4 header. */
function headerChecksum(h: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < h.length; i += 2) sum += (h[i] << 8) | h[i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

Deno.test({
  ...await requires(
    "DrFastPath encapsulates a TUN flow's packet in IP-in-IP with a correct outer header and redirects it",
    { root: true },
  ),
  fn() {
    withFastPath((fp) => {
      fp.setReal(3, TUN_REAL);
      fp.addFlow(ipv4ToInt(CLIENT), ipv4ToInt(VIP), 40000, 80, 3);
      const input = frame({ flags: ACK | PSH, payload: 1440 }); // IP length 1480: just fits
      input[15] = 0x28; // TOS, copied to the outer header
      const r = fp.run(input);
      assertEquals(r.verdict, TCX_REDIRECT);
      assertEquals(r.frame.length, input.length + 20);
      assertEquals([...r.frame.subarray(0, 14)], [...RS_MAC, ...DIRECTOR_MAC, 0x08, 0x00]);
      const outer = r.frame.subarray(14, 34);
      // 45 28 | 05dc | 0000 | 4000 | 40 04 | csum | 10.77.0.2 | 10.77.0.11
      const expected = new Uint8Array([
        0x45,
        0x28,
        0x05,
        0xdc,
        0,
        0,
        0x40,
        0,
        64,
        4,
        0,
        0,
        10,
        77,
        0,
        2,
        10,
        77,
        0,
        11,
      ]);
      const csum = headerChecksum(expected);
      expected[10] = csum >> 8;
      expected[11] = csum & 0xff;
      assertEquals(outer, expected);
      assertEquals(headerChecksum(outer), 0);
      assertEquals(r.frame.subarray(34), input.subarray(14));
      assertEquals(fp.realCounters(3), { packets: 1, bytes: 1480 });
    });
  },
});

for (
  const c of [
    { description: "a TUN packet without DF (user space fragments it)", frame: frame({ frag: 0 }) },
    { description: "a TUN packet too big for the tunnel (frag-needed)", frame: frame({ payload: 1441 }) },
  ]
) {
  Deno.test({
    ...await requires(`DrFastPath passes ${c.description} on to user space unchanged`, { root: true }),
    fn() {
      withFastPath((fp) => {
        fp.setReal(3, TUN_REAL);
        fp.addFlow(ipv4ToInt(CLIENT), ipv4ToInt(VIP), 40000, 80, 3);
        const r = fp.run(c.frame);
        assertEquals(r.verdict, TCX_NEXT);
        assertEquals(r.frame, new Uint8Array(c.frame));
        assertEquals(fp.realCounters(3), { packets: 0, bytes: 0 });
      });
    },
  });
}

Deno.test({
  ...await requires("DrFastPath.deleteFlows() removes many flows in one call and skips absent ones", { root: true }),
  fn() {
    withFastPath((fp) => {
      for (let port = 1; port <= 5; port++) assertEquals(fp.addFlow(1, 2, port, 80, 0), 0);
      const keys = new Uint8Array(6 * FLOW_KEY_BYTES);
      const v = new DataView(keys.buffer);
      // ports 1, 2, 9 (absent), 4, 5, 4 (deleted already)
      [1, 2, 9, 4, 5, 4].forEach((sport, i) =>
        writeFlowKey(v, i * FLOW_KEY_BYTES, { saddr: 1, daddr: 2, sport, dport: 80 })
      );
      assertEquals(fp.deleteFlows(keys, 6), 4);
      assertEquals([1, 2, 3, 4, 5].map((port) => fp.flow(1, 2, port, 80) !== undefined), [
        false,
        false,
        true,
        false,
        false,
      ]);
      assertEquals(fp.deleteFlows(keys, 0), 0);
    });
  },
});

Deno.test({
  ...await requires("DrFastPath reports a full flow map and a flow installed twice, and rejects slots out of range", {
    root: true,
  }),
  fn() {
    const fp = DrFastPath.open({ maxFlows: 2, maxReals: 4 });
    try {
      assertEquals(fp.addFlow(1, 2, 3, 80, 0), 0);
      assertEquals(fp.addFlow(1, 2, 4, 80, 0), 0);
      assertEquals(fp.addFlow(1, 2, 4, 80, 1), 17); // EEXIST: moved to slot 1, still one entry
      assertEquals(fp.flow(1, 2, 4, 80)?.slot, 1);
      assertEquals(fp.addFlow(1, 2, 5, 80, 0), 7); // E2BIG
      assertEquals(fp.flow(1, 2, 5, 80), undefined);
      assertEquals(fp.deleteFlow(1, 2, 5, 80), false);
      assertThrows(() => fp.setReal(4, REAL), RangeError, "slots are 0..3");
    } finally {
      fp.close();
    }
  },
});

Deno.test({
  ...await requires(
    "DrFastPath schedules a SYN to an mh service from its Maglev table (the vectors' hash), records and forwards it",
    { root: true },
  ),
  fn() {
    const fp = DrFastPath.open({ maxFlows: 64, maxReals: 16 });
    try {
      const macOf = (slot: number) => [0x02, 0, 0, 0, 0, 0x20 + slot];
      const owners = new Int32Array(MAGLEV_TABLE_SIZE).fill(-1);
      MAGLEV_HASH_VECTORS.forEach((v, k) => {
        fp.setReal(k + 1, { ...REAL, dstMac: new Uint8Array(macOf(k + 1)) });
        owners[v.slot] = k + 1;
      });
      fp.setService(ipv4ToInt(VIP), 80, 2, owners);
      const drained = () => {
        const got: KernelNewFlow[] = [];
        fp.drainNewFlows((f) => got.push({ ...f }));
        return got;
      };
      MAGLEV_HASH_VECTORS.forEach((v, k) => {
        const input = frame({ flags: SYN, src: v.saddr, payload: 0 });
        const r = fp.run(input);
        assertEquals(r.verdict, TCX_REDIRECT, `SYN from ${v.saddr}`);
        assertEquals([...r.frame.subarray(0, 12)], [...macOf(k + 1), ...DIRECTOR_MAC], `SYN from ${v.saddr}`);
        const f = fp.flow(ipv4ToInt(v.saddr), ipv4ToInt(VIP), 40000, 80)!;
        assertEquals([f.slot, f.packets, f.bytes], [k + 1, 1, 40]);
        // The rest of the flow follows the entry the SYN made.
        assertEquals(fp.run(frame({ flags: ACK, src: v.saddr })).verdict, TCX_REDIRECT);
      });
      assertEquals(
        drained(),
        MAGLEV_HASH_VECTORS.map((v, k) => ({
          saddr: ipv4ToInt(v.saddr),
          daddr: ipv4ToInt(VIP),
          sport: 40000,
          dport: 80,
          slot: k + 1,
          kind: 0,
        })),
      );
      assertEquals(drained(), [], "each record is read once");
      // The end of a flow scheduled here passes here too, recorded with its flags.
      const v0 = MAGLEV_HASH_VECTORS[1];
      assertEquals(fp.run(frame({ flags: FIN | ACK, src: v0.saddr })).verdict, TCX_REDIRECT);
      assertEquals(fp.run(frame({ flags: RST, src: MAGLEV_HASH_VECTORS[3].saddr })).verdict, TCX_REDIRECT);
      assertEquals(drained().map((f) => [f.saddr, f.slot, f.kind]), [
        [ipv4ToInt(v0.saddr), 2, FIN],
        [ipv4ToInt(MAGLEV_HASH_VECTORS[3].saddr), 4, RST],
      ]);
      // A flow user space installed keeps its FIN in user space.
      fp.addFlow(ipv4ToInt("10.8.8.8"), ipv4ToInt(VIP), 40000, 80, 1);
      assertEquals(fp.run(frame({ flags: FIN | ACK, src: "10.8.8.8" })).verdict, TCX_NEXT);

      const v = MAGLEV_HASH_VECTORS[2];
      const passed = (why: string, f: Uint8Array) => {
        const r = fp.run(f);
        assertEquals(r.verdict, TCX_NEXT, why);
        assertEquals(r.frame, new Uint8Array(f), why);
      };
      passed("a SYN+ACK", frame({ flags: SYN | ACK, src: v.saddr, sport: 40001 }));
      passed("a SYN to another port", frame({ flags: SYN, src: v.saddr, sport: 40001, dst: "10.77.0.101" }));
      passed("a SYN whose slot has no owner", frame({ flags: SYN, src: "10.9.9.9", sport: 40001 }));
      fp.setReal(3, undefined);
      passed("a SYN whose owner is invalid", frame({ flags: SYN, src: v.saddr, sport: 40001 }));
      fp.setReal(3, { ...REAL, tun: { source: 1, dest: 2, maxInnerBytes: 1480 } });
      passed("a SYN without DF whose owner is TUN", frame({ flags: SYN, src: v.saddr, sport: 40001, frag: 0 }));
      fp.setReal(3, { ...REAL, tun: { source: 1, dest: 2, maxInnerBytes: 40 } });
      passed("a SYN too long for its TUN owner's tunnel", frame({ flags: SYN, src: v.saddr, sport: 40001 }));
      fp.setReal(3, REAL);
      fp.setService(ipv4ToInt(VIP), 80, 2, undefined);
      passed("a SYN once the service is off", frame({ flags: SYN, src: v.saddr, sport: 40001 }));
      assertEquals(fp.flow(ipv4ToInt(v.saddr), ipv4ToInt(VIP), 40001, 80), undefined);
      assertEquals(drained(), []);
    } finally {
      fp.close();
    }
  },
});

Deno.test({
  ...await requires(
    "DrFastPath schedules a SYN to an mh service whose owner is TUN: encapsulated, recorded, its flow follows",
    { root: true },
  ),
  fn() {
    withFastPath((fp) => {
      fp.setReal(3, TUN_REAL);
      fp.setService(ipv4ToInt(VIP), 80, 0, new Int32Array(MAGLEV_TABLE_SIZE).fill(3));
      const syn = frame({ flags: SYN, payload: 0 });
      const r = fp.run(syn);
      assertEquals(r.verdict, TCX_REDIRECT);
      assertEquals([...r.frame.subarray(0, 14)], [...RS_MAC, ...DIRECTOR_MAC, 0x08, 0x00]);
      const outer = r.frame.subarray(14, 34);
      // 45 00 | 0040 (20 + 40) | 0000 | 4000 | 40 04 | csum | 10.77.0.2 | 10.77.0.11
      assertEquals([...outer.subarray(0, 10)], [0x45, 0, 0, 60, 0, 0, 0x40, 0, 64, 4]);
      assertEquals([...outer.subarray(12)], [10, 77, 0, 2, 10, 77, 0, 11]);
      assertEquals(headerChecksum(outer), 0);
      assertEquals(r.frame.subarray(34), syn.subarray(14));
      const got: KernelNewFlow[] = [];
      fp.drainNewFlows((f) => got.push({ ...f }));
      assertEquals(got.map((f) => [f.sport, f.slot, f.kind]), [[40000, 3, 0]]);
      // The handshake's ACK and the client's FIN follow the flow in the kernel, encapsulated too.
      const ack = fp.run(frame({ flags: ACK }));
      assertEquals([ack.verdict, ack.frame.length], [TCX_REDIRECT, syn.length + 10 + 20]);
      const fin = fp.run(frame({ flags: FIN | ACK, payload: 0 }));
      assertEquals([fin.verdict, fin.frame[23 + 20]], [TCX_REDIRECT, 6]);
      got.length = 0;
      fp.drainNewFlows((f) => got.push({ ...f }));
      assertEquals(got.map((f) => [f.sport, f.slot, f.kind]), [[40000, 3, FIN]]);
      assertEquals(fp.realCounters(3).packets, 3);
    });
  },
});

Deno.test({
  ...await requires("DrFastPath's new-flow ring buffer wraps: 60,000 kernel-scheduled SYNs read back in order", {
    root: true,
  }),
  fn() {
    const fp = DrFastPath.open({ maxFlows: 65536, maxReals: 4 });
    try {
      fp.setReal(1, REAL);
      fp.setService(ipv4ToInt(VIP), 80, 0, new Int32Array(MAGLEV_TABLE_SIZE).fill(1));
      let next = 0;
      const read = () =>
        fp.drainNewFlows((f) => {
          assertEquals([f.sport, f.slot], [1024 + next, 1], `record ${next}`);
          next++;
        });
      // The ring holds about 43,000 records: drain every 10,000, so the positions wrap around its end.
      for (let i = 0; i < 60_000; i++) {
        assertEquals(fp.run(frame({ flags: SYN, sport: 1024 + i, payload: 0 })).verdict, TCX_REDIRECT);
        if (i % 10_000 === 9_999) read();
      }
      read();
      assertEquals(next, 60_000);
    } finally {
      fp.close();
    }
  },
});

Deno.test({
  ...await requires("DrFastPath passes a SYN to user space (and keeps no flow) while the new-flow ring is full", {
    root: true,
  }),
  fn() {
    const fp = DrFastPath.open({ maxFlows: 65536, maxReals: 4 });
    try {
      fp.setReal(1, REAL);
      fp.setService(ipv4ToInt(VIP), 80, 0, new Int32Array(MAGLEV_TABLE_SIZE).fill(1));
      let i = 0;
      while (i < 60_000 && fp.run(frame({ flags: SYN, sport: 1024 + i, payload: 0 })).verdict === TCX_REDIRECT) i++;
      assert(i > 40_000 && i < 50_000, `the ring took ${i} records`);
      assertEquals(fp.flow(ipv4ToInt(CLIENT), ipv4ToInt(VIP), 1024 + i, 80), undefined);
      assertEquals(fp.drainNewFlows(() => {}), i);
      // Drained: the kernel schedules again.
      assertEquals(fp.run(frame({ flags: SYN, sport: 1024 + i, payload: 0 })).verdict, TCX_REDIRECT);
    } finally {
      fp.close();
    }
  },
});

/** `map_flags` of this process's hash maps with `maxEntries` entries, from /proc/self/fdinfo. */
function hashMapFlags(maxEntries: number): number[] {
  const flags: number[] = [];
  for (const e of Deno.readDirSync("/proc/self/fdinfo")) {
    let info: string;
    try {
      info = Deno.readTextFileSync(`/proc/self/fdinfo/${e.name}`);
    } catch {
      continue; // closed meanwhile
    }
    const field = (name: string) => info.match(new RegExp(`^${name}:\\s*(\\S+)`, "m"))?.[1];
    if (field("map_type") === "1" && field("max_entries") === String(maxEntries)) {
      flags.push(parseInt(field("map_flags")!, 16));
    }
  }
  return flags;
}

Deno.test({
  ...await requires("DrFastPath preallocates its flow map only when asked, and forwards the same either way", {
    root: true,
  }),
  fn() {
    for (const preallocate of [false, true]) {
      const fp = DrFastPath.open({ maxFlows: 4099, maxReals: 4, preallocate });
      try {
        assertEquals(hashMapFlags(4099), [preallocate ? 0 : 1], `preallocate ${preallocate}`); // BPF_F_NO_PREALLOC
        fp.setReal(2, REAL);
        fp.setService(ipv4ToInt(VIP), 80, 0, new Int32Array(MAGLEV_TABLE_SIZE).fill(2));
        assertEquals(fp.run(frame({ flags: SYN })).verdict, TCX_REDIRECT);
        assertEquals(fp.run(frame({ flags: ACK })).verdict, TCX_REDIRECT);
        assertEquals(fp.run(frame({ flags: FIN | ACK })).verdict, TCX_REDIRECT);
        const kinds: number[] = [];
        fp.drainNewFlows((f) => kinds.push(f.kind));
        assertEquals(kinds, [0, FIN]);
        const keys = new Uint8Array(FLOW_KEY_BYTES);
        writeFlowKey(new DataView(keys.buffer), 0, {
          saddr: ipv4ToInt(CLIENT),
          daddr: ipv4ToInt(VIP),
          sport: 40000,
          dport: 80,
        });
        assertEquals(fp.deleteFlows(keys, 1), 1);
        assertEquals(fp.flow(ipv4ToInt(CLIENT), ipv4ToInt(VIP), 40000, 80), undefined);
      } finally {
        fp.close();
      }
    }
  },
});
