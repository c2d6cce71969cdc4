/**
 * A virtual service in the dispatcher: its match (VIP:port or every address on a port), scheduler,
 * persistence templates, real servers and sorry server.
 *
 * Persistence templates follow IPVS: a template maps `client address & netmask` to a server. Each
 * new connection through it restarts its timer (`timeoutS`); a template whose timer runs out while
 * connections it placed are still alive is re-armed for another period, so it outlives its last
 * connection by up to one timeout.
 *
 * @module
 */
import { MaglevHashing } from "./scheduler/mh.ts";
import type { Scheduler } from "./scheduler/mod.ts";
import type { RealServer } from "./real_server.ts";

/** A persistence template. */
export interface Template {
  /** Server id. */
  server: number;
  /** When the template expires (ms), unless connections still use it. */
  expiresMs: number;
  /** Live connections placed through this template. */
  refs: number;
}

/** A virtual service. */
export class VirtualService {
  /** Stable service id (index in the dispatcher). */
  readonly id: number;
  /** `VIP:PORT`, or `*:PORT` for a transparent service. */
  readonly key: string;
  /** Service name for status and logs. */
  name: string;
  /** VIP as u32 (0 for transparent). */
  vip: number;
  /** Virtual port. */
  port: number;
  /** Matches every destination on the port. */
  transparent: boolean;
  /** The scheduler instance. */
  scheduler: Scheduler;
  /** Its name. */
  schedulerName: string;
  /** Persistence timeout in ms; 0: off. */
  persistTimeoutMs = 0;
  /** Persistence prefix length. */
  persistNetmask = 32;
  /** `0xffffffff << (32 - netmask)`. */
  persistMask = 0xffffffff;
  /** Default forwarding method. */
  method: string = "proxy";
  /** Proxy method: send PROXY v2 to servers. */
  proxyProtocol = false;
  /** Proxy method: listen address instead of the VIP. */
  listen?: string;
  /** Every configured server (including down ones), in configuration order. */
  servers: RealServer[] = [];
  /** What the scheduler sees: configured servers that are up or inhibited. */
  eligible: RealServer[] = [];
  /** Takes new connections while every real server is down. */
  sorryServer?: RealServer;
  /** Gone from the configuration; kept while connections reference it. */
  removed = false;
  /** Persistence templates by `client & netmask`. */
  readonly templates = new Map<number, Template>();
  /** Consistent hash over `eligible`, for stateless scheduling when the connection table is full. */
  readonly overflow: MaglevHashing = new MaglevHashing(4099);

  /**
   * Creates a service without servers.
   *
   * @param id stable id
   * @param key `VIP:PORT` or `*:PORT`
   * @param scheduler the scheduler instance
   */
  constructor(id: number, key: string, scheduler: Scheduler) {
    this.id = id;
    this.key = key;
    this.name = key;
    this.vip = 0;
    this.port = 0;
    this.transparent = false;
    this.scheduler = scheduler;
    this.schedulerName = scheduler.name;
  }

  /** Sets persistence; a changed netmask drops the templates (their keys no longer mean the same). */
  setPersistence(timeoutS: number, netmask: number): void {
    if (netmask !== this.persistNetmask) this.templates.clear();
    this.persistTimeoutMs = timeoutS * 1000;
    this.persistNetmask = netmask;
    this.persistMask = netmask === 0 ? 0 : (0xffffffff << (32 - netmask)) >>> 0;
  }

  /** Rebuilds the eligible list and tells the scheduler (call after any server change). */
  rebuild(): void {
    this.eligible = this.servers.filter((s) => s.eligible);
    this.scheduler.update(this.eligible);
    this.overflow.update(this.eligible);
  }

  /** Whether every real server is down (the sorry server then takes new connections). */
  get allDown(): boolean {
    for (const s of this.servers) if (!s.removed && s.alive) return false;
    return true;
  }
}
