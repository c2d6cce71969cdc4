/**
 * The forwarding Worker's {@link FlowOffload}: mirrors the dispatcher's established DR and TUN
 * flows into the in-kernel fast path (`netctl/dr_fast_path.ts`), keeps its real-server slots in step with the
 * loop's next hops, and folds the kernel's counters back into the shared counters.
 *
 * - Slots are the dispatcher's server ids. A slot is valid (forwarded in the kernel) while its
 *   server is configured, DR or TUN, up (health and membership) and its next hop's MAC is known; otherwise
 *   its flows' packets go on to the user-space loop, which handles them as it always did (drop for
 *   an unknown MAC or a removed server, forwarding otherwise). Marking a real dead or refreshing a
 *   MAC only rewrites the slot.
 * - Installs are queued during a receive batch and written after its frames are sent
 *   ({@link FastPathOffload.flush}), so a flow's packets already taken by the loop leave before
 *   the kernel starts forwarding the next ones. An install the kernel refuses (map full) only
 *   leaves the flow in user space.
 * - Counters: the kernel counts packets and IP bytes per slot; {@link FastPathOffload.fold} adds
 *   what is new to the per-real and per-service counters, the dispatcher's, and the global
 *   fast-path totals, so `director status --stats` counts every packet once.
 * - New connections in the kernel ({@link FastPathOffload.syncServices}): for an mh service whose servers
 *   are all DR or TUN, without persistence or connection thresholds, the kernel gets the service's Maglev table
 *   (server id per slot, only servers the scheduler may pick) and schedules SYNs itself; the loop enters
 *   those connections in its table from the kernel's records ({@link FastPathOffload.adoptNewFlows}), before
 *   it handles any frame it receives (so a flow's FIN never arrives before its entry). Such a flow's FIN or
 *   RST is forwarded in the kernel too and recorded; the loop applies it to the entry, which leaves the fast
 *   path. Other services keep the user-space path for SYNs, FINs and RSTs.
 *
 * @module
 */
import { monotonicNs } from "../../netctl/ebpf.ts";
import { type DrFastPath, EEXIST, MAX_KERNEL_SERVICES, writeFlowKey } from "../../netctl/dr_fast_path.ts";
import { MaglevHashing } from "../scheduler/mh.ts";
import { FLOW_KEY_BYTES, MAGLEV_TABLE_SIZE } from "../../netctl/dr_fast_path_program.ts";
import type { VirtualService } from "../virtual_service.ts";
import type { ConnTable } from "../conn_table.ts";
import type { Dispatcher } from "../dispatcher.ts";
import type { FlowOffload } from "../flow_offload.ts";
import { TCP_ACK, TCP_FIN, TCP_RST, TcpState } from "../tcp_state.ts";
import type { FlowKey } from "../scheduler/mod.ts";
import { type ControlBlock, GLOBAL, REAL, SVC } from "./control.ts";

/**
 * Where a server's frames go, as the loop knows it (undefined: not forwardable in the kernel): the next
 * hop's MAC, and for TUN the outer addresses and the largest inner packet that fits the tunnel.
 */
export type SlotTarget = { mac: Uint8Array; tun?: { source: number; dest: number; maxInnerBytes: number } } | undefined;

/** The Worker's fast-path offload (see module doc). */
export class FastPathOffload implements FlowOffload {
  readonly #fp: DrFastPath;
  readonly #ctl: ControlBlock;
  readonly #srcMac: Uint8Array;
  readonly #ifindex: number;
  #pending: number[] = [];
  #table: ConnTable | undefined;
  /** Per server id: 1 when it is a DR or TUN server (only their flows are installed). */
  readonly #offloadable: Uint8Array;
  /** Per slot: the MAC it forwards to as hex (and the tunnel), "" while invalid. */
  readonly #slotMac: string[] = [];
  /** Per slot: packets and bytes already folded into the shared counters. */
  readonly #folded: Float64Array;
  /** Per server id: service counter slot, or -1. */
  #svcOf: Int32Array;
  /** While {@link adoptNewFlows} applies the kernel's records: removals wait here, deleted in one call after. */
  #deferRemovals = false;
  readonly #removals = new Uint8Array(REMOVAL_BATCH * FLOW_KEY_BYTES);
  readonly #removalView = new DataView(this.#removals.buffer);
  #removalCount = 0;
  readonly #removalKey = { saddr: 0, daddr: 0, sport: 0, dport: 0 };
  /** Kernel service tables by service key: index and the owners last written. */
  readonly #kernelServices = new Map<string, { index: number; vip: number; port: number; owners: Int32Array }>();

