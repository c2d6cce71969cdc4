/**
 * The forwarding loop that runs inside the data-plane Worker: a synchronous `poll()` (100 ms) on
 * the IPv4 and ARP packet sockets, then draining with recvmmsg, deciding with the director's
 * dispatcher, rewriting in place and sending with sendmmsg. Housekeeping (connection expiry, ARP
 * refresh, active/inactive counts) runs inline once a second; config and counters cross through
 * the {@link ControlBlock}.
 *
 * Receive slot layout (64 slots of 64 KiB + 128 bytes, so GSO super-frames fit):
 *
 * ```text
 * slot start
 * | headroom 20 | virtio_net_hdr 10 | Ethernet 14 | IPv4 ... (as received)
 *
 * DR  sends from "virtio_net_hdr" unchanged except the two MACs (GSO and CHECKSUM_PARTIAL carried).
 * TUN rewrites in place and sends from slot start:
 * | virtio_net_hdr 10 (zero) | Ethernet 14 | outer IPv4 20 (proto 4) | inner IPv4 ... unchanged
 * ```
 *
 * Fast path (`director.fastPath`, default auto): when the kernel accepts it, an eBPF program at tcx
 * ingress of the interface (`netctl/dr_fast_path.ts`) itself forwards the packets of established DR
 * flows, and of established TUN flows that have DF and fit the tunnel; the dispatcher installs a flow
 * when its entry becomes ESTABLISHED and removes it when the entry leaves that state or the table
 * (`lb/flow_offload.ts`, `fast_path_offload.ts`). SYN, FIN and RST, unknown flows, and flows whose
 * real server has no usable slot still arrive here. Without it (off, or refused by the kernel:
 * logged) every packet takes this loop, as before.
 *
 * TUN and the MTU (IPVS `ensure_mtu_ok()`): a packet that no longer fits once encapsulated is answered
 * with ICMP fragmentation-needed when it has DF (and dropped); without DF its outer packet is sent as
 * IPv4 fragments (`fragmentIpv4()`), which the real server reassembles. GSO frames cannot be tunnelled.
 *
 * @module
 */
import { ipv4ToInt } from "../../core/addr.ts";
import { getLogger } from "../../core/log.ts";
import { DrFastPath } from "../../netctl/dr_fast_path.ts";
import {
  ARP_REPLY,
  ARP_REQUEST,
  arpReplyFrame,
  arpRequestFrame,
  decodeArp,
  gratuitousArpFrame,
} from "../../packet/arp.ts";
import type { SockFilter } from "../../packet/bpf.ts";
import { vipFilterProgram } from "../../packet/bpf.ts";
import { ETH_HEADER_BYTES, ETHERTYPE_IPV4, parseMac } from "../../packet/ethernet.ts";
import { FLOW_OK, newTcpFlow, parseTcpFlow } from "../../packet/flow.ts";
import { encodeFragNeeded } from "../../packet/icmp.ts";
import { fragmentIpv4 } from "../../packet/fragment.ts";
import { IPIP_OVERHEAD_BYTES, writeIpipHeader } from "../../packet/ipip.ts";
import { completePartialChecksum, VNET_F_NEEDS_CSUM, VNET_HEADER_BYTES } from "../../packet/vnet_header.ts";
import { ETH_P_ARP } from "../../netctl/_constants.ts";
import { PacketBatch, PacketSocket, Poller } from "../../netctl/packet_socket.ts";
import type { DataplaneConfig } from "./config.ts";
import { ControlBlock, GLOBAL, MAX_REALS, MAX_SERVICES, REAL, STATE_RUNNING, STATE_STOPPED, SVC } from "./control.ts";
import { Dispatcher } from "../dispatcher.ts";
import type { FlowKey } from "../scheduler/mod.ts";
import type { LoopStateHook } from "./state_keeper.ts";
import type { HaLoopHook, HaLoopInit } from "../ha/loop_hook.ts";
import { FastPathOffload } from "./fast_path_offload.ts";

const log = getLogger("lb.dataplane");

