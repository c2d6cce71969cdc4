/**
 * The DR/TUN packet forwarder on the main thread: prepares the host (capability check, VIP
 * ownership by ARP or nftables, per-interface forwarding off), resolves next hops, starts the
 * forwarding Worker and talks to it through the {@link ControlBlock}. It implements the director's
 * `Forwarder` life cycle: `start(services)`, `update(services)`, `stop()`.
 *
 * @module
 */
import { getLogger } from "../../core/log.ts";
import { interfaceInfo } from "../../netctl/interface_info.ts";
import { routeGet } from "../../netctl/ip_command.ts";
import { addAddress, removeAddress } from "../../netctl/ip_command.ts";
import { installTable, vipDropRuleset } from "../../netctl/nft.ts";
import { PrivilegeError, privilegeMessage, requireNetCapabilities } from "../../netctl/privileges.ts";
import { SysctlGuard } from "../../netctl/sysctl.ts";
import type { ServiceSpec } from "../dispatcher.ts";
import { type ConnState, connStateBuffers } from "../conn_state_codec.ts";
import type { HaSyncMessage } from "../ha/loop_hook.ts";
import { SyncInbox } from "../ha/sync_inbox.ts";
import { ConnStateFile } from "../conn_state_file.ts";
import { compactConnState } from "../conn_state.ts";
import { stateRestored } from "../metrics.ts";
import { DEFAULT_TCP_TIMEOUTS } from "../tcp_state.ts";
import type { DataplaneConfig, DataplaneTimeouts, NextHop, ServerState } from "./config.ts";
import { ControlBlock, GLOBAL, MAX_SERVICES, REAL, STATE_RUNNING, SVC } from "./control.ts";
import type { ServerInfo } from "./forwarding_loop.ts";
import type { StateMessage } from "./state_keeper.ts";
import { DATAPLANE_WORKER_NAME, type WorkerInit } from "./worker.ts";

const log = getLogger("lb.dataplane");
/** How long update() waits for the Worker to apply a configuration. */
const UPDATE_TIMEOUT_MS = 10_000;

/** Options of {@link PacketForwarder}. */
export interface PacketForwarderOptions {
  /** Interface the VIP traffic arrives on and leaves from. */
  interface: string;
  /** arp (answer ARP for the VIP from user space; preferred) or nft (VIP on the interface + drop rule). */
  vipMode?: "arp" | "nft";
  /** In-kernel DR fast path for established flows (`director.fastPath`): auto (default) or off. */
  fastPath?: "auto" | "off";
  /** `director.fastPathPreallocate`: the kernel's flow map allocated whole at start (default false). */
  fastPathPreallocate?: boolean;
  maxConnections?: number;
  timeouts?: Partial<DataplaneTimeouts>;
  expireQuiescentTemplate?: boolean;
  /** Known MACs by real-server address (e.g. from membership records). */
  macs?: Record<string, string>;
  /** Frames per batch. */
  batchSize?: number;
  /** Connection-state file (`director.stateFile`): restored at start, saved while running and at stop. */
  stateFile?: string;
  /** Minimum ms between state saves while the table changes (default 1000). */
  stateSaveIntervalMs?: number;
  /** Director HA: start in standby and keep a connection-sync journal batched this often (ms). */
  ha?: { syncIntervalMs: number };
  /**
   * Never answer ARP for the VIPs nor announce them (`director.ha.mode: active-active`: an ECMP router routes
   * the VIPs to the directors' own addresses); forwarding is unchanged.
   */
  quietVips?: boolean;
}

/** Per-server counters as `ipvsadm -Ln --stats` shows them (in direction only: DR/TUN never see replies). */
export interface ForwarderServerStats extends ServerInfo {
  conns: number;
  inPkts: number;
  inBytes: number;
  activeConns: number;
  inactConns: number;
  macKnown: boolean;
}

/** Snapshot of the forwarder's counters. */
export interface ForwarderStats {
  global: Record<keyof typeof GLOBAL, number>;
  services: { slot: number; name: string; conns: number; inPkts: number; inBytes: number; drops: number }[];
  servers: ForwarderServerStats[];
}