  /**
   * @param fp the loaded, attached fast path
   * @param ctl the shared counters
   * @param opts the director's MAC and interface index (the frames' source and egress)
   */
  constructor(fp: DrFastPath, ctl: ControlBlock, opts: { srcMac: Uint8Array; ifindex: number }) {
    this.#fp = fp;
    this.#ctl = ctl;
    this.#srcMac = opts.srcMac;
    this.#ifindex = opts.ifindex;
    this.#folded = new Float64Array(fp.maxReals * 2);
    this.#offloadable = new Uint8Array(fp.maxReals);
    this.#svcOf = new Int32Array(fp.maxReals).fill(-1);
    ctl.counters[GLOBAL.fastPathActive] = 1;
  }

  install(table: ConnTable, slot: number): boolean {
    const id = table.server(slot);
    if (id >= this.#fp.maxReals || !this.#offloadable[id]) return false;
    this.#table = table;
    this.#pending.push(slot);
    return true;
  }

  remove(table: ConnTable, slot: number): void {
    const ports = table.ports(slot);
    if (this.#deferRemovals) {
      const k = this.#removalKey;
      k.saddr = table.saddr(slot);
      k.daddr = table.daddr(slot);
      k.sport = ports >>> 16;
      k.dport = ports & 0xffff;
      writeFlowKey(this.#removalView, this.#removalCount * FLOW_KEY_BYTES, k);
      if (++this.#removalCount === REMOVAL_BATCH) this.#flushRemovals();
      return;
    }
    if (this.#fp.deleteFlow(table.saddr(slot), table.daddr(slot), ports >>> 16, ports & 0xffff)) {
      this.#ctl.counters[GLOBAL.fastPathFlows]--;
    }
  }

  #flushRemovals(): void {
    if (this.#removalCount === 0) return;
    this.#ctl.counters[GLOBAL.fastPathFlows] -= this.#fp.deleteFlows(this.#removals, this.#removalCount);
    this.#removalCount = 0;
  }

  lastSeenMs(table: ConnTable, slot: number): number {
    const ports = table.ports(slot);
    const f = this.#fp.flow(table.saddr(slot), table.daddr(slot), ports >>> 16, ports & 0xffff);
    if (!f || f.lastSeenNs === 0) return -Infinity;
    return Date.now() - (monotonicNs() - f.lastSeenNs) / 1e6;
  }

  packets(table: ConnTable, slot: number): number {
    const ports = table.ports(slot);
    return this.#fp.flow(table.saddr(slot), table.daddr(slot), ports >>> 16, ports & 0xffff)?.packets ?? 0;
  }

  /** Writes the installs queued since the last call (after the batch's frames are sent). */
  flush(): void {
    const t = this.#table;
    if (!t || this.#pending.length === 0) return;
    const C = this.#ctl.counters;
    for (const slot of this.#pending) {
      // Still established (a FIN or RST later in the same batch removed it from the fast path).
      if (!t.used(slot) || t.state(slot) !== TcpState.ESTABLISHED) continue;
      const ports = t.ports(slot);
      const err = this.#fp.addFlow(t.saddr(slot), t.daddr(slot), ports >>> 16, ports & 0xffff, t.server(slot));
      if (err === 0) {
        C[GLOBAL.fastPathInstalls]++;
        C[GLOBAL.fastPathFlows]++;
      } else if (err !== EEXIST) C[GLOBAL.fastPathInstallFailed]++;
    }
    this.#pending = [];
  }

  /**
   * Brings the kernel's real-server slots in step (after a configuration, ARP changes, and from
   * housekeeping); writes only slots that changed.
   *
   * @param d the dispatcher (servers by id, health, method)
   * @param target where each server id's frames go (its next hop's MAC), or undefined
   * @param svcOf per server id: its service counter slot, or -1
   */
  syncReals(d: Dispatcher, target: (id: number) => SlotTarget, svcOf: Int32Array): void {
    this.#svcOf = svcOf;
    const n = Math.min(this.#fp.maxReals, Math.max(d.serverIdBound, this.#slotMac.length));
    for (let id = 0; id < n; id++) {
      const s = d.server(id);
      const ok = s?.method === "dr" || s?.method === "tun";
      this.#offloadable[id] = ok ? 1 : 0;
      const t = s && ok && !s.removed && s.up && !s.memberDown ? target(id) : undefined;
      const key = t
        ? Array.from(t.mac, (b) => b.toString(16).padStart(2, "0")).join(":") +
          (t.tun ? ` ${t.tun.source} ${t.tun.dest} ${t.tun.maxInnerBytes}` : "")
        : "";
      if ((this.#slotMac[id] ?? "") === key) continue;
      this.#fp.setReal(id, t ? { dstMac: t.mac, srcMac: this.#srcMac, ifindex: this.#ifindex, tun: t.tun } : undefined);
      this.#slotMac[id] = key;
    }
  }

  /**
   * Adds the packets and bytes the kernel forwarded since the last call to the shared counters and
   * the dispatcher's per-server totals (from housekeeping, about once a second).
   */
  fold(d: Dispatcher): void {
    const C = this.#ctl.counters;
    const n = Math.min(this.#fp.maxReals, this.#slotMac.length);
    for (let id = 0; id < n; id++) {
      if (this.#slotMac[id] === undefined) continue;
      const c = this.#fp.realCounters(id);
      const dp = c.packets - this.#folded[id * 2];
      const db = c.bytes - this.#folded[id * 2 + 1];
      if (dp === 0 && db === 0) continue;
      this.#folded[id * 2] = c.packets;
      this.#folded[id * 2 + 1] = c.bytes;
      C[GLOBAL.fastPathPackets] += dp;
      C[GLOBAL.fastPathBytes] += db;
      C[this.#ctl.realIndex(id, REAL.packets)] += dp;
      C[this.#ctl.realIndex(id, REAL.bytes)] += db;
      const svc = this.#svcOf[id];
      if (svc >= 0) {
        C[this.#ctl.serviceIndex(svc, SVC.packets)] += dp;
        C[this.#ctl.serviceIndex(svc, SVC.bytes)] += db;
      }
      d.account(id, dp, db, 0, 0);
    }
  }

  /**
   * Brings the kernel's mh service tables in step with the dispatcher (after a configuration, health or
   * membership change, and from housekeeping); writes a table only when it changed.
   *
   * @param enabled false turns kernel scheduling off for every service (an HA standby data plane takes no new
   *   connections)
   */
  syncServices(d: Dispatcher, enabled = true): void {
    const seen = new Set<string>();
    for (const svc of d.services) {
      if (!enabled || !kernelSchedulable(svc)) continue;
      const owners = this.#owners(d, svc);
      let k = this.#kernelServices.get(svc.key);
      if (!k) {
        const used = new Set([...this.#kernelServices.values()].map((x) => x.index));
        let index = 0;
        while (used.has(index)) index++;
        if (index >= MAX_KERNEL_SERVICES) continue;
        k = { index, vip: svc.vip, port: svc.port, owners: new Int32Array(0) };
        this.#kernelServices.set(svc.key, k);
      }
      seen.add(svc.key);
      if (sameOwners(k.owners, owners)) continue;
      try {
        this.#fp.setService(svc.vip, svc.port, k.index, owners);
        k.owners = owners;
      } catch {
        // Refused: SYNs of this service stay in user space.
        this.#fp.setService(svc.vip, svc.port, k.index, undefined);
        k.owners = new Int32Array(0);
      }
    }
    for (const [key, k] of this.#kernelServices) {
      if (seen.has(key)) continue;
      this.#fp.setService(k.vip, k.port, k.index, undefined);
      this.#kernelServices.delete(key);
    }
  }

  /** Server id per Maglev slot, −1 where the scheduler would not pick the owner (user space decides). */
  #owners(d: Dispatcher, svc: VirtualService): Int32Array {
    const ids = (svc.scheduler as MaglevHashing).slots();
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (id < 0) continue;
      const s = d.server(id);
      if (!s || s.removed || s.weight <= 0 || s.overloaded || !s.eligible || id >= this.#fp.maxReals) ids[i] = -1;
    }
    return ids;
  }

  /**
   * Enters the connections the kernel scheduled since the last call in the dispatcher's table; a flow it
   * cannot enter is removed from the kernel (its next packets are scheduled in user space).
   *
   * @returns flows read
   */
  adoptNewFlows(d: Dispatcher, nowMs: number): number {
    if (this.#kernelServices.size === 0) return 0;
    const key: FlowKey = { saddr: 0, sport: 0, daddr: 0, dport: 0 };
    // The flows that ended (their FIN or RST passed in the kernel) leave the kernel together, in one call.
    this.#deferRemovals = true;
    try {
      return this.#drainNewFlows(d, nowMs, key);
    } finally {
      this.#deferRemovals = false;
      this.#flushRemovals();
    }
  }

  #drainNewFlows(d: Dispatcher, nowMs: number, key: FlowKey): number {
    const C = this.#ctl.counters;
    return this.#fp.drainNewFlows((f) => {
      if (f.kind !== 0) {
        // Its FIN or RST passed in the kernel: the entry moves on as if the loop had seen it (and leaves the
        // fast path, so what follows comes here).
        key.saddr = f.saddr;
        key.daddr = f.daddr;
        key.sport = f.sport;
        key.dport = f.dport;
        // An RST would leave a SYN_RECV entry (as the kernel enters them) in SYN_RECV: established first.
        if ((f.kind & TCP_RST) !== 0) d.schedule(key, TCP_ACK, nowMs);
        d.schedule(key, TCP_ACK | (f.kind & (TCP_FIN | TCP_RST)), nowMs);
        C[GLOBAL.kernelEnded]++;
        return;
      }
      const ports = ((f.sport << 16) | f.dport) >>> 0;
      if (d.adoptConnection({ saddr: f.saddr, daddr: f.daddr, ports }, f.slot, nowMs)) {
        C[GLOBAL.kernelScheduled]++;
        C[GLOBAL.fastPathFlows]++;
        C[this.#ctl.realIndex(f.slot, REAL.conns)] = d.server(f.slot)?.conns ?? 0;
      } else {
        C[GLOBAL.kernelScheduleRejected]++;
        this.#fp.deleteFlow(f.saddr, f.daddr, f.sport, f.dport);
      }
    });
  }

  /** Detaches the program (the loop ends). */
  close(): void {
    this.#ctl.counters[GLOBAL.fastPathActive] = 0;
    this.#fp.close();
  }
}

/** Removals collected while applying the kernel's records before they are deleted in one call. */
const REMOVAL_BATCH = 1024;

/**
 * Whether the kernel may schedule a service's new connections: mh with the full-size table, a VIP, no
 * persistence (templates are user-space state), and only DR or TUN servers (the program rewrites the MACs or
 * encapsulates, as for established flows) without connection thresholds (overload changes with every connection).
 */
export function kernelSchedulable(svc: VirtualService): boolean {
  return svc.schedulerName === "mh" && svc.scheduler instanceof MaglevHashing &&
    svc.scheduler.tableSize === MAGLEV_TABLE_SIZE && !svc.transparent && svc.vip !== 0 &&
    svc.persistTimeoutMs === 0 && svc.servers.length > 0 &&
    svc.servers.every((s) => (s.method === "dr" || s.method === "tun") && s.upperThreshold === 0);
}

function sameOwners(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
