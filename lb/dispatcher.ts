/**
 * The dispatcher: everything the director decides per packet or per new connection, in pure,
 * synchronous TypeScript without I/O, so the DR/TUN data plane can run it inside a Worker and the
 * proxy forwarder on the main thread.
 *
 * Per packet, {@link Dispatcher.schedule} does what IPVS's `ip_vs_in()` does for a client-to-server
 * packet:
 *
 * 1. Look the 5-tuple up in the connection table. Found: advance the TCP state from the client's
 *    flags (see `tcp_state.ts`), re-arm its timeout, return its server. A SYN on an entry in
 *    FIN_WAIT, TIME_WAIT or CLOSE ends the old entry and is scheduled afresh (port reuse).
 * 2. Not found: find the virtual service (VIP:port, else a transparent service on the port), and
 *    schedule even without a SYN ("sloppy" TCP, so a director restart keeps flows).
 * 3. Persistence: a live template for `client & netmask` wins; a template to a server that left, or
 *    (with `expireQuiescentTemplate`) to a weight 0 server, expires and the client is rescheduled.
 * 4. Otherwise the service's scheduler; when it finds nothing and every real server is down, the
 *    sorry server.
 * 5. Record the connection. When the table is full (`maxConnections`), the flow is scheduled
 *    statelessly by a Maglev hash of the client (address and port; address & netmask for
 *    persistent services) over the eligible servers, so every packet of the flow reaches the same
 *    server; this is counted and logged at most once a second.
 *
 * Call {@link Dispatcher.expire} about once a second for housekeeping.
 *
 * @example
 * ```ts
 * const d = new Dispatcher({ maxConnections: 1_000_000 });
 * d.configure([{ vip: "10.0.0.100", port: 80, scheduler: "wlc", reals: [{ address: "10.0.0.11", weight: 1 }] }]);
 * const flow = { saddr: 0x0a000005, sport: 40000, daddr: 0x0a000064, dport: 80 };
 * const id = d.schedule(flow, TCP_SYN, Date.now()); // server id or undefined
 * const rs = id === undefined ? undefined : d.server(id); // rs.address, rs.port, rs.method
 * ```
 *
 * @module
 */
import { intToIpv4, ipv4ToInt, isIPv4, parseHostPort } from "../core/addr.ts";
import { getLogger } from "../core/log.ts";
import { ConnTable } from "./conn_table.ts";
import { type ForwardMethod, type MemberState, RealServer } from "./real_server.ts";
import { fmix32, stringHash } from "./scheduler/_hash.ts";
import type { FlowOffload } from "./flow_offload.ts";
import { createScheduler, type FlowKey } from "./scheduler/mod.ts";
import {
  DEFAULT_TCP_TIMEOUTS,
  isReusable,
  nextTcpState,
  TCP_ACK,
  TCP_STATE_NAMES,
  TCP_SYN,
  TcpState,
  type TcpTimeouts,
  timeoutTableMs,
} from "./tcp_state.ts";
import { type Template, VirtualService } from "./virtual_service.ts";

const log = getLogger("lb.dispatcher");

/** Why a packet got its server; `Dispatcher.lastReason` holds one of these after each call. */
export const Reason = {
  /** An existing connection entry. */
  CONNECTION: 0,
  /** A persistence template. */
  TEMPLATE: 1,
  /** The service's scheduler. */
  SCHEDULER: 2,
  /** The sorry server (all real servers down). */
  SORRY: 3,
  /** Table full: stateless consistent hash. */
  OVERFLOW: 4,
  /** No virtual service matches the destination. */
  NO_SERVICE: 5,
  /** The service has no server that can take the connection. */
  NO_SERVER: 6,
} as const;

/** Reason names by number. */
export const REASON_NAMES: readonly string[] = [
  "connection",
  "template",
  "scheduler",
  "sorry",
  "overflow",
  "no-service",
  "no-server",
];

/** Connection-table flag: the entry was placed through a persistence template. */
/**
 * Receives the connection-table changes a director HA MASTER streams to its BACKUPs
 * (`lb/ha/conn_change_log.ts`): called on a new entry, a TCP state change, a removal (with the
 * flow, before its slot is freed) and a template created or refreshed by a new connection.
 */
export interface ConnChangeLog {
  /** An entry was added or changed state at `slot`. */
  changed(slot: number): void;
  /** The entry at `slot` is about to be removed (expired, reset, replaced). */
  removed(slot: number): void;
  /** The template of `client & netmask` in service `serviceId` was created or refreshed. */
  template(serviceId: number, client: number): void;
}

const F_PERSIST = 1;
/** Connection-table flag: the entry is installed in the {@link Dispatcher.offload} (never saved). */
const F_OFFLOADED = 2;
/**
 * A kernel-scheduled entry is looked at once this long after the kernel reported its SYN (ms): past its
 * handshake by then, it is promoted to ESTABLISHED, so the active counts follow within about a second
 * instead of SYN_RECV's 60 s timeout.
 */
export const ADOPT_PROMOTE_AFTER_MS = 1000;
/**
 * Most of those looks per {@link Dispatcher.expire} (each reads the kernel's flow: a map lookup). Beyond,
 * entries wait for the timeout as before, so a flood of new connections costs housekeeping a bounded time.
 */
