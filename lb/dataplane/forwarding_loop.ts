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
 * (`lb/flow_offload.ts`, `fast_path_offload.ts`). For mh services the program also schedules SYNs from the
 * Maglev table and reports them (and their FIN/RST, also forwarded there) through a ring buffer, drained here before
 * each batch into the table. Other SYNs, FINs and RSTs, unknown flows, and flows whose real server has no usable slot
 * still arrive here. Without it (off, or refused by the kernel:
 * logged) every packet takes this loop, as before.
 *
 * The parts, one job each: {@link NeighbourTable} (next hops' MACs, ARP requests), {@link ServerRoutes}
 * (per server: next hop, tunnel, service slot), {@link VipOwner} (HA role, ARP answers and gratuitous ARP
 * for the VIPs), {@link TunnelSender} (IP-in-IP, the tunnel MTU, fragments), {@link LoopCounters} (the
 * shared counters) and `fast_path_attach.ts`. This file wires them: wake-ups, configuration, receive,
 * decide, send.
 *
 * @module
 */
import { ipv4ToInt } from "../../core/addr.ts";
import { arpRequestFrame, decodeArp } from "../../packet/arp.ts";
import { ARP_REPLY, ARP_REQUEST } from "../../packet/arp.ts";
import type { SockFilter } from "../../packet/bpf.ts";
import { vipFilterProgram } from "../../packet/bpf.ts";
import { ETH_HEADER_BYTES, ETHERTYPE_IPV4 } from "../../packet/ethernet.ts";
import { FLOW_OK, newTcpFlow, parseTcpFlow } from "../../packet/flow.ts";
import { VNET_HEADER_BYTES } from "../../packet/vnet_header.ts";
import { ETH_P_ARP } from "../../netctl/_constants.ts";
import { PacketBatch, PacketSocket, Poller } from "../../netctl/packet_socket.ts";
import type { DataplaneConfig } from "./config.ts";
import { ControlBlock, GLOBAL, STATE_RUNNING, STATE_STOPPED } from "./control.ts";
import { Dispatcher } from "../dispatcher.ts";
import type { FlowKey } from "../scheduler/mod.ts";
import type { LoopStateHook } from "./state_keeper.ts";
import type { HaLoopHook, HaLoopInit } from "../ha/loop_hook.ts";
import type { FastPathOffload } from "./fast_path_offload.ts";
import { attachFastPath, wantsFastPath } from "./fast_path_attach.ts";
import { NeighbourTable } from "./neighbour_table.ts";
import { listServers, ServerRoutes } from "./server_routes.ts";
import type { ServerInfo } from "./server_routes.ts";
import { VipOwner } from "./vip_owner.ts";
import { TUN_SENT, TUNNEL_HEADROOM, TunnelSender } from "./tunnel_sender.ts";
import { LoopCounters } from "./loop_counters.ts";

export type { ServerInfo } from "./server_routes.ts";

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
  /** `director.fastPathPreallocate`: the kernel's flow map allocated whole at start. */
  fastPathPreallocate?: boolean;
  /** Director HA: the connection-sync inbox and batch interval (`lb/ha/loop_hook.ts`); absent: no HA. */
  ha?: HaLoopInit;
}

const SLOT_BYTES = 65536 + 128;
const MAX_DRAIN = 4096;
const HOUSEKEEPING_MS = 1000;
const DROP_ALL: SockFilter[] = [{ code: 0x06, jt: 0, jf: 0, k: 0 }];

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
 * @param ha the Worker's side of director HA (connection sync), when HA runs
 * @throws {PrivilegeError} when the sockets cannot be opened for lack of capabilities
 */