/** What the Worker is started with. */
export interface LoopInit {
  /** The shared control block. */
  sab: SharedArrayBuffer;
  /** Interface to forward on. */
  ifname: string;
  /** arp: answer ARP for the VIPs from user space; nft: the kernel owns the VIP. */
  vipMode: "arp" | "nft";
  /** Frames per recvmmsg/sendmmsg batch (default 64). */
  batchSize?: number;
  /** `director.fastPath`: auto (default) loads the in-kernel DR fast path when the kernel accepts it; off never. */
  fastPath?: "auto" | "off";
  /** Director HA: the connection-sync inbox and batch interval (`lb/ha/loop_hook.ts`); absent: no HA. */
  ha?: HaLoopInit;
}

/** Server table the Worker reports after each configuration (id → service and address). */
export interface ServerInfo {
  id: number;
  serviceId: number;
  /** The service's key, `VIP:PORT` or `*:PORT`. */
  serviceKey: string;
  /** The server's key, `ADDR:PORT`. */
  key: string;
  address: string;
  port: number;
  method: string;
}

const HEADROOM = IPIP_OVERHEAD_BYTES;
const SLOT_BYTES = 65536 + 128;
const MAX_DRAIN = 4096;
const ARP_REFRESH_MS = 30_000;
const ARP_RETRY_MS = 1000;
/** Poll timeout while in HA standby: bounds the delay between a takeover and forwarding. */
const STANDBY_WAIT_MS = 10;
/** Poll timeout of an active data plane with director HA. */
const HA_ACTIVE_WAIT_MS = 20;
const DROP_ALL: SockFilter[] = [{ code: 0x06, jt: 0, jf: 0, k: 0 }];

interface Hop {
  ip: number;
  mac: Uint8Array | undefined;
  lastRequest: number;
  /** The known MAC it was last seeded with (config/membership); ARP still refreshes and corrects it. */
  seed: string | undefined;
}

/**
 * Builds the BPF filter for a configuration (one rule per VIP:port, or port for transparent).
 *
 * @param cfg the configuration
 */
export function filterFor(cfg: DataplaneConfig): SockFilter[] {
  const rules = cfg.services.map((s) =>
    s.transparent || !s.vip ? { port: s.port } : { vip: ipv4ToInt(s.vip), port: s.port }
  );
  return rules.length ? vipFilterProgram(rules) : DROP_ALL;
}

/**
 * Runs the loop until the control block asks to stop. Synchronous: blocks its thread.
 *
 * @param init interface, VIP mode, shared memory
 * @param report called with the server table after each configuration change
 * @param state restores the saved connection state after the first configuration and snapshots it
 *   from housekeeping and at stop (`director.stateFile`)
 * @throws {PrivilegeError} when the sockets cannot be opened for lack of capabilities
 */
