/**
 * The director's in-kernel fast path: the program of `dr_fast_path_program.ts` with its maps,
 * loaded with bpf(2) and attached at tcx ingress of the director's interface. Packets of flows the
 * user-space forwarding loop has installed (established DR and TUN connections) get their MACs
 * rewritten (TUN: an outer IPv4 header added too, when they have DF and fit the tunnel) and leave
 * through `bpf_redirect()` without reaching user space; everything else goes on (TCX_NEXT) to the
 * loop's AF_PACKET socket. That socket is bound to ETH_P_IP, a `ptype_base` handler, which the
 * kernel runs after tcx ingress (`__netif_receive_skb_core`: ETH_P_ALL taps, then tcx/tc ingress,
 * then the type-specific handlers), so a redirected packet is never also received by the loop;
 * `tests/integration/dataplane_fast_path_test.ts` checks this.
 *
 * New connections of mh services (`setService`): the program itself picks the real server of a SYN from the
 * service's Maglev table, creates the flow and forwards it, and writes a record to a ring buffer that the
 * loop drains ({@link DrFastPath.drainNewFlows}) to enter the connection in its table afterwards.
 *
 * The maps and program are owned by the process through descriptors, and the attachment is a BPF
 * link: when the process closes them or ends (also with kill -9) the program is detached and
 * freed. Nothing is pinned.
 *
 * @module
 */
import {
  attachTcxIngress,
  BPF_F_NO_PREALLOC,
  BPF_MAP_TYPE,
  BPF_NOEXIST,
  BPF_PROG_TYPE_SCHED_CLS,
  bpfMapDelete,
  bpfMapDeleteBatch,
  bpfMapLookup,
  bpfMapUpdate,
  bpfMapUpdateBatch,
  closeBpfFd,
  createBpfMap,
  loadBpfProgram,
  possibleCpus,
  testRunBpf,
  timeBpfRun,
} from "./ebpf.ts";
import {
  drFastPathProgram,
  FAST_PATH_METHOD,
  FLOW_KEY_BYTES,
  FLOW_VALUE_BYTES,
  MAGLEV_TABLE_SIZE,
  NEW_FLOW_RECORD_BYTES,
  REAL_COUNTER_BYTES,
  REAL_OUTER_HEADER_OFFSET,
  REAL_VALUE_BYTES,
  SERVICE_KEY_BYTES,
} from "./dr_fast_path_program.ts";
import { interfaceInfo } from "./interface_info.ts";
import { BpfRingBuffer } from "./bpf_ring_buffer.ts";

/** mh services whose new connections the kernel can schedule at once. */
export const MAX_KERNEL_SERVICES = 16;
/** Bytes of the new-flow ring buffer (about 43,000 records between two drains). */
const NEW_FLOWS_RING_BYTES = 1 << 20;
import { OsError } from "./_libc.ts";

/** errno of {@link DrFastPath.addFlow} for a flow that was installed already. */
export const EEXIST = 17;
const ENOENT = 2;

/**
 * Writes a flow key (client address, VIP as u32; ports as on the wire) at `offset` of `view`, in the layout of the
 * program's `flows` map (network byte order), as {@link DrFastPath.deleteFlows} reads it.
 */
export function writeFlowKey(
  view: DataView,
  offset: number,
  flow: { saddr: number; daddr: number; sport: number; dport: number },
): void {
  view.setUint32(offset, flow.saddr >>> 0);
  view.setUint32(offset + 4, flow.daddr >>> 0);
  view.setUint16(offset + 8, flow.sport);
  view.setUint16(offset + 10, flow.dport);
}

/** Where packets of one real-server slot go. */
export interface FastPathReal {
  /** Destination MAC (the real server or its next hop). */
  dstMac: Uint8Array;
  /** Source MAC (the director's interface). */
  srcMac: Uint8Array;
  /** Egress interface index. */
  ifindex: number;
  /**
   * TUN: encapsulate in IP-in-IP from `source` (the director) to `dest` (the real server), both u32; inner packets
   * longer than `maxInnerBytes` (MTU − 20) or without DF go to user space. Absent: DR.
   */
  tun?: { source: number; dest: number; maxInnerBytes: number };
}