function workerUrl(): string {
  const here = import.meta.url;
  // From source this file sits beside worker.ts; in the bundle everything is one file, which is
  // then the Worker's script too (worker.ts's code starts the loop when run under its name).
  return here.endsWith("/packet_forwarder.ts") ? new URL("./worker.ts", here).href : here;
}

/** The DR/TUN forwarder (see module doc). */
export class PacketForwarder {
  readonly #opts: PacketForwarderOptions;
  readonly #ctl = new ControlBlock();
  readonly #sysctls = new SysctlGuard();
  #worker: Worker | undefined;
  #undo: (() => Promise<void>)[] = [];
  #servers: ServerInfo[] = [];
  #services: ServiceSpec[] = [];
  #stopped: Promise<void> | undefined;
  #failure: Error | undefined;
  #serverState = new Map<string, ServerState>();
  #chain: Promise<void> = Promise.resolve();
  #macs: Record<string, string>;
  readonly #stateFile: ConnStateFile | undefined;
  /** HA: the sync inbox, standby flag, last published config (a role change skips route look-ups). */
  readonly #inbox: SyncInbox | undefined;
  #standby: boolean;
  #announce = 0;
  #silent = false;
  #lastCfg: DataplaneConfig | undefined;
  #onSync: ((state: ConnState, full: boolean) => void) | undefined;

  /** @param opts interface, VIP mode, table limits, state file */
  constructor(opts: PacketForwarderOptions) {
    this.#opts = opts;
    this.#inbox = opts.ha ? new SyncInbox() : undefined;
    this.#standby = opts.ha !== undefined;
    this.#silent = opts.quietVips === true;
    this.#macs = { ...opts.macs };
    this.#stateFile = opts.stateFile ? new ConnStateFile(opts.stateFile) : undefined;
  }

  /** The connection-state file, when `stateFile` is set. */
  get stateFile(): ConnStateFile | undefined {
    return this.#stateFile;
  }

  /**
   * Replaces the known MACs by real-server address (e.g. from membership records); they take
   * effect with the next {@link update}. Servers without one are resolved by ARP, and ARP keeps
   * refreshing the known ones.
   */
  setMacs(macs: Readonly<Record<string, string>>): void {
    this.#macs = { ...macs };
  }