export function runForwardingLoop(
  init: LoopInit,
  report: (servers: ServerInfo[]) => void,
  state?: LoopStateHook,
  ha?: HaLoopHook,
): void {
  const ctl = new ControlBlock(init.sab);
  let dispatcher: Dispatcher | undefined;
  const C = ctl.counters;
  const pkt = PacketSocket.open(init.ifname, { filter: DROP_ALL, vnetHeader: true, ignoreOutgoing: true });
  let arpSock: PacketSocket | undefined;
  let offload: FastPathOffload | undefined;
  let fastPathTried = false;
  try {
    arpSock = PacketSocket.open(init.ifname, { protocol: ETH_P_ARP, ignoreOutgoing: true, bufferBytes: 1 << 20 });
    const arp = arpSock;
    const iface = pkt.iface;
    const ourMac = iface.mac;
    const dip = iface.address;
    const mtu = iface.mtu;
    const batch = new PacketBatch(init.batchSize ?? 64, SLOT_BYTES, HEADROOM);
    const buf = batch.buffer;
    const view = batch.view;
    const poller = new Poller([pkt.fd, arp.fd]);
    const arpBuf = new Uint8Array(2048);
    const flow = newTcpFlow();
    const key: FlowKey = { saddr: 0, sport: 0, daddr: 0, dport: 0 };
    const hops = new Map<number, Hop>(); // by next-hop address
    let hopOf: (Hop | undefined)[] = []; // by server id
    let tunDst = new Uint32Array(0); // by server id
    let isTun = new Uint8Array(0); // by server id
    let svcOf = new Int32Array(0); // by server id
    let vips = new Set<number>();
    let seen = -1;
    let ipId = 1;
    let garpLeft = 0;
    let standby = false;
    let silent = false;
    let announced = 0;
    let lastHousekeeping = 0;
    let hopsChanged = false;

    const openFastPath = (cfg: DataplaneConfig) => {
      if (fastPathTried || (init.fastPath ?? "auto") === "off") return;
      const packet = (m: string | undefined) => m === "dr" || m === "tun";
      if (!cfg.services.some((s) => packet(s.method) || s.reals.some((r) => packet(r.method)))) return;
      fastPathTried = true;
      try {
        const fp = DrFastPath.open({ interface: init.ifname, maxFlows: cfg.maxConnections, maxReals: MAX_REALS });
        offload = new FastPathOffload(fp, ctl, { srcMac: ourMac, ifindex: iface.index });
        log.info("DR fast path attached at tcx ingress", { iface: init.ifname, maxFlows: cfg.maxConnections });
      } catch (e) {
        log.warn("DR fast path unavailable: every packet takes the user-space loop", {
          iface: init.ifname,
          error: (e as Error).message,
        });
      }
    };
    const syncFastPath = () => {
      if (!offload || !dispatcher) return;
      hopsChanged = false;
      offload.syncReals(dispatcher, (id) => {
        const h = hopOf[id];
        if (!h?.mac) return undefined;
        return isTun[id]
          ? { mac: h.mac, tun: { source: dip, dest: tunDst[id], maxInnerBytes: mtu - IPIP_OVERHEAD_BYTES } }
          : { mac: h.mac };
      }, svcOf);
    };

    const sendArp = (frame: Uint8Array, counter: number) => {
      if (arp.send(frame) > 0) C[counter]++;
    };
    const requestHop = (h: Hop, now: number) => {
      h.lastRequest = now;
      sendArp(arpRequestFrame(ourMac, dip, h.ip), GLOBAL.arpRequestsSent);
    };
    const learnStatic = () => {
      try {
        // Seed from the kernel's neighbour table; our own ARP requests keep it fresh.
        for (const line of Deno.readTextFileSync("/proc/net/arp").split("\n").slice(1)) {
          const f = line.trim().split(/\s+/);
          if (f.length < 6 || f[5] !== init.ifname || f[2] === "0x0") continue;
          const h = hops.get(ipv4ToInt(f[0]));
          if (h && !h.mac) h.mac = parseMac(f[3]);
        }
      } catch { /* no /proc: ARP only */ }
    };

    const applyConfig = (cfg: DataplaneConfig) => {
      const opts = {
        maxConnections: cfg.maxConnections,
        timeouts: cfg.timeouts,
        expireQuiescentTemplate: cfg.expireQuiescentTemplate,
      };
      openFastPath(cfg);
      if (!dispatcher) dispatcher = new Dispatcher(opts);
      else dispatcher.setOptions(opts);
      // Also when a reload brings the first DR/TUN service: flows established from then on are installed.
      dispatcher.offload ??= offload;
      const d = dispatcher;
      if (ha) ha.attach(d);
      d.configure(cfg.services);
      for (const st of cfg.serverState) {
        if (st.member !== undefined) d.setMembership(st.target, st.member);
        if (st.drained !== undefined) d.drain(st.target, st.drained);
        if (st.up !== undefined) { for (const s of d.findServers(st.target)) d.setHealth(s.id, st.up); }
      }
      const wasStandby = standby;
      standby = cfg.standby === true;
      silent = cfg.silent === true;
      ha?.setActive(!standby);
      pkt.setFilter(standby ? DROP_ALL : filterFor(cfg));
      vips = new Set(cfg.services.filter((s) => !s.transparent && s.vip).map((s) => ipv4ToInt(s.vip!)));
      const servers: ServerInfo[] = [];
      const wanted = new Set<number>();
      for (const svc of d.services) {
        for (const s of svc.servers) {
          servers.push({
            id: s.id,
            serviceId: svc.id,
            serviceKey: svc.key,
            key: s.key,
            address: s.address,
            port: s.port,
            method: s.method,
          });
        }
      }
      hopOf = [];
      tunDst = new Uint32Array(MAX_REALS);
      isTun = new Uint8Array(MAX_REALS);
      svcOf = new Int32Array(MAX_REALS).fill(-1);
      for (const s of servers) {
        const nh = cfg.nextHops[s.address] ?? { nextHop: s.address };
        const ip = ipv4ToInt(nh.nextHop);
        wanted.add(ip);
        let h = hops.get(ip);
        if (!h) {
          h = { ip, mac: undefined, lastRequest: 0, seed: undefined };
          hops.set(ip, h);
        }
        // A known MAC (membership) is a head start, applied when it is new or changed: forwarding
        // starts without waiting for ARP, and ARP keeps refreshing (and correcting) it.
        if (nh.mac !== h.seed) {
          h.seed = nh.mac;
          if (nh.mac) h.mac = parseMac(nh.mac);
        }
        hopOf[s.id] = h;
        tunDst[s.id] = ipv4ToInt(s.address);
        isTun[s.id] = s.method === "tun" ? 1 : 0;
        svcOf[s.id] = s.serviceId < MAX_SERVICES ? s.serviceId : -1;
        if (s.id >= MAX_REALS) throw new RangeError(`Cannot forward to more than ${MAX_REALS} real servers`);
      }
      for (const ip of [...hops.keys()]) if (!wanted.has(ip)) hops.delete(ip);
      learnStatic();
      const now = Date.now();
      for (const h of hops.values()) if (!h.mac) requestHop(h, now);
      if (init.vipMode === "arp" && vips.size && !standby && !silent) {
        garpLeft = 3;
        // HA takeover (or a MASTER reclaiming its VIPs after a split brain): announce at once, clients
        // then switch within milliseconds (notes/ha.md §2).
        if (wasStandby || (cfg.announce ?? 0) !== announced) {
          for (const vip of vips) sendArp(gratuitousArpFrame(ourMac, vip), GLOBAL.garpSent);
        }
      }
      announced = cfg.announce ?? 0;
      syncFastPath();
      report(servers);
    };

    const handleArp = () => {
      for (let k = 0; k < 256; k++) {
        const n = arp.recv(arpBuf);
        if (n < 0) break;
        if (n < ETH_HEADER_BYTES + 28) continue;
        let m;
        try {
          m = decodeArp(arpBuf.subarray(0, n), ETH_HEADER_BYTES);
        } catch {
          continue;
        }
        const h = hops.get(m.senderIp);
        if (h && (m.op === ARP_REPLY || m.op === ARP_REQUEST) && m.senderIp !== 0) {
          if (!h.mac || h.mac.some((b, i) => b !== m.senderMac[i])) hopsChanged = true;
          h.mac = m.senderMac;
        }
        if (
          m.op === ARP_REQUEST && init.vipMode === "arp" && !standby && !silent && vips.has(m.targetIp) &&
          m.senderIp !== m.targetIp
        ) {
          sendArp(arpReplyFrame(m, ourMac, m.targetIp), GLOBAL.arpRepliesSent);
        }
      }
    };

    const fragNeeded = (ethOff: number, ipOff: number, ipLen: number) => {
      const quoted = buf.slice(ipOff, ipOff + Math.min(ipLen, 60 + 8));
      const icmp = encodeFragNeeded(quoted, { src: dip, mtu: mtu - IPIP_OVERHEAD_BYTES });
      const frame = new Uint8Array(VNET_HEADER_BYTES + ETH_HEADER_BYTES + icmp.length);
      const e = VNET_HEADER_BYTES;
      frame.set(buf.subarray(ethOff + 6, ethOff + 12), e); // back to the sender's MAC
      frame.set(ourMac, e + 6);
      frame[e + 12] = ETHERTYPE_IPV4 >> 8;
      frame[e + 13] = ETHERTYPE_IPV4 & 0xff;
      frame.set(icmp, e + ETH_HEADER_BYTES);
      if (pkt.send(frame) > 0) C[GLOBAL.fragNeededSent]++;
    };

    const sendFragments = (outerOff: number, outerLen: number, mac: Uint8Array) => {
      // Keep the flow's order: whatever is queued goes out before the fragments.
      const queued = batch.queued;
      const sent = batch.flush(pkt);
      C[GLOBAL.txPackets] += sent;
      C[GLOBAL.dropSendFailed] += queued - sent;
      for (const frag of fragmentIpv4(buf.subarray(outerOff, outerOff + outerLen), mtu)) {
        const frame = new Uint8Array(VNET_HEADER_BYTES + ETH_HEADER_BYTES + frag.length);
        const e = VNET_HEADER_BYTES;
        frame.set(mac, e);
        frame.set(ourMac, e + 6);
        frame[e + 12] = ETHERTYPE_IPV4 >> 8;
        frame[e + 13] = ETHERTYPE_IPV4 & 0xff;
        frame.set(frag, e + ETH_HEADER_BYTES);
        if (pkt.send(frame) > 0) C[GLOBAL.tunFragments]++;
        else C[GLOBAL.dropSendFailed]++;
      }
      C[GLOBAL.tunFragmented]++;
    };

    const housekeeping = (now: number) => {
      if (!dispatcher) return;
      if (offload) {
        offload.fold(dispatcher);
        syncFastPath();
      }
      dispatcher.expire(now);
      state?.tick(dispatcher, now);
      for (let id = 0; id < hopOf.length; id++) {
        const h = hopOf[id];
        if (!h) continue;
        const s = dispatcher.server(id);
        if (s) {
          C[ctl.realIndex(id, REAL.active)] = s.activeConns;
          C[ctl.realIndex(id, REAL.inactive)] = s.inactConns;
          C[ctl.realIndex(id, REAL.conns)] = s.conns;
        }
        C[ctl.realIndex(id, REAL.macKnown)] = h.mac ? 1 : 0;
      }
      for (const h of hops.values()) {
        const every = h.mac ? ARP_REFRESH_MS : ARP_RETRY_MS;
        if (now - h.lastRequest >= every) requestHop(h, now);
      }
      if (garpLeft > 0 && !standby && !silent) {
        garpLeft--;
        for (const vip of vips) sendArp(gratuitousArpFrame(ourMac, vip), GLOBAL.garpSent);
      }
    };

    ctl.state = STATE_RUNNING;
    while (!ctl.stopRequested) {
      // Director HA: a role change is a config change, seen at the next wake-up; without traffic to wake
      // it, a standby data plane looks every 10 ms, an active one every 20 ms (a clean stop's silence).
      poller.wait(standby ? STANDBY_WAIT_MS : ha ? HA_ACTIVE_WAIT_MS : 100);
      C[GLOBAL.loopWakeups]++;
      const now = Date.now();
      if (ctl.configSequence !== seen) {
        const got = ctl.readConfig();
        if (got) {
          applyConfig(got.config);
          state?.configured(dispatcher!, now);
          offload?.flush();
          seen = got.sequence;
          ctl.appliedSequence = got.sequence;
        }
      }
      if (ha && dispatcher) ha.poll(dispatcher, now);
      if (poller.ready(1)) {
        handleArp();
        if (hopsChanged) syncFastPath();
      }
      let drained = 0;
      while (drained < MAX_DRAIN) {
        const n = batch.recv(pkt);
        if (n === 0) break;
        drained += n;
        C[GLOBAL.rxPackets] += n;
        let rxBytes = 0;
        for (let i = 0; i < n; i++) {
          const base = batch.dataOffset(i);
          const len = batch.lengths[i];
          rxBytes += len;
          if (batch.truncated[i]) {
            C[GLOBAL.dropTruncated]++;
            continue;
          }
          const eth = base + VNET_HEADER_BYTES;
          const ip = eth + ETH_HEADER_BYTES;
          if (len < VNET_HEADER_BYTES + ETH_HEADER_BYTES || view.getUint16(eth + 12) !== ETHERTYPE_IPV4) {
            C[GLOBAL.dropMalformed]++;
            continue;
          }
          if (parseTcpFlow(view, ip, len - VNET_HEADER_BYTES - ETH_HEADER_BYTES, flow) !== FLOW_OK) {
            C[GLOBAL.dropMalformed]++;
            continue;
          }
          key.saddr = flow.src;
          key.sport = flow.srcPort;
          key.daddr = flow.dst;
          key.dport = flow.dstPort;
          const newConns = dispatcher ? dispatcher.counters.newConns : 0;
          const id = dispatcher ? dispatcher.schedule(key, flow.flags, now) : undefined;
          if (id === undefined) {
            C[GLOBAL.dropNoServer]++;
            continue;
          }
          const hop = hopOf[id];
          if (!hop || !hop.mac) {
            C[GLOBAL.dropNoMac]++;
            if (hop && now - hop.lastRequest >= ARP_RETRY_MS) requestHop(hop, now);
            continue;
          }
          const svc = svcOf[id];
          dispatcher!.account(id, 1, flow.totalLength, 0, 0);
          // Connections change when one is made here (expiry updates them in housekeeping).
          if (dispatcher!.counters.newConns !== newConns) {
            C[ctl.realIndex(id, REAL.conns)] = dispatcher!.server(id)!.conns;
          }
          if (isTun[id]) {
            const ipLen = flow.totalLength;
            const gso = buf[base + 1] !== 0;
            const tooBig = ipLen + IPIP_OVERHEAD_BYTES > mtu;
            if (gso || (tooBig && flow.df)) {
              // IPVS ensure_mtu_ok(): tell the client the tunnel's MTU (a GSO frame cannot be fragmented).
              if (flow.df) fragNeeded(eth, ip, ipLen);
              C[gso ? GLOBAL.dropTunGso : GLOBAL.dropTooBig]++;
              if (svc >= 0) C[ctl.serviceIndex(svc, SVC.drops)]++;
              continue;
            }
            if (buf[base] & VNET_F_NEEDS_CSUM) {
              // The outer header hides the inner checksum from offload: finish it here.
              const csumStart = view.getUint16(base + 6, true);
              const csumOffset = view.getUint16(base + 8, true);
              completePartialChecksum(buf.subarray(eth, ip + ipLen), csumStart, csumOffset);
              C[GLOBAL.checksumsCompleted]++;
            }
            writeIpipHeader(view, ip, dip, tunDst[id], ipId++);
            if (tooBig) {
              // No DF: fragment the outer packet as the IP layer does for IPVS; the real server reassembles it.
              sendFragments(ip - IPIP_OVERHEAD_BYTES, ipLen + IPIP_OVERHEAD_BYTES, hop.mac);
            } else {
              const start = base - HEADROOM;
              buf.fill(0, start, start + VNET_HEADER_BYTES);
              const e = start + VNET_HEADER_BYTES;
              buf.set(hop.mac, e);
              buf.set(ourMac, e + 6);
              buf[e + 12] = ETHERTYPE_IPV4 >> 8;
              buf[e + 13] = ETHERTYPE_IPV4 & 0xff;
              batch.queue(start, VNET_HEADER_BYTES + ETH_HEADER_BYTES + IPIP_OVERHEAD_BYTES + ipLen);
            }
          } else {
            buf.set(hop.mac, eth);
            buf.set(ourMac, eth + 6);
            batch.queue(base, len);
          }
          C[ctl.realIndex(id, REAL.packets)]++;
          C[ctl.realIndex(id, REAL.bytes)] += flow.totalLength;
          if (svc >= 0) {
            C[ctl.serviceIndex(svc, SVC.packets)]++;
            C[ctl.serviceIndex(svc, SVC.bytes)] += flow.totalLength;
          }
        }
        C[GLOBAL.rxBytes] += rxBytes;
        const queued = batch.queued;
        const sent = batch.flush(pkt);
        C[GLOBAL.txPackets] += sent;
        C[GLOBAL.dropSendFailed] += queued - sent;
        offload?.flush();
        // A short batch means the queue is empty: skip the recvmmsg that would only say EAGAIN.
        if (n < batch.slots) break;
      }
      if (now - lastHousekeeping >= 1000) {
        lastHousekeeping = now;
        housekeeping(now);
      }
    }
    if (dispatcher) state?.stop(dispatcher, Date.now());
  } finally {
    offload?.close();
    arpSock?.close();
    pkt.close();
    ctl.state = STATE_STOPPED;
  }
}