/** An installed flow as the kernel last saw it. */
export interface FastPathFlow {
  /** Real-server slot. */
  slot: number;
  /**
   * CLOCK_MONOTONIC ns of its last fast-path packet, as of the kernel's last tick (the program reads the coarse
   * clock: up to a jiffy behind `monotonicNs()`); 0: none yet.
   */
  lastSeenNs: number;
  /** Packets forwarded by the fast path. */
  packets: number;
  /** IP bytes forwarded by the fast path. */
  bytes: number;
}

/** Options of {@link DrFastPath.open}. */
export interface DrFastPathOptions {
  /** Interface to attach to (tcx ingress); absent: only load (for {@link DrFastPath.run}). */
  interface?: string;
  /** Most flows (the `flows` hash map, allocated on insert unless {@link preallocate}). */
  maxFlows: number;
  /**
   * Allocate all `maxFlows` flow entries at once (about 96 bytes each, kernel memory) instead of on insert:
   * cheaper inserts (SYNs) and deletes (ends), memory held whether used or not.
   */
  preallocate?: boolean;
  /** Real-server slots (`reals` array map). */
  maxReals: number;
  /**
   * Forward with `bpf_redirect_peer()` into the receive path of the interface's veth peer (only for a veth
   * whose peer is in another namespace: `vethPeerInOtherNamespace()`), else `bpf_redirect()` to its egress.
   */
  redirectPeer?: boolean;
}

/** A new connection the program scheduled (a `new_flows` record). */
export interface KernelNewFlow {
  /** Client address, VIP (u32) and ports. */
  saddr: number;
  daddr: number;
  sport: number;
  dport: number;
  /** The real-server slot it chose. */
  slot: number;
  /** 0: a new connection (its SYN); else the FIN (1) and RST (4) bits of the end of one the program scheduled. */
  kind: number;
}

/** The loaded (and possibly attached) fast path (see module doc). */
export class DrFastPath {
  /** Interface it is attached to, if any. */
  readonly interface: string | undefined;
  /** Real-server slots. */
  readonly maxReals: number;
  readonly #fds: number[];
  readonly #flows: number;
  readonly #reals: number;
  readonly #counters: number;
  readonly #prog: number;
  readonly #services: number;
  readonly #maglev: number;
  readonly #ring: BpfRingBuffer;
  readonly #newFlow: KernelNewFlow = { saddr: 0, daddr: 0, sport: 0, dport: 0, slot: 0, kind: 0 };
  readonly #key = new Uint8Array(FLOW_KEY_BYTES);
  readonly #keyView = new DataView(this.#key.buffer);
  readonly #flowValue = new Uint8Array(FLOW_VALUE_BYTES);
  readonly #flowView = new DataView(this.#flowValue.buffer);
  readonly #slot = new Uint8Array(4);
  readonly #slotView = new DataView(this.#slot.buffer);
  readonly #realValue = new Uint8Array(REAL_VALUE_BYTES);
  readonly #realView = new DataView(this.#realValue.buffer);
  readonly #counterValue = new Uint8Array(REAL_COUNTER_BYTES * possibleCpus());
  readonly #counterView = new DataView(this.#counterValue.buffer);