export const ADOPT_PROMOTE_MAX_CHECKS = 4096;

/**
 * A virtual service as the dispatcher needs it: structurally the validated `director.services[]`
 * entry of appliance.yaml (so the main thread can post its config to a Worker unchanged).
 */
export interface ServiceSpec {
  /** Service name. */
  name?: string;
  /** Virtual IPv4 address (absent for transparent services). */
  vip?: string;
  /** Virtual port. */
  port: number;
  /** Match every destination on the port. */
  transparent?: boolean;
  /** Scheduler name, default wlc. */
  scheduler?: string;
  /** Default forwarding method, default proxy. */
  method?: ForwardMethod;
  /** Proxy method: listen address instead of the VIP. */
  listen?: string;
  /** Proxy method: send PROXY v2. */
  proxyProtocol?: boolean;
  /** Persistence timeout (0: off) and netmask. */
  persistence?: { timeoutS: number; netmask: number };
  /** Real servers. */
  reals: {
    address: string;
    port?: number;
    weight?: number;
    /** Default forwarding method, default proxy. */
    method?: ForwardMethod;
    upperThreshold?: number;
  }[];
  /** Only `inhibitOnFailure` matters here: weight 0 instead of removal. */
  health?: { inhibitOnFailure?: boolean };
  /** `HOST:PORT` used while every real server is down. */
  sorryServer?: string;
}

/** Options of {@link Dispatcher}. */
export interface DispatcherOptions {
  /** Connection table bound (`director.maxConnections`). */
  maxConnections: number;
  /** TCP state timeouts in seconds (IPVS defaults). */
  timeouts?: Partial<TcpTimeouts>;
  /** Expire templates to servers with weight 0 (`director.expireQuiescentTemplate`), default true. */
  expireQuiescentTemplate?: boolean;
}

/** What {@link Dispatcher.route} reports. */
export interface RouteDecision {
  /** Service key, when one matched. */
  service?: string;
  /** Chosen server `ADDR:PORT`. */
  server?: string;
  /** Chosen server id. */
  serverId?: number;
  /** Forwarding method of the chosen server. */
  method?: string;
  /** One of {@link REASON_NAMES}. */
  reason: string;
  /** A sentence saying why. */
  detail: string;
  /** TCP state the connection would be in afterwards. */
  state?: string;
}

/** Address of a real server as a 32-bit number: IPv4 as is, names hashed (used only for hashing). */
export function addrNumber(address: string): number {
  return isIPv4(address) ? ipv4ToInt(address) : stringHash(address, 0);
}

/** Counters kept by the dispatcher (read by lb/metrics.ts). */
export interface DispatcherCounters {
  /** New connections recorded. */
  newConns: number;
  /** Flows scheduled statelessly because the table was full. */
  overflow: number;
  /** Packets of new flows that found no server. */
  noServer: number;
  /** Packets for which no service matched. */
  noService: number;
  /** Templates not created because the table was full. */
  templateOverflow: number;
}

/** The dispatcher. */
export class Dispatcher {
  /** The connection table. */
  readonly table: ConnTable;
  /** Counters for metrics. */
  readonly counters: DispatcherCounters = { newConns: 0, overflow: 0, noServer: 0, noService: 0, templateOverflow: 0 };
  /** Reason code of the last {@link schedule} call. */
  lastReason = 0;
  /**
   * Grows whenever a connection entry or template is added, touched, changed or removed, so a
   * saver can skip snapshots of an unchanged table (`lb/dataplane/state_keeper.ts`).
   */
  changes = 0;
  /**
   * A fast path that forwards established flows without this dispatcher (`flow_offload.ts`); set it
   * before the first packet or restore. Absent: every packet is scheduled here.
   */
  offload: FlowOffload | undefined;
  /** Connection-sync journal of an HA MASTER (`ConnChangeLog`); absent: nothing is recorded. */
  changeLog: ConnChangeLog | undefined;
  #timeouts: Float64Array;
  #timeoutsS: TcpTimeouts;
  #expireQuiescent: boolean;
  #services: VirtualService[] = [];
  /** Services in match order (non-removed). */
  #active: VirtualService[] = [];
  #servers: (RealServer | undefined)[] = [];
  #freeIds: number[] = [];
  #templateCount = 0;
  /** Kernel-scheduled entries to look at once: slot, due time, ... (from {@link #adoptHead}). */
  #adopted: number[] = [];
  #adoptHead = 0;
  #lastOverflowLogMs = -Infinity;
  #overflowSinceLog = 0;

  /**
   * Creates a dispatcher without services.
   *
   * @param opts table bound, timeouts, quiescent-template policy
   */
  constructor(opts: DispatcherOptions) {
    this.table = new ConnTable(opts.maxConnections);
    this.#timeoutsS = { ...DEFAULT_TCP_TIMEOUTS, ...opts.timeouts };
    this.#timeouts = timeoutTableMs(this.#timeoutsS);
    this.#expireQuiescent = opts.expireQuiescentTemplate ?? true;
  }