export function runForwardingLoop(
  init: LoopInit,
  report: (servers: ServerInfo[]) => void,
  state?: LoopStateHook,
  ha?: HaLoopHook,
): void {
  const ctl = new ControlBlock(init.sab);
  const counters = new LoopCounters(ctl);
  const C = counters.C;
  let dispatcher: Dispatcher | undefined;
  const pkt = PacketSocket.open(init.ifname, { filter: DROP_ALL, vnetHeader: true, ignoreOutgoing: true });
  let arpSock: PacketSocket | undefined;
  let offload: FastPathOffload | undefined;
  let fastPathTried = false;
  try {
    arpSock = PacketSocket.open(init.ifname, { protocol: ETH_P_ARP, ignoreOutgoing: true, bufferBytes: 1 << 20 });
    const arp = arpSock;
    const iface = pkt.iface;
    const ourMac = iface.mac;
    const link = { address: iface.address, mtu: iface.mtu };
    const batch = new PacketBatch(init.batchSize ?? 64, SLOT_BYTES, TUNNEL_HEADROOM);
    const buf = batch.buffer;
    const view = batch.view;
    const poller = new Poller([pkt.fd, arp.fd]);
    const arpBuf = new Uint8Array(2048);
    const flow = newTcpFlow();
    const key: FlowKey = { saddr: 0, sport: 0, daddr: 0, dport: 0 };
    const sendArp = (frame: Uint8Array, counter: number) => {
      if (arp.send(frame) > 0) C[counter]++;
    };
    const neighbours = new NeighbourTable((ip) =>
      sendArp(arpRequestFrame(ourMac, link.address, ip), GLOBAL.arpRequestsSent)
    );
    const routes = new ServerRoutes();
    const owner = new VipOwner({ vipMode: init.vipMode, ha: ha !== undefined, ourMac }, sendArp);
    const tunnel = new TunnelSender({ pkt, batch }, { counters: C, ourMac, address: link.address, mtu: link.mtu });
    let seen = -1;
    let lastHousekeeping = 0;

    const syncFastPath = () => {
      if (!offload || !dispatcher) return;
      neighbours.changed = false;
      offload.syncReals(dispatcher, (id) => routes.slotTarget(id, link), routes.svcOf);
      offload.syncServices(dispatcher, !owner.standby);
    };

    const applyConfig = (cfg: DataplaneConfig) => {
      const opts = {
        maxConnections: cfg.maxConnections,
        timeouts: cfg.timeouts,
        expireQuiescentTemplate: cfg.expireQuiescentTemplate,
      };
      if (!fastPathTried && (init.fastPath ?? "auto") !== "off" && wantsFastPath(cfg)) {
        fastPathTried = true;
        offload = attachFastPath(cfg, {
          ifname: init.ifname,
          ifindex: iface.index,
          mac: ourMac,
          ctl,
          preallocate: init.fastPathPreallocate,
        });
      }
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
      owner.configure(cfg);
      ha?.setActive(!owner.standby);
      pkt.setFilter(owner.standby ? DROP_ALL : filterFor(cfg));
      const servers = listServers(d);
      routes.rebuild(servers, { nextHops: cfg.nextHops, neighbours });
      neighbours.learnFromKernel(init.ifname);
      neighbours.requestMissing(Date.now());
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
        if (m.op === ARP_REPLY || m.op === ARP_REQUEST) neighbours.learn(m.senderIp, m.senderMac);
        owner.answer(m);
      }
    };

    const housekeeping = (now: number) => {
      if (!dispatcher) return;
      if (offload) {
        offload.fold(dispatcher);
        syncFastPath();
      }
      dispatcher.expire(now);
      state?.tick(dispatcher, now);
      counters.publishServers(dispatcher, routes);
      neighbours.refresh(now);
      owner.tick();
    };

    /** Decides and rewrites one received frame (slot `i`); queues it on the batch or drops and counts it. */
    const forwardFrame = (i: number, now: number) => {
      const base = batch.dataOffset(i);
      const len = batch.lengths[i];
      if (batch.truncated[i]) {
        C[GLOBAL.dropTruncated]++;
        return;
      }
      const eth = base + VNET_HEADER_BYTES;
      const ip = eth + ETH_HEADER_BYTES;
      if (len < VNET_HEADER_BYTES + ETH_HEADER_BYTES || view.getUint16(eth + 12) !== ETHERTYPE_IPV4) {
        C[GLOBAL.dropMalformed]++;
        return;
      }
      if (parseTcpFlow(view, ip, len - VNET_HEADER_BYTES - ETH_HEADER_BYTES, flow) !== FLOW_OK) {
        C[GLOBAL.dropMalformed]++;
        return;
      }
      key.saddr = flow.src;
      key.sport = flow.srcPort;
      key.daddr = flow.dst;
      key.dport = flow.dstPort;
      const newConns = dispatcher ? dispatcher.counters.newConns : 0;
      const id = dispatcher ? dispatcher.schedule(key, flow.flags, now) : undefined;
      if (id === undefined) {
        C[GLOBAL.dropNoServer]++;
        return;
      }
      const hop = routes.hopOf[id];
      if (!hop || !hop.mac) {
        C[GLOBAL.dropNoMac]++;
        if (hop) neighbours.retry(hop, now);
        return;
      }
      const svc = routes.svcOf[id];
      dispatcher!.account(id, 1, flow.totalLength, 0, 0);
      // Connections change when one is made here (expiry updates them in housekeeping).
      if (dispatcher!.counters.newConns !== newConns) counters.connections(id, dispatcher!.server(id)!.conns);
      if (routes.isTun[id]) {
        const r = tunnel.send(base, { ipLen: flow.totalLength, df: flow.df, dest: routes.tunDst[id], mac: hop.mac });
        if (r !== TUN_SENT) {
          counters.serviceDrop(svc);
          return;
        }
      } else {
        buf.set(hop.mac, eth);
        buf.set(ourMac, eth + 6);
        batch.queue(base, len);
      }
      counters.forwarded(id, svc, flow.totalLength);
    };

    ctl.state = STATE_RUNNING;
    while (!ctl.stopRequested) {
      // Director HA: a role change is a config change, seen at the next wake-up; without traffic to wake
      // it, a standby data plane looks every 10 ms, an active one every 20 ms (a clean stop's silence).
      poller.wait(owner.pollWaitMs);
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
        if (neighbours.changed) syncFastPath();
      }
      let drained = 0;
      while (drained < MAX_DRAIN) {
        const n = batch.recv(pkt);
        if (n === 0) break;
        // Connections the kernel scheduled enter the table before any later packet of theirs is handled here.
        if (offload && dispatcher) offload.adoptNewFlows(dispatcher, now);
        drained += n;
        C[GLOBAL.rxPackets] += n;
        let rxBytes = 0;
        for (let i = 0; i < n; i++) {
          rxBytes += batch.lengths[i];
          forwardFrame(i, now);
        }
        C[GLOBAL.rxBytes] += rxBytes;
        counters.sent(batch.queued, batch.flush(pkt));
        offload?.flush();
        // A short batch means the queue is empty: skip the recvmmsg that would only say EAGAIN.
        if (n < batch.slots) break;
      }
      if (offload && dispatcher) offload.adoptNewFlows(dispatcher, now);
      if (now - lastHousekeeping >= HOUSEKEEPING_MS) {
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
