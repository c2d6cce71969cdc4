/**
 * The director's `Forwarder` for the `dr` and `tun` methods: a {@link PacketForwarder} built from
 * the `director` config section, kept in step with the director's main-thread dispatcher once a
 * second. Health verdicts, drains and membership states flow to the Worker's dispatcher; the
 * Worker's counters (connections, packets and bytes in, active/inactive) flow back into the main
 * dispatcher's real servers, so `webcache director status` and the metrics show them.
 *
 * @module
 */
import type { ServiceSpec } from "../dispatcher.ts";
import type { DataplaneStatus, Forwarder, ForwarderContext } from "../forwarder.ts";
import type { ForwardMethod } from "../real_server.ts";
import type { ServerState } from "./config.ts";
import type { HaDataplane } from "../ha/ha_dataplane.ts";
import { SYNC_COUNTERS } from "../ha/sync_inbox.ts";
import { trackForwarder } from "./metrics.ts";
import { PacketForwarder } from "./packet_forwarder.ts";

/** The DR/TUN forwarder plugged into the director (see module doc). */
export class DataplaneForwarder implements Forwarder {
  readonly methods: readonly ForwardMethod[] = ["dr", "tun"];
  readonly #ctx: ForwarderContext;
  #fwd: PacketForwarder | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #lastState = "";
  #syncing = false;
  #untrack: (() => void) | undefined;
  #macs: Record<string, string> = {};

  /** @param ctx the director's dispatcher and config section */
  constructor(ctx: ForwarderContext) {
    this.#ctx = ctx;
  }

  /** The packet forwarder, while running (for stats). */
  get packetForwarder(): PacketForwarder | undefined {
    return this.#fwd;
  }

  /**
   * Starts the data plane on `director.interface`.
   *
   * @throws {Error} without `director.interface`; {PrivilegeError} without CAP_NET_RAW/CAP_NET_ADMIN
   */
  async start(services: readonly ServiceSpec[]): Promise<void> {
    const d = this.#ctx.director as ForwarderContext["director"] & {
      vipMode?: "arp" | "nft";
      fastPath?: "auto" | "off";
      fastPathPreallocate?: boolean;
      maxConnections?: number;
      timeouts?: Record<string, number>;
      expireQuiescentTemplate?: boolean;
      stateFile?: string;
      stateSaveIntervalMs?: number;
      ha?: { mode: string; sync: { intervalMs: number } };
    };
    if (!d.interface) {
      throw new Error(
        "Cannot start DR/TUN forwarding: director.interface (--interface IFNAME) is not set; " +
          "it names the interface the VIP traffic arrives on",
      );
    }
    const fwd = new PacketForwarder({
      interface: d.interface,
      vipMode: d.vipMode,
      fastPath: d.fastPath,
      fastPathPreallocate: d.fastPathPreallocate,
      maxConnections: d.maxConnections,
      timeouts: d.timeouts,
      expireQuiescentTemplate: d.expireQuiescentTemplate,
      macs: this.#macs,
      stateFile: d.stateFile,
      stateSaveIntervalMs: d.stateSaveIntervalMs,
      ha: d.ha?.mode === "active-backup" ? { syncIntervalMs: d.ha.sync.intervalMs } : undefined,
      // Active-active: every director forwards at once; the router, not ARP, sends the VIPs here.
      quietVips: d.ha?.mode === "active-active",
    });
    await fwd.start(services);
    this.#fwd = fwd;
    this.#untrack = trackForwarder(fwd);
    this.#timer = setInterval(() => void this.#sync(), 1000);
    await this.#sync();
  }

  /** Which path packets take (fast path state and counters), while running. */
  dataplane(): DataplaneStatus | undefined {
    const fwd = this.#fwd;
    if (!fwd) return undefined;
    const g = fwd.stats().global;
    const configured = (this.#ctx.director as { fastPath?: string }).fastPath ?? "auto";
    return {
      fastPath: configured === "off" ? "off" : g.fastPathActive === 1 ? "active" : "unavailable",
      fastPathPackets: g.fastPathPackets,
      fastPathFlows: g.fastPathFlows,
      userPackets: g.rxPackets,
    };
  }

  /** The data plane director HA drives, when started with `director.ha` (see `lb/ha/ha_dataplane.ts`). */
  ha(): HaDataplane | undefined {
    const fwd = this.#fwd;
    const inbox = fwd?.syncInbox;
    if (!fwd || !inbox) return undefined;
    return {
      setActive: (active) => fwd.setStandby(!active),
      announce: () => fwd.announce(),
      release: () => fwd.silence(),
      pushSync: (payload) => inbox.push(payload),
      requestFull: () => inbox.requestFull(),
      onSync: (cb) => fwd.onSync(cb),
      syncCounters: () => ({
        ...Object.fromEntries(Object.entries(SYNC_COUNTERS).map(([k, i]) => [k, inbox.counters[i]])) as Record<
          keyof typeof SYNC_COUNTERS,
          number
        >,
        inboxDropped: inbox.dropped,
      }),
      entries: () => fwd.stats().servers.reduce((a, s) => a + s.activeConns + s.inactConns, 0),
      healthy: () => fwd.failure === undefined,
    };
  }

  /** Known MACs by real-server address (membership records), applied from the next update. */
  setMacs(macs: Readonly<Record<string, string>>): void {
    this.#macs = { ...macs };
    this.#fwd?.setMacs(this.#macs);
  }

  async update(services: readonly ServiceSpec[]): Promise<void> {
    if (!this.#fwd) return await this.start(services);
    await this.#fwd.update(services);
    this.#lastState = "";
    await this.#sync();
  }

  async stop(): Promise<void> {
    clearInterval(this.#timer);
    this.#timer = undefined;
    const f = this.#fwd;
    this.#fwd = undefined;
    this.#untrack?.();
    await f?.stop();
  }

  /** Health/drain/membership to the Worker; counters back to the main dispatcher. */
  async #sync(): Promise<void> {
    const fwd = this.#fwd;
    if (!fwd || this.#syncing) return;
    this.#syncing = true;
    try {
      const dispatcher = this.#ctx.dispatcher;
      const states: ServerState[] = [];
      for (const svc of dispatcher.services) {
        for (const s of svc.servers) {
          if (s.method !== "dr" && s.method !== "tun") continue;
          states.push({
            target: s.key,
            up: s.up,
            drained: s.drained,
            member: s.memberDown ? "dead" : s.memberDraining ? "draining" : "alive",
          });
        }
      }
      const text = JSON.stringify(states);
      if (text !== this.#lastState) {
        this.#lastState = text;
        await fwd.replaceServerState(states);
      }
      const stats = fwd.stats();
      for (const svc of dispatcher.services) {
        for (const s of svc.servers) {
          const w = stats.servers.find((x) => x.serviceKey === svc.key && x.key === s.key);
          if (!w) continue;
          s.conns = w.conns;
          s.inPkts = w.inPkts;
          s.inBytes = w.inBytes;
          s.activeConns = w.activeConns;
          s.inactConns = w.inactConns;
        }
      }
    } finally {
      this.#syncing = false;
    }
  }
}