  /** Sets new timeouts and the quiescent-template policy (reload); existing entries keep their expiry. */
  setOptions(opts: { timeouts?: Partial<TcpTimeouts>; expireQuiescentTemplate?: boolean }): void {
    if (opts.timeouts) {
      this.#timeoutsS = { ...this.#timeoutsS, ...opts.timeouts };
      this.#timeouts = timeoutTableMs(this.#timeoutsS);
    }
    if (opts.expireQuiescentTemplate !== undefined) this.#expireQuiescent = opts.expireQuiescentTemplate;
  }

  /** The state timeouts in seconds. */
  get timeouts(): Readonly<TcpTimeouts> {
    return this.#timeoutsS;
  }

  /** Live (not removed) services in configuration order. */
  get services(): readonly VirtualService[] {
    return this.#active;
  }

  /** A server by id, including servers removed from the config that still have connections. */
  server(id: number): RealServer | undefined {
    return this.#servers[id];
  }

  /** Persistence templates in all services. */
  get templateCount(): number {
    return this.#templateCount;
  }

  /** One past the highest server id in use (iteration bound for {@link server}). */
  get serverIdBound(): number {
    return this.#servers.length;
  }

  /** A service by id, including services removed from the config that still have connections. */
  serviceById(id: number): VirtualService | undefined {
    return this.#services[id];
  }

  /**
   * Re-creates a connection entry from saved state (`conn_state.ts`), before any packet is
   * scheduled: counts it on its server and, when `persistent`, as a reference of the service's
   * template for the client (if that template exists and points to the same server).
   *
   * @param s a configured server of `svc` (or its sorry server)
   * @returns false when the flow already has an entry or the table is full
   */
  restoreConnection(
    svc: VirtualService,
    s: RealServer,
    flow: { saddr: number; daddr: number; ports: number },
    state: number,
    persistent: boolean,
    expiresMs: number,
  ): boolean {
    const t = this.table;
    if (t.full || t.lookup(flow.saddr, flow.daddr, flow.ports) >= 0) return false;
    const slot = t.insert(flow.saddr, flow.daddr, flow.ports, svc.id, s.id, state, expiresMs);
    if (state === TcpState.ESTABLISHED) s.activeConns++;
    else s.inactConns++;
    s.refreshOverload();
    if (persistent) {
      const tpl = svc.templates.get((flow.saddr & svc.persistMask) | 0);
      if (tpl && tpl.server === s.id) {
        tpl.refs++;
        t.setFlags(slot, F_PERSIST);
      }
    }
    if (state === TcpState.ESTABLISHED) this.#install(slot);
    this.changes++;
    return true;
  }

  /**
   * Enters a connection the in-kernel fast path scheduled by itself (a SYN to an mh service,
   * `netctl/dr_fast_path.ts`): installed, since the kernel already forwards its packets, and SYN_RECV with its
   * timeout (60 s), as IPVS enters a SYN, so a SYN flood's entries go as soon as IPVS's would. {@link expire}
   * promotes it to ESTABLISHED once the kernel forwarded more than its SYN (the offload's packet count, read
   * once {@link ADOPT_PROMOTE_AFTER_MS} after adoption and again when SYN_RECV's timeout runs out: no
   * per-packet work), so the active counts follow within about a second; its FIN or RST still reaches
   * {@link schedule}, which moves it on and uninstalls it. A 4-tuple that already has an entry (a reused port, a retransmitted SYN) takes the kernel's
   * choice.
   *
   * @param flow the client, VIP and `sport << 16 | dport`
   * @param serverId the server the kernel chose
   * @returns false when the server is not one of the flow's service or the table is full (the caller then
   *   removes the kernel's flow, and the flow's next packets are scheduled here)
   */
  adoptConnection(flow: { saddr: number; daddr: number; ports: number }, serverId: number, nowMs: number): boolean {
    const s = this.#servers[serverId];
    const svc = this.findService(flow.daddr, flow.ports & 0xffff);
    if (!s || s.removed || !svc || s.serviceId !== svc.id) return false;
    const t = this.table;
    const expires = nowMs + this.#timeouts[TcpState.SYN_RECV];
    let slot = t.lookup(flow.saddr, flow.daddr, flow.ports);
    if (slot >= 0) {
      const st = t.state(slot);
      if (t.server(slot) === s.id && (st === TcpState.ESTABLISHED || st === TcpState.SYN_RECV)) {
        t.setFlags(slot, t.flags(slot) | F_OFFLOADED);
        t.setExpires(slot, Math.max(t.expires(slot), expires));
        return true;
      }
      // The kernel replaced its flow already: forget ours without removing that.
      t.setFlags(slot, t.flags(slot) & ~F_OFFLOADED);
      this.#removeConn(slot);
    }
    if (t.full) return false;
    slot = t.insert(flow.saddr, flow.daddr, flow.ports, svc.id, s.id, TcpState.SYN_RECV, expires);
    t.setFlags(slot, F_OFFLOADED);
    if (this.#adopted.length - this.#adoptHead < 2 * t.capacity) {
      this.#adopted.push(slot, nowMs + ADOPT_PROMOTE_AFTER_MS);
    }
    this.changes++;
    this.counters.newConns++;
    s.conns++;
    s.inactConns++;
    s.refreshOverload();
    this.changeLog?.changed(slot);
    return true;
  }