  private constructor(opts: DrFastPathOptions, fds: number[], ring: BpfRingBuffer) {
    this.interface = opts.interface;
    this.maxReals = opts.maxReals;
    this.#fds = fds;
    [this.#flows, this.#reals, this.#counters, this.#services, this.#maglev, , this.#prog] = fds;
    this.#ring = ring;
  }

  /**
   * Creates the maps, loads the program and attaches it.
   *
   * @throws {OsError} when the kernel refuses (no BPF, no tcx, no privileges, verifier); nothing is left then
   */
  static open(opts: DrFastPathOptions): DrFastPath {
    const fds: number[] = [];
    let ring: BpfRingBuffer | undefined;
    try {
      fds.push(createBpfMap({
        type: BPF_MAP_TYPE.hash,
        keyBytes: FLOW_KEY_BYTES,
        valueBytes: FLOW_VALUE_BYTES,
        maxEntries: opts.maxFlows,
        // Preallocated: inserts take a free element and deletes return it, without the on-demand allocator's
        // refills and RCU frees (in this VM: SYN 35 ns, user-space delete 0.5 µs cheaper per connection).
        flags: opts.preallocate ? 0 : BPF_F_NO_PREALLOC,
        name: "wc_dr_flows",
      }));
      fds.push(createBpfMap({
        type: BPF_MAP_TYPE.array,
        keyBytes: 4,
        valueBytes: REAL_VALUE_BYTES,
        maxEntries: opts.maxReals,
        name: "wc_dr_reals",
      }));
      // Per CPU: every forwarded packet adds to its real's counters, from whichever CPU's softirq sends it; one
      // shared value would bounce its cache line between the CPUs on each packet.
      fds.push(createBpfMap({
        type: BPF_MAP_TYPE.percpuArray,
        keyBytes: 4,
        valueBytes: REAL_COUNTER_BYTES,
        maxEntries: opts.maxReals,
        name: "wc_dr_rcount",
      }));
      fds.push(createBpfMap({
        type: BPF_MAP_TYPE.hash,
        keyBytes: SERVICE_KEY_BYTES,
        valueBytes: 4,
        maxEntries: MAX_KERNEL_SERVICES,
        name: "wc_dr_svcs",
      }));
      fds.push(createBpfMap({
        type: BPF_MAP_TYPE.array,
        keyBytes: 4,
        valueBytes: 4,
        maxEntries: MAX_KERNEL_SERVICES * MAGLEV_TABLE_SIZE,
        name: "wc_dr_maglev",
      }));
      fds.push(createBpfMap({
        type: BPF_MAP_TYPE.ringbuf,
        keyBytes: 0,
        valueBytes: 0,
        maxEntries: NEW_FLOWS_RING_BYTES,
        name: "wc_dr_newflows",
      }));
      const insns = drFastPathProgram({
        flows: fds[0],
        reals: fds[1],
        realCounters: fds[2],
        services: fds[3],
        maglev: fds[4],
        newFlows: fds[5],
      }, { redirectPeer: opts.redirectPeer });
      fds.push(loadBpfProgram({ type: BPF_PROG_TYPE_SCHED_CLS, insns, name: "webcache_dr" }));
      ring = BpfRingBuffer.open(fds[5], NEW_FLOWS_RING_BYTES);
      if (opts.interface) fds.push(attachTcxIngress(fds[6], interfaceInfo(opts.interface).index, opts.interface));
      return new DrFastPath(opts, fds, ring);
    } catch (e) {
      ring?.close();
      for (const fd of fds.reverse()) closeBpfFd(fd);
      throw e;
    }
  }

  /**
   * Sets where a slot's packets go, or makes the slot pass its packets to user space (`undefined`).
   *
   * @throws {RangeError} for a slot outside `0 .. maxReals - 1`
   * @throws {OsError} when the kernel refuses
   */
  setReal(slot: number, real: FastPathReal | undefined): void {
    this.#checkSlot(slot);
    this.#realValue.fill(0);
    if (real) {
      this.#realValue.set(real.dstMac.subarray(0, 6), 0);
      this.#realValue.set(real.srcMac.subarray(0, 6), 6);
      this.#realView.setUint32(12, real.ifindex, true);
      this.#realView.setUint32(16, 1, true);
      if (real.tun) {
        const v = this.#realView, h = REAL_OUTER_HEADER_OFFSET;
        v.setUint32(20, FAST_PATH_METHOD.tun, true);
        v.setUint32(24, real.tun.maxInnerBytes, true);
        // 45 00 | tot_len 0 | id 0 | DF | TTL 64, proto 4 | checksum 0 | source | destination
        v.setUint16(h, 0x4500);
        v.setUint16(h + 6, 0x4000);
        v.setUint16(h + 8, 0x4004);
        v.setUint32(h + 12, real.tun.source >>> 0);
        v.setUint32(h + 16, real.tun.dest >>> 0);
        let sum = 0;
        for (let k = 0; k < 20; k += 2) sum += v.getUint16(h + k);
        v.setUint32(28, sum, true);
      }
    }
    this.#slotView.setUint32(0, slot, true);
    const err = bpfMapUpdate(this.#reals, this.#slot, this.#realValue);
    if (err) throw new OsError(`Cannot set fast-path real slot ${slot}`, err);
  }

  /**
   * Packets and IP bytes the fast path forwarded to a slot since it was loaded.
   *
   * @throws {RangeError} for a slot out of range
   */
  realCounters(slot: number): { packets: number; bytes: number } {
    this.#checkSlot(slot);
    this.#slotView.setUint32(0, slot, true);
    bpfMapLookup(this.#counters, this.#slot, this.#counterValue);
    const v = this.#counterView;
    let packets = 0n, bytes = 0n;
    for (let off = 0; off < v.byteLength; off += REAL_COUNTER_BYTES) {
      packets += v.getBigUint64(off, true);
      bytes += v.getBigUint64(off + 8, true);
    }
    return { packets: Number(packets), bytes: Number(bytes) };
  }

  #setKey(saddr: number, daddr: number, sport: number, dport: number): void {
    writeFlowKey(this.#keyView, 0, { saddr, daddr, sport, dport });
  }

  /**
   * Installs (or replaces) a flow: its later packets without SYN/FIN/RST go to `slot` in the kernel.
   *
   * @param saddr client address (u32), `daddr` the VIP, ports as on the wire
   * @returns 0 when added, EEXIST (17) when it was installed already (now pointing to `slot`), or the errno
   *   when the kernel refused (E2BIG: `maxFlows` reached)
   */
  addFlow(saddr: number, daddr: number, sport: number, dport: number, slot: number): number {
    this.#setKey(saddr, daddr, sport, dport);
    this.#flowValue.fill(0);
    this.#flowView.setUint32(0, slot, true);
    const err = bpfMapUpdate(this.#flows, this.#key, this.#flowValue, BPF_NOEXIST);
    if (err !== EEXIST) return err;
    const again = bpfMapUpdate(this.#flows, this.#key, this.#flowValue);
    return again === 0 ? EEXIST : again;
  }

  /**
   * Removes a flow (its packets go to user space again).
   *
   * @returns false when it was not installed
   */
  deleteFlow(saddr: number, daddr: number, sport: number, dport: number): boolean {
    this.#setKey(saddr, daddr, sport, dport);
    return bpfMapDelete(this.#flows, this.#key);
  }

  /**
   * Removes many flows in one bpf(2) call (BPF_MAP_DELETE_BATCH) instead of one call each; flows that are not
   * installed are skipped.
   *
   * @param keys `count` flow keys back to back, {@link FLOW_KEY_BYTES} each, as {@link writeFlowKey} writes them
   * @returns flows removed
   */
  deleteFlows(keys: Uint8Array, count: number): number {
    let done = 0, deleted = 0;
    while (done < count) {
      const r = bpfMapDeleteBatch(this.#flows, keys.subarray(done * FLOW_KEY_BYTES), count - done);
      deleted += r.deleted;
      done += r.deleted;
      if (r.err === 0) break;
      if (r.err === ENOENT) {
        done++; // absent: skip it
        continue;
      }
      // Batches refused (an old kernel): one call each.
      for (; done < count; done++) {
        if (bpfMapDelete(this.#flows, keys.subarray(done * FLOW_KEY_BYTES, (done + 1) * FLOW_KEY_BYTES))) deleted++;
      }
    }
    return deleted;
  }

  /**
   * Reads an installed flow.
   *
   * @returns its state, or undefined when it is not installed
   */
  flow(saddr: number, daddr: number, sport: number, dport: number): FastPathFlow | undefined {
    this.#setKey(saddr, daddr, sport, dport);
    if (!bpfMapLookup(this.#flows, this.#key, this.#flowValue)) return undefined;
    const v = this.#flowView;
    return {
      slot: v.getUint32(0, true),
      lastSeenNs: Number(v.getBigUint64(8, true)),
      packets: Number(v.getBigUint64(16, true)),
      bytes: Number(v.getBigUint64(24, true)),
    };
  }

  /**
   * Runs the program once on a frame in the kernel (BPF_PROG_TEST_RUN), without any interface: the
   * maps are used and updated as for a received frame, but nothing is sent.
   *
   * @returns the verdict (TCX_REDIRECT or TCX_NEXT) and the frame as the program left it
   */
  run(frame: Uint8Array): { verdict: number; frame: Uint8Array } {
    return testRunBpf(this.#prog, frame);
  }

  /**
   * Times the program in the kernel (BPF_PROG_TEST_RUN with `repeat`, see `timeBpfRun()`): `repeat` runs on one
   * skb, each seeing the frame and the maps as the run before left them.
   *
   * @returns the last verdict and the mean ns per run
   */
  timeRun(frame: Uint8Array, repeat: number): { verdict: number; ns: number } {
    return timeBpfRun(this.#prog, frame, repeat);
  }

  /**
   * Lets the program schedule new connections to `vip:port` from a Maglev table, or stops it (`owners`
   * undefined: SYNs go to user space again).
   *
   * @param index the service's table, 0 .. {@link MAX_KERNEL_SERVICES} − 1
   * @param owners per Maglev slot: the real slot that owns it, or −1 (user space decides for those clients);
   *   {@link MAGLEV_TABLE_SIZE} entries
   * @throws {RangeError} for a bad index or table size
   * @throws {OsError} when the kernel refuses
   */
  setService(vip: number, port: number, index: number, owners: Int32Array | undefined): void {
    if (!Number.isInteger(index) || index < 0 || index >= MAX_KERNEL_SERVICES) {
      throw new RangeError(`Cannot use kernel service table ${index}: tables are 0..${MAX_KERNEL_SERVICES - 1}`);
    }
    const key = new Uint8Array(SERVICE_KEY_BYTES);
    const kv = new DataView(key.buffer);
    kv.setUint32(0, vip >>> 0);
    kv.setUint16(4, port);
    if (!owners) {
      bpfMapDelete(this.#services, key);
      return;
    }
    if (owners.length !== MAGLEV_TABLE_SIZE) {
      throw new RangeError(`Cannot set a Maglev table of ${owners.length} entries: it has ${MAGLEV_TABLE_SIZE}`);
    }
    const keys = new Uint8Array(4 * MAGLEV_TABLE_SIZE);
    const values = new Uint8Array(4 * MAGLEV_TABLE_SIZE);
    const k = new DataView(keys.buffer), v = new DataView(values.buffer);
    const base = index * MAGLEV_TABLE_SIZE;
    for (let i = 0; i < MAGLEV_TABLE_SIZE; i++) {
      k.setUint32(4 * i, base + i, true);
      const o = owners[i];
      v.setUint32(4 * i, o >= 0 && o < this.maxReals ? o + 1 : 0, true);
    }
    const err = bpfMapUpdateBatch(this.#maglev, keys, values, MAGLEV_TABLE_SIZE);
    if (err) throw new OsError(`Cannot write kernel Maglev table ${index}`, err);
    const value = new Uint8Array(4);
    new DataView(value.buffer).setUint32(0, base, true);
    const e2 = bpfMapUpdate(this.#services, key, value);
    if (e2) throw new OsError(`Cannot enable kernel scheduling of service ${index}`, e2);
  }

  /**
   * Reads the records of the connections the program scheduled since the last call: each one's start (its
   * SYN), and its end (FIN or RST) when that passed here too.
   *
   * @param onFlow called per record, in the kernel's order (the object is reused: copy what you keep)
   * @returns records read
   */
  drainNewFlows(onFlow: (f: KernelNewFlow) => void): number {
    const f = this.#newFlow;
    return this.#ring.drain((d, off, len) => {
      if (len < NEW_FLOW_RECORD_BYTES) return;
      f.saddr = d.getUint32(off);
      f.daddr = d.getUint32(off + 4);
      f.sport = d.getUint16(off + 8);
      f.dport = d.getUint16(off + 10);
      const w = d.getUint32(off + 12, true);
      f.slot = w & 0xff_ffff;
      f.kind = w >>> 24;
      onFlow(f);
    });
  }

  /** Detaches the program and frees it with its maps. */
  close(): void {
    this.#ring.close();
    for (const fd of this.#fds.splice(0).reverse()) closeBpfFd(fd);
  }

  #checkSlot(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.maxReals) {
      throw new RangeError(`Cannot address fast-path real slot ${slot}: slots are 0..${this.maxReals - 1}`);
    }
  }
}