  /**
   * Prepares the host and starts forwarding.
   *
   * @param services the DR/TUN services
   * @throws {PrivilegeError} without CAP_NET_RAW/CAP_NET_ADMIN (the message names them and `--method proxy`)
   * @throws {Error} when the interface does not exist or set-up fails (everything done so far is undone)
   */
  async start(services: readonly ServiceSpec[]): Promise<void> {
    const ifname = this.#opts.interface;
    const what = `Cannot start DR/TUN forwarding on "${ifname}"`;
    requireNetCapabilities(what);
    const iface = interfaceInfo(ifname);
    if (services.some((s) => (s.method ?? "dr") === "tun" || s.reals.some((r) => r.method === "tun"))) {
      if (!iface.address) throw new Error(`${what}: it has no IPv4 address to use as the tunnel source`);
    }
    try {
      // Packets the director receives for the VIP must never be routed by its kernel.
      this.#sysctls.set(`net.ipv4.conf.${ifname}.forwarding`, "0");
      if ((this.#opts.vipMode ?? "arp") === "nft") await this.#ownVipsWithNft(services);
      const cfg = await this.#config(services);
      this.#services = [...services];
      this.#lastCfg = cfg;
      this.#ctl.writeConfig(cfg);
      await this.#startWorker();
      log.info("Forwarding", { iface: ifname, vipMode: this.#opts.vipMode ?? "arp", services: services.length });
    } catch (e) {
      await this.#teardown();
      if (e instanceof PrivilegeError) throw e;
      throw e;
    }
  }

  async #ownVipsWithNft(services: readonly ServiceSpec[]): Promise<void> {
    const ifname = this.#opts.interface;
    for (const vip of new Set(services.filter((s) => !s.transparent && s.vip).map((s) => s.vip!))) {
      if (await addAddress(ifname, vip)) this.#undo.push(() => removeAddress(ifname, vip));
    }
    const table = `webcache_dp_${ifname.replace(/[^A-Za-z0-9_]/g, "_")}`.slice(0, 32);
    const targets = services.map((s) => ({ vip: s.transparent ? undefined : s.vip, port: s.port }));
    this.#undo.push(await installTable(table, vipDropRuleset(table, targets)));
  }

  async #config(services: readonly ServiceSpec[]): Promise<DataplaneConfig> {
    const nextHops: Record<string, NextHop> = {};
    for (const s of services) {
      for (const r of s.reals) {
        if (nextHops[r.address]) continue;
        let nextHop = r.address;
        try {
          const route = await routeGet(r.address);
          if (route.gateway) nextHop = route.gateway;
        } catch { /* unroutable: try on-link */ }
        nextHops[r.address] = { nextHop, mac: nextHop === r.address ? this.#macs[r.address] : undefined };
      }
    }
    if (services.length > MAX_SERVICES) {
      throw new RangeError(`Cannot forward ${services.length} services: at most ${MAX_SERVICES}`);
    }
    return {
      services: services.map((s) => ({ ...s, reals: s.reals.map((r) => ({ ...r })) })),
      maxConnections: this.#opts.maxConnections ?? 1_000_000,
      timeouts: { ...DEFAULT_TCP_TIMEOUTS, ...this.#opts.timeouts },
      expireQuiescentTemplate: this.#opts.expireQuiescentTemplate ?? true,
      nextHops,
      serverState: [...this.#serverState.values()],
      standby: this.#standby,
      announce: this.#announce,
      silent: this.#silent,
    };
  }

  async #startWorker(): Promise<void> {
    const worker = new Worker(workerUrl(), { type: "module", name: DATAPLANE_WORKER_NAME });
    this.#worker = worker;
    let resolveStopped!: () => void;
    this.#stopped = new Promise((r) => resolveStopped = r);
    const ready = Promise.withResolvers<void>();
    worker.onmessage = (e: MessageEvent) => {
      const m = e.data as { type: string; servers?: ServerInfo[]; name?: string; message?: string; missing?: string[] };
      if (m.type === "servers") {
        this.#servers = m.servers!;
        ready.resolve();
      } else if (m.type === "ha-sync") {
        const hs = e.data as HaSyncMessage;
        this.#onSync?.(hs.state, hs.full);
      } else if (m.type === "state" || m.type === "restored") {
        this.#onState(e.data as StateMessage);
      } else if (m.type === "stopped") {
        resolveStopped();
      } else if (m.type === "error") {
        const err = m.name === "PrivilegeError"
          ? new PrivilegeError(m.message!, m.missing ?? [])
          : new Error(`Data-plane worker failed: ${m.message}`);
        this.#failure = err;
        log.error("Data-plane worker failed", { error: m.message });
        ready.reject(err);
        resolveStopped();
      }
    };
    worker.onerror = (e) => {
      e.preventDefault();
      const err = new Error(`Data-plane worker failed: ${e.message}`);
      this.#failure = err;
      ready.reject(err);
      resolveStopped();
    };
    const restore = await this.#stateFile?.read();
    const init: WorkerInit = {
      sab: this.#ctl.sab,
      ifname: this.#opts.interface,
      vipMode: this.#opts.vipMode ?? "arp",
      fastPath: this.#opts.fastPath ?? "auto",
      fastPathPreallocate: this.#opts.fastPathPreallocate ?? false,
      batchSize: this.#opts.batchSize,
      state: this.#stateFile ? { restore, saveIntervalMs: this.#opts.stateSaveIntervalMs ?? 1000 } : undefined,
      ha: this.#inbox ? { inbox: this.#inbox.sab, syncIntervalMs: this.#opts.ha!.syncIntervalMs } : undefined,
    };
    worker.postMessage(init, restore ? connStateBuffers(restore) : []);
    const timer = setTimeout(() => ready.reject(new Error("Data-plane worker did not start within 10 s")), 10_000);
    try {
      await ready.promise;
    } finally {
      clearTimeout(timer);
    }
    if (this.#ctl.state !== STATE_RUNNING) throw this.#failure ?? new Error("Data-plane worker is not running");
  }

  #onState(m: StateMessage): void {
    const file = this.#stateFile;
    if (!file) return;
    if (m.type === "restored") {
      const r = m.summary;
      log.info("Restored the saved connection state", { file: file.path, ...r, ms: Math.round(m.ms) });
      stateRestored.inc({ result: "connection" }, r.conns);
      stateRestored.inc({ result: "template" }, r.templates);
      stateRestored.inc({ result: "expired" }, r.expired);
      stateRestored.inc({ result: "unknown-server" }, r.unknownServer);
      stateRestored.inc({ result: "full" }, r.full);
      stateRestored.inc({ result: "template-dropped" }, r.templatesDropped);
      return;
    }
    const state = compactConnState(m.snapshot);
    if (m.final) {
      log.info("Saving the connection state", {
        file: file.path,
        conns: state.conns.saddr.length,
        templates: state.templates.client.length,
        workerMs: Math.round(m.exportMs * 10) / 10,
      });
    }
    file.save(state);
  }

  /**
   * Applies a new set of services (weights, servers, added or removed services) without
   * dropping established connections to servers that stay.
   *
   * @param services the new DR/TUN services
   * @returns once the Worker has applied them
   * @throws {Error} when the Worker failed or did not apply them within 10 s
   */
  update(services: readonly ServiceSpec[]): Promise<void> {
    if (!this.#worker) return Promise.reject(new Error("Cannot update the packet forwarder: it is not running"));
    this.#services = [...services];
    return this.#publish();
  }

  /**
   * Publishes the latest services and server state to the Worker. Publications run one at a time
   * and each reads the state current when it runs, so a slow one (route look-ups) can never
   * overwrite a newer change with older data.
   */
  #publish(): Promise<void> {
    const run = this.#chain.then(() => this.#publishNow());
    this.#chain = run.catch(() => {});
    return run;
  }

  async #publishNow(fast = false): Promise<void> {
    const cfg = fast && this.#lastCfg
      ? { ...this.#lastCfg, standby: this.#standby, announce: this.#announce, silent: this.#silent }
      : await this.#config(this.#services);
    this.#lastCfg = cfg;
    const seq = this.#ctl.writeConfig(cfg);
    // The Worker checks every wake-up (at least every 100 ms); a busy host can delay it.
    const deadline = Date.now() + UPDATE_TIMEOUT_MS;
    while (this.#ctl.appliedSequence < seq) {
      if (this.#failure) throw this.#failure;
      if (Date.now() > deadline) {
        throw new Error(`Data-plane worker did not apply the new configuration within ${UPDATE_TIMEOUT_MS} ms`);
      }
      await new Promise((r) => setTimeout(r, 5));
    }
    // Let the "servers" message that follows the change arrive.
    await new Promise((r) => setTimeout(r, 0));
  }

  /**
   * Records control-plane state for servers matching `target` (`ADDR:PORT` or `ADDR`) and passes
   * it to the Worker's dispatcher: a health verdict, a drain, or a membership state.
   *
   * @param target the server(s)
   * @param state what changed
   */
  async setServerState(target: string, state: Omit<ServerState, "target">): Promise<void> {
    const prev = this.#serverState.get(target) ?? { target };
    this.#serverState.set(target, { ...prev, ...state });
    if (this.#worker) await this.#publish();
  }

  /**
   * Replaces all recorded server state at once (the director's forwarder adapter mirrors its
   * main-thread dispatcher this way).
   *
   * @param states the full list
   */
  async replaceServerState(states: readonly ServerState[]): Promise<void> {
    this.#serverState = new Map(states.map((s) => [s.target, { ...s }]));
    if (this.#worker) await this.#publish();
  }

  /**
   * Director HA: forward (MASTER) or stand by (BACKUP/FAULT). Re-publishes the last configuration
   * with the flag only (no route look-ups), so a takeover costs one Worker wake-up (≤ 100 ms).
   *
   * @returns once the Worker applied it
   */
  setStandby(standby: boolean): Promise<void> {
    this.#standby = standby;
    if (!this.#worker) return Promise.resolve();
    const run = this.#chain.then(() => this.#publishNow(true));
    this.#chain = run.catch(() => {});
    return run;
  }

  /** Director HA clean stop: keep forwarding but stop answering ARP for the VIPs (see `silent`). */
  silence(): Promise<void> {
    this.#silent = true;
    if (!this.#worker) return Promise.resolve();
    const run = this.#chain.then(() => this.#publishNow(true));
    this.#chain = run.catch(() => {});
    return run;
  }

  /** Director HA: an active data plane sends gratuitous ARPs for its VIPs again, at once. */
  announce(): Promise<void> {
    this.#announce++;
    if (!this.#worker) return Promise.resolve();
    const run = this.#chain.then(() => this.#publishNow(true));
    this.#chain = run.catch(() => {});
    return run;
  }

  /** Whether the data plane stands by (HA BACKUP/FAULT). */
  get standby(): boolean {
    return this.#standby;
  }

  /** Director HA: the Worker's sync inbox (synced batches in, counters), when started with `ha`. */
  get syncInbox(): SyncInbox | undefined {
    return this.#inbox;
  }

  /** Director HA: receives the MASTER's connection changes and requested full tables. */
  onSync(cb: (state: ConnState, full: boolean) => void): void {
    this.#onSync = cb;
  }

  /** The failure that stopped the Worker, if any. */
  get failure(): Error | undefined {
    return this.#failure;
  }

  /** Counters: global, per service and per server. */
  stats(): ForwarderStats {
    const c = this.#ctl.counters;
    const global = Object.fromEntries(Object.entries(GLOBAL).map(([k, i]) => [k, c[i]])) as ForwarderStats["global"];
    const services: ForwarderStats["services"] = [];
    for (const s of this.#servers) {
      if (services.some((x) => x.slot === s.serviceId)) continue;
      services.push({
        slot: s.serviceId,
        name: s.serviceKey,
        conns: 0,
        inPkts: c[this.#ctl.serviceIndex(s.serviceId, SVC.packets)],
        inBytes: c[this.#ctl.serviceIndex(s.serviceId, SVC.bytes)],
        drops: c[this.#ctl.serviceIndex(s.serviceId, SVC.drops)],
      });
    }
    const servers = this.#servers.map((s) => ({
      ...s,
      conns: c[this.#ctl.realIndex(s.id, REAL.conns)],
      inPkts: c[this.#ctl.realIndex(s.id, REAL.packets)],
      inBytes: c[this.#ctl.realIndex(s.id, REAL.bytes)],
      activeConns: c[this.#ctl.realIndex(s.id, REAL.active)],
      inactConns: c[this.#ctl.realIndex(s.id, REAL.inactive)],
      macKnown: c[this.#ctl.realIndex(s.id, REAL.macKnown)] === 1,
    }));
    for (const s of servers) {
      const svc = services.find((x) => x.slot === s.serviceId);
      if (svc) svc.conns += s.conns;
    }
    return { global, services, servers };
  }

  /** Stops the Worker and undoes the host changes (VIP, nftables table, sysctls). */
  async stop(): Promise<void> {
    const w = this.#worker;
    this.#worker = undefined;
    if (w) {
      this.#ctl.requestStop();
      let timer: ReturnType<typeof setTimeout> | undefined;
      // The Worker's final connection-state snapshot arrives before its "stopped" message.
      await Promise.race([this.#stopped, new Promise((r) => timer = setTimeout(r, 5000))]);
      clearTimeout(timer);
      w.terminate();
      await this.#stateFile?.flush();
    }
    await this.#teardown();
  }

  async #teardown(): Promise<void> {
    for (const undo of this.#undo.reverse()) {
      try {
        await undo();
      } catch (e) {
        log.warn("Cannot undo a host change", { error: (e as Error).message });
      }
    }
    this.#undo = [];
    for (const e of this.#sysctls.restore()) log.warn("Cannot restore sysctl", { error: e.message });
  }
}

export { privilegeMessage };