  /**
   * Re-creates a persistence template from saved state (`conn_state.ts`); the caller has checked
   * that the service is persistent with the same netmask.
   *
   * @param client `client address & netmask`
   * @returns false when the client has a template already or the template bound is reached
   */
  restoreTemplate(svc: VirtualService, client: number, s: RealServer, expiresMs: number): boolean {
    const key = client | 0;
    if (svc.templates.has(key) || this.#templateCount >= this.table.maxEntries) return false;
    svc.templates.set(key, { server: s.id, expiresMs, refs: 0 });
    this.#templateCount++;
    this.changes++;
    return true;
  }

  /**
   * Applies one entry a director HA MASTER synced (`lb/ha/sync_apply.ts`): inserts it, or updates
   * the state, server and expiry of the flow's entry (moving its counts and fast-path flow), so a
   * BACKUP's table follows the MASTER's.
   *
   * @returns false when the table is full
   */
  syncConnection(
    svc: VirtualService,
    s: RealServer,
    flow: { saddr: number; daddr: number; ports: number },
    state: number,
    persistent: boolean,
    expiresMs: number,
  ): boolean {
    const t = this.table;
    const slot = t.lookup(flow.saddr, flow.daddr, flow.ports);
    if (slot >= 0 && (t.server(slot) !== s.id || t.service(slot) !== svc.id)) this.#removeConn(slot);
    else if (slot >= 0) {
      const st = t.state(slot);
      if (st !== state) {
        if (st === TcpState.ESTABLISHED) this.#uninstall(slot);
        t.setState(slot, state);
        this.#moveCount(s, st, state);
        if (state === TcpState.ESTABLISHED) this.#install(slot);
      }
      t.setExpires(slot, expiresMs);
      this.changes++;
      return true;
    }
    return this.restoreConnection(svc, s, flow, state, persistent, expiresMs);
  }

  /**
   * Applies one persistence template a director HA MASTER synced: creates it, or points it at `s`
   * with the new expiry.
   *
   * @returns false when the template bound is reached
   */
  syncTemplate(svc: VirtualService, client: number, s: RealServer, expiresMs: number): boolean {
    const tpl = svc.templates.get(client | 0);
    if (!tpl) return this.restoreTemplate(svc, client, s, expiresMs);
    tpl.server = s.id;
    tpl.expiresMs = Math.max(tpl.expiresMs, expiresMs);
    this.changes++;
    return true;
  }

  /**
   * Removes the entry of a flow that ended on the MASTER (synced with no time left).
   *
   * @returns whether there was one
   */
  syncRemove(flow: { saddr: number; daddr: number; ports: number }): boolean {
    const slot = this.table.lookup(flow.saddr, flow.daddr, flow.ports);
    if (slot < 0) return false;
    this.#removeConn(slot);
    return true;
  }

  /**
   * Applies a service list (start and every reload). Services and servers are matched by key
   * (`VIP:PORT`, `ADDR:PORT`) so counts, templates and connections carry over; servers that are gone
   * are kept, out of scheduling, until their last connection ends.
   *
   * @throws {RangeError} for an unknown scheduler or a bad sorry server (nothing is changed then)
   */
  configure(specs: readonly ServiceSpec[]): void {
    for (const spec of specs) {
      createScheduler(spec.scheduler ?? "wlc");
      if (spec.sorryServer) parseHostPort(spec.sorryServer);
    }
    const byKey = new Map(this.#services.filter((s) => !s.removed).map((s) => [s.key, s]));
    const next: VirtualService[] = [];
    for (const spec of specs) {
      const key = spec.transparent ? `*:${spec.port}` : `${spec.vip}:${spec.port}`;
      let svc = byKey.get(key);
      byKey.delete(key);
      const schedName = spec.scheduler ?? "wlc";
      if (!svc) {
        svc = new VirtualService(this.#services.length, key, createScheduler(schedName));
        this.#services.push(svc);
      } else if (svc.schedulerName !== schedName) {
        svc.scheduler = createScheduler(schedName);
        svc.schedulerName = schedName;
      }
      svc.name = spec.name ?? key;
      svc.transparent = spec.transparent ?? false;
      svc.vip = svc.transparent || !spec.vip ? 0 : ipv4ToInt(spec.vip);
      svc.port = spec.port;
      svc.method = spec.method ?? "proxy";
      svc.listen = spec.listen;
      svc.proxyProtocol = spec.proxyProtocol ?? false;
      svc.setPersistence(spec.persistence?.timeoutS ?? 0, spec.persistence?.netmask ?? 32);
      this.#applyServers(svc, spec);
      next.push(svc);
    }
    for (const gone of byKey.values()) {
      gone.removed = true;
      for (const s of gone.servers) this.#removeServer(s);
      if (gone.sorryServer) this.#removeServer(gone.sorryServer);
      this.#templateCount -= gone.templates.size;
      gone.templates.clear();
    }
    // Exact VIP matches first, then transparent services (IPVS: service by address, then fwmark).
    this.#active = [...next.filter((s) => !s.transparent), ...next.filter((s) => s.transparent)];
    for (const s of this.#active) s.rebuild();
  }

  #applyServers(svc: VirtualService, spec: ServiceSpec): void {
    const old = new Map(svc.servers.map((s) => [s.key, s]));
    const list: RealServer[] = [];
    for (const r of spec.reals) {
      const port = r.port ?? spec.port;
      const probe = `${r.address.includes(":") ? `[${r.address}]` : r.address}:${port}`;
      let s = old.get(probe);
      old.delete(probe);
      if (!s) {
        s = new RealServer({
          id: this.#allocId(),
          address: r.address,
          addr: addrNumber(r.address),
          port,
          serviceId: svc.id,
          weight: r.weight ?? 1,
        });
        this.#servers[s.id] = s;
      }
      s.configWeight = r.weight ?? 1;
      s.upperThreshold = r.upperThreshold ?? 0;
      s.method = r.method ?? spec.method ?? "proxy";
      s.inhibitOnFailure = spec.health?.inhibitOnFailure ?? false;
      s.refreshWeight();
      s.refreshOverload();
      list.push(s);
    }
    for (const gone of old.values()) this.#removeServer(gone);
    svc.servers = list;
    const sorryKey = spec.sorryServer;
    if (svc.sorryServer && svc.sorryServer.key !== sorryKey) {
      this.#removeServer(svc.sorryServer);
      svc.sorryServer = undefined;
    }
    if (sorryKey && !svc.sorryServer) {
      const hp = parseHostPort(sorryKey);
      const s = new RealServer({
        id: this.#allocId(),
        address: hp.host,
        addr: addrNumber(hp.host),
        port: hp.port,
        serviceId: svc.id,
        weight: 1,
        sorry: true,
      });
      s.method = spec.method ?? "proxy";
      this.#servers[s.id] = s;
      svc.sorryServer = s;
    }
  }

  #allocId(): number {
    const id = this.#freeIds.pop() ?? this.#servers.length;
    if (id > 0xffff) throw new RangeError(`Cannot add real server: more than 65536 servers`);
    return id;
  }

  #removeServer(s: RealServer): void {
    s.removed = true;
    if (s.totalConns === 0) this.#freeServer(s);
  }

  #freeServer(s: RealServer): void {
    if (this.#servers[s.id] !== s) return;
    // Templates must not follow the id to whichever server reuses it.
    const svc = this.#services[s.serviceId];
    if (svc) {
      for (const [k, t] of svc.templates) {
        if (t.server === s.id) {
          svc.templates.delete(k);
          this.#templateCount--;
        }
      }
    }
    this.#servers[s.id] = undefined;
    this.#freeIds.push(s.id);
  }

  /**
   * The service for a destination: exact VIP:port first, then a transparent service on the port.
   *
   * @returns the service, or `undefined`
   */
  findService(daddr: number, dport: number): VirtualService | undefined {
    const list = this.#active;
    for (let i = 0; i < list.length; i++) {
      const s = list[i];
      if (s.port === dport && (s.transparent || s.vip === daddr)) return s;
    }
    return undefined;
  }

  /**
   * Decides the server for one client-to-server packet (or a proxied connection event).
   *
   * @param flow the packet's addresses (IPv4 as u32); not retained
   * @param tcpFlags the TCP flag byte (`TCP_SYN`, `TCP_ACK`, ...)
   * @param nowMs the current time in ms (any monotonic clock, used consistently)
   * @returns the server id (see {@link server}), or `undefined` to drop or refuse
   */
  schedule(flow: FlowKey, tcpFlags: number, nowMs: number): number | undefined {
    const ports = ((flow.sport << 16) | flow.dport) >>> 0;
    const t = this.table;
    let slot = t.lookup(flow.saddr, flow.daddr, ports);
    if (slot >= 0) {
      const st = t.state(slot);
      if ((tcpFlags & TCP_SYN) !== 0 && (tcpFlags & TCP_ACK) === 0 && isReusable(st)) {
        this.#removeConn(slot);
        slot = -1;
      } else {
        const ns = nextTcpState(st, tcpFlags);
        const s = this.#servers[t.server(slot)];
        if (ns !== st) {
          // Leaving ESTABLISHED, or a kernel-scheduled entry's SYN_RECV (its FIN passed in the kernel): uninstall.
          if (ns !== TcpState.ESTABLISHED) this.#uninstall(slot);
          t.setState(slot, ns);
          if (s) this.#moveCount(s, st, ns);
          if (ns === TcpState.ESTABLISHED) this.#install(slot);
          this.changeLog?.changed(slot);
        }
        t.setExpires(slot, nowMs + this.#timeouts[ns]);
        this.changes++;
        this.lastReason = Reason.CONNECTION;
        return t.server(slot);
      }
    }
    const svc = this.findService(flow.daddr, flow.dport);
    if (!svc) {
      this.counters.noService++;
      this.lastReason = Reason.NO_SERVICE;
      return undefined;
    }
    const full = t.full;
    const s = full ? this.#selectStateless(svc, flow, nowMs) : this.#select(svc, flow, nowMs, false);
    if (!s) {
      this.counters.noServer++;
      this.lastReason = Reason.NO_SERVER;
      return undefined;
    }
    if (full) {
      this.#noteOverflow(svc, nowMs);
      return s.id;
    }
    const ns = nextTcpState(TcpState.NONE, tcpFlags);
    slot = t.insert(flow.saddr, flow.daddr, ports, svc.id, s.id, ns, nowMs + this.#timeouts[ns]);
    this.changes++;
    this.counters.newConns++;
    s.conns++;
    if (ns === TcpState.ESTABLISHED) s.activeConns++;
    else s.inactConns++;
    s.refreshOverload();
    if (this.lastReason === Reason.TEMPLATE || (this.lastReason === Reason.SCHEDULER && svc.persistTimeoutMs > 0)) {
      const tpl = svc.templates.get((flow.saddr & svc.persistMask) | 0);
      if (tpl && tpl.server === s.id) {
        tpl.refs++;
        t.setFlags(slot, F_PERSIST);
      }
    }
    if (ns === TcpState.ESTABLISHED) this.#install(slot);
    if (this.changeLog) {
      if (svc.persistTimeoutMs > 0) this.changeLog.template(svc.id, (flow.saddr & svc.persistMask) | 0);
      this.changeLog.changed(slot);
    }
    return s.id;
  }

  /**
   * Adds traffic to a server's counters (the forwarder calls this; packets are reads for the proxy).
   */
  account(serverId: number, inPkts: number, inBytes: number, outPkts: number, outBytes: number): void {
    const s = this.#servers[serverId];
    if (!s) return;
    s.inPkts += inPkts;
    s.inBytes += inBytes;
    s.outPkts += outPkts;
    s.outBytes += outBytes;
  }

  /**
   * Housekeeping: removes expired connections and templates. Call about once a second.
   *
   * @returns the number of connection entries removed
   */
  expire(nowMs: number): number {
    this.#promoteAdopted(nowMs);
    const t = this.table;
    let n = 0;
    const high = t.highWater;
    for (let i = 0; i < high; i++) {
      if (t.used(i) && t.expires(i) <= nowMs) {
        if ((t.flags(i) & F_OFFLOADED) !== 0) {
          // A connection the kernel scheduled is SYN_RECV until here: established once more than its SYN
          // passed in the kernel; a SYN alone (a flood) expires after SYN_RECV's timeout, as in IPVS.
          if (t.state(i) === TcpState.SYN_RECV && this.offload!.packets(t, i) > 1) this.#promote(i);
          // Packets that bypassed the dispatcher did not re-arm the timeout: extend it from the last one.
          const until = this.offload!.lastSeenMs(t, i) + this.#timeouts[t.state(i)];
          if (until > nowMs) {
            t.setExpires(i, until);
            this.changes++;
            continue;
          }
        }
        this.#removeConn(i);
        n++;
      }
    }
    for (const svc of this.#services) {
      for (const [k, tpl] of svc.templates) {
        if (tpl.expiresMs > nowMs) continue;
        this.changes++;
        if (tpl.refs > 0) tpl.expiresMs = nowMs + svc.persistTimeoutMs;
        else {
          svc.templates.delete(k);
          this.#templateCount--;
        }
      }
    }
    return n;
  }

  /** Ends one connection entry now (the proxy calls this when it knows a connection is gone). */
  forget(flow: FlowKey): boolean {
    const slot = this.table.lookup(flow.saddr, flow.daddr, ((flow.sport << 16) | flow.dport) >>> 0);
    if (slot < 0) return false;
    this.#removeConn(slot);
    return true;
  }

  #removeConn(slot: number): void {
    const t = this.table;
    this.changes++;
    this.changeLog?.removed(slot);
    this.#uninstall(slot);
    const s = this.#servers[t.server(slot)];
    if (s) {
      if (t.state(slot) === TcpState.ESTABLISHED) s.activeConns--;
      else s.inactConns--;
      s.refreshOverload();
      if ((t.flags(slot) & F_PERSIST) !== 0) {
        const svc = this.#services[t.service(slot)];
        const tpl = svc?.templates.get((t.saddr(slot) & svc.persistMask) | 0);
        if (tpl && tpl.refs > 0) tpl.refs--;
      }
      t.remove(slot);
      if (s.removed && s.totalConns === 0) this.#freeServer(s);
    } else t.remove(slot);
  }

  /**
   * Looks once at each kernel-scheduled entry adopted {@link ADOPT_PROMOTE_AFTER_MS} ago (at most
   * {@link ADOPT_PROMOTE_MAX_CHECKS}): past its SYN in the kernel, it is ESTABLISHED now. A slot reused since
   * is looked at the same way (the check holds for any kernel-scheduled SYN_RECV entry).
   */
  #promoteAdopted(nowMs: number): void {
    const q = this.#adopted, t = this.table;
    let h = this.#adoptHead, budget = ADOPT_PROMOTE_MAX_CHECKS;
    for (; h < q.length && q[h + 1] <= nowMs; h += 2) {
      const slot = q[h];
      if (!t.used(slot) || (t.flags(slot) & F_OFFLOADED) === 0 || t.state(slot) !== TcpState.SYN_RECV) continue;
      if (budget-- <= 0) continue; // over budget: SYN_RECV's timeout decides, as before
      if (this.offload!.packets(t, slot) > 1) this.#promote(slot);
    }
    if (h === q.length) {
      q.length = 0;
      h = 0;
    } else if (h > 4096 && h * 2 > q.length) {
      q.splice(0, h);
      h = 0;
    }
    this.#adoptHead = h;
  }

  /** A kernel-scheduled entry seen past its SYN: ESTABLISHED (it stays installed). */
  #promote(slot: number): void {
    const t = this.table;
    t.setState(slot, TcpState.ESTABLISHED);
    const s = this.#servers[t.server(slot)];
    if (s) this.#moveCount(s, TcpState.SYN_RECV, TcpState.ESTABLISHED);
    this.changeLog?.changed(slot);
  }

  #install(slot: number): void {
    const t = this.table;
    if (this.offload?.install(t, slot)) t.setFlags(slot, t.flags(slot) | F_OFFLOADED);
  }

  #uninstall(slot: number): void {
    const t = this.table;
    const f = t.flags(slot);
    if ((f & F_OFFLOADED) === 0) return;
    t.setFlags(slot, f & ~F_OFFLOADED);
    this.offload?.remove(t, slot);
  }

  #moveCount(s: RealServer, from: number, to: number): void {
    const wasActive = from === TcpState.ESTABLISHED;
    const isActive = to === TcpState.ESTABLISHED;
    if (wasActive === isActive) return;
    if (isActive) {
      s.activeConns++;
      s.inactConns--;
    } else {
      s.activeConns--;
      s.inactConns++;
    }
    s.refreshOverload();
  }

  /** Template, scheduler, sorry server. With `dry`, changes nothing (the scheduler runs on a clone). */
  #select(svc: VirtualService, flow: FlowKey, nowMs: number, dry: boolean): RealServer | undefined {
    const persistent = svc.persistTimeoutMs > 0;
    let key = 0;
    if (persistent) {
      key = (flow.saddr & svc.persistMask) | 0;
      const tpl = svc.templates.get(key);
      if (tpl) {
        const s = this.#servers[tpl.server];
        if (this.#templateValid(tpl, s, svc, nowMs)) {
          if (!dry) tpl.expiresMs = nowMs + svc.persistTimeoutMs;
          this.lastReason = Reason.TEMPLATE;
          return s;
        }
        if (!dry) {
          svc.templates.delete(key);
          this.#templateCount--;
        }
      }
    }
    const sched = dry ? svc.scheduler.clone() : svc.scheduler;
    const s = sched.schedule(svc.eligible, flow, nowMs);
    if (s) {
      this.lastReason = Reason.SCHEDULER;
      const rs = s as RealServer;
      if (persistent && !dry) {
        if (this.#templateCount < this.table.maxEntries) {
          svc.templates.set(key, { server: rs.id, expiresMs: nowMs + svc.persistTimeoutMs, refs: 0 });
          this.#templateCount++;
        } else this.counters.templateOverflow++;
      }
      return rs;
    }
    if (svc.sorryServer && svc.allDown) {
      this.lastReason = Reason.SORRY;
      return svc.sorryServer;
    }
    this.lastReason = Reason.NO_SERVER;
    return undefined;
  }

  #templateValid(tpl: Template, s: RealServer | undefined, svc: VirtualService, nowMs: number): s is RealServer {
    if (!s || s.removed || s.serviceId !== svc.id || !s.eligible) return false;
    if (tpl.expiresMs <= nowMs && tpl.refs === 0) return false;
    if (s.weight === 0 && this.#expireQuiescent) return false;
    return true;
  }

  #selectStateless(svc: VirtualService, flow: FlowKey, nowMs: number): RealServer | undefined {
    if (svc.persistTimeoutMs > 0) {
      const tpl = svc.templates.get((flow.saddr & svc.persistMask) | 0);
      const s = tpl ? this.#servers[tpl.server] : undefined;
      if (tpl && this.#templateValid(tpl, s, svc, nowMs)) {
        this.lastReason = Reason.TEMPLATE;
        return s;
      }
    }
    const h = svc.persistTimeoutMs > 0
      ? fmix32(flow.saddr & svc.persistMask)
      : fmix32((flow.saddr ^ Math.imul(flow.sport, 0x9e3779b1)) >>> 0);
    const s = svc.overflow.lookup(svc.eligible, h) as RealServer | undefined;
    if (s) {
      this.lastReason = Reason.OVERFLOW;
      return s;
    }
    if (svc.sorryServer && svc.allDown) {
      this.lastReason = Reason.SORRY;
      return svc.sorryServer;
    }
    return undefined;
  }

  #noteOverflow(svc: VirtualService, nowMs: number): void {
    this.counters.overflow++;
    this.#overflowSinceLog++;
    if (nowMs - this.#lastOverflowLogMs >= 1000) {
      log.warn("Connection table full: scheduling new flows statelessly", {
        vip: svc.key,
        maxConnections: this.table.maxEntries,
        flows: this.#overflowSinceLog,
      });
      this.#lastOverflowLogMs = nowMs;
      this.#overflowSinceLog = 0;
    }
  }

  // ---- control plane: health, drain, membership ----

  /** Servers matching `ADDR:PORT` or `ADDR` in any service (sorry servers excluded). */
  findServers(target: string, serviceKey?: string): RealServer[] {
    const out: RealServer[] = [];
    for (const svc of this.#active) {
      if (serviceKey && svc.key !== serviceKey && svc.name !== serviceKey) continue;
      for (const s of svc.servers) if (s.key === target || s.address === target) out.push(s);
    }
    return out;
  }

  /**
   * Sets a health verdict. Down servers leave the scheduler's list, or with `inhibitOnFailure`
   * stay with weight 0. Returns whether anything changed.
   */
  setHealth(serverId: number, up: boolean): boolean {
    const s = this.#servers[serverId];
    if (!s || s.up === up) return false;
    s.up = up;
    s.refreshWeight();
    this.#services[s.serviceId]?.rebuild();
    return true;
  }

  /** Drains (`on`) or undrains servers matching `target` (`ADDR:PORT` or `ADDR`); returns them. */
  drain(target: string, on = true): RealServer[] {
    const list = this.findServers(target);
    for (const s of list) {
      s.drained = on;
      if (s.refreshWeight()) this.#services[s.serviceId]?.rebuild();
    }
    return list;
  }

  /**
   * Feeds a cluster membership state for a node address: `dead`/`left` act like a failed health
   * check, `draining` like a drain, `alive` clears both, `suspect` changes nothing.
   *
   * @returns the servers affected
   */
  setMembership(address: string, state: MemberState): RealServer[] {
    const list = this.findServers(address);
    for (const s of list) {
      if (state === "suspect") continue;
      s.memberDown = state === "dead" || state === "left";
      s.memberDraining = state === "draining";
      s.refreshWeight();
      this.#services[s.serviceId]?.rebuild();
    }
    return list;
  }

  /**
   * Says which server a flow would get and why, without changing any state (the scheduler runs on a
   * copy). `webcache director route` prints this.
   *
   * @param tcpFlags flags of the hypothetical packet, default a SYN
   */
  route(flow: FlowKey, nowMs: number, tcpFlags = TCP_SYN): RouteDecision {
    const ports = ((flow.sport << 16) | flow.dport) >>> 0;
    const slot = this.table.lookup(flow.saddr, flow.daddr, ports);
    const client = `${intToIpv4(flow.saddr)}:${flow.sport}`;
    if (slot >= 0 && !((tcpFlags & TCP_SYN) && !(tcpFlags & TCP_ACK) && isReusable(this.table.state(slot)))) {
      const s = this.#servers[this.table.server(slot)];
      const st = this.table.state(slot);
      return {
        service: this.#services[this.table.service(slot)]?.key,
        server: s?.key,
        serverId: s?.id,
        method: s?.method,
        reason: "connection",
        detail: `${client} has a connection entry in state ${TCP_STATE_NAMES[st]}`,
        state: TCP_STATE_NAMES[nextTcpState(st, tcpFlags)],
      };
    }
    const svc = this.findService(flow.daddr, flow.dport);
    if (!svc) {
      return {
        reason: "no-service",
        detail: `no virtual service matches ${intToIpv4(flow.daddr)}:${flow.dport}`,
      };
    }
    const full = this.table.full;
    const saved = this.lastReason;
    const s = full ? this.#selectStateless(svc, flow, nowMs) : this.#select(svc, flow, nowMs, true);
    const reason = s ? this.lastReason : Reason.NO_SERVER;
    this.lastReason = saved;
    const state = TCP_STATE_NAMES[nextTcpState(TcpState.NONE, tcpFlags)];
    const base = { service: svc.key, server: s?.key, serverId: s?.id, method: s?.method, state };
    switch (reason) {
      case Reason.TEMPLATE:
        return {
          ...base,
          reason: "template",
          detail: `persistence template for ${intToIpv4((flow.saddr & svc.persistMask) >>> 0)}/${svc.persistNetmask}`,
        };
      case Reason.SCHEDULER:
        return {
          ...base,
          reason: "scheduler",
          detail:
            `scheduler ${svc.schedulerName} chose ${s!.key} (weight ${s!.weight}, active ${s!.activeConns}, inactive ${
              s!.inactConns
            }) among ${svc.eligible.length} eligible server(s)` +
            (svc.persistTimeoutMs > 0 ? `; a template for /${svc.persistNetmask} would be created` : ""),
        };
      case Reason.SORRY:
        return { ...base, reason: "sorry", detail: `every real server is down: sorry server ${s!.key}` };
      case Reason.OVERFLOW:
        return { ...base, reason: "overflow", detail: "connection table full: stateless Maglev hash of the client" };
      default:
        return {
          ...base,
          reason: "no-server",
          detail: `scheduler ${svc.schedulerName} found no server: ${svc.eligible.length} eligible, ` +
            `${svc.eligible.filter((x) => x.weight > 0 && !x.overloaded).length} with weight > 0 and not overloaded`,
        };
    }
  }
}
