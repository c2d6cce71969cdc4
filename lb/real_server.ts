/**
 * A real server of one virtual service, as the dispatcher tracks it: configuration, health and
 * drain state, connection counts and traffic counters. Implements {@link SchedDest}.
 *
 * Effective weight (what schedulers see):
 *
 * ```text
 * weight = 0            if drained, or down with inhibitOnFailure, or draining in membership
 *        = configWeight otherwise
 * ```
 *
 * A server is in the scheduler's list while it is configured (not removed) and either up or
 * inhibited (kept with weight 0). Membership `dead`/`left` count as down, `draining` as drained,
 * `suspect` changes nothing (SWIM suspicion is often wrong; the health checker decides).
 *
 * @module
 */
import type { SchedDest } from "./scheduler/mod.ts";

/** Forwarding methods. */
export type ForwardMethod = "proxy" | "dr" | "tun";

/** Membership states that feed server state (from `cluster/node.ts`). */
export type MemberState = "alive" | "suspect" | "dead" | "left" | "draining";

/** A real server in the dispatcher. */
export class RealServer implements SchedDest {
  readonly id: number;
  /** `ADDR:PORT`. */
  readonly key: string;
  readonly addr: number;
  /** Host name or IP address to connect or forward to. */
  readonly address: string;
  /** TCP port on the server. */
  readonly port: number;
  /** Id of the virtual service this server belongs to. */
  readonly serviceId: number;
  /** Whether this is the service's sorry server (used only while every real server is down). */
  readonly sorry: boolean;
  /** Weight from the configuration. */
  configWeight: number;
  weight: number;
  /** Upper connection threshold (ipvsadm -x); 0: none. */
  upperThreshold = 0;
  /** Forwarding method. */
  method: ForwardMethod = "proxy";
  activeConns = 0;
  inactConns = 0;
  overloaded = false;
  /** Health check verdict. */
  up = true;
  /** Set weight 0 instead of removing when down. */
  inhibitOnFailure = false;
  /** Operator drain (`webcache director drain`). */
  drained = false;
  /** Membership says dead/left. */
  memberDown = false;
  /** Membership says draining. */
  memberDraining = false;
  /** Removed from the configuration; kept until its connections end. */
  removed = false;
  /** Connections scheduled to this server, ever. */
  conns = 0;
  /** Packets from clients (proxy method: reads). */
  inPkts = 0;
  /** Packets to clients (proxy method: reads from the server). */
  outPkts = 0;
  /** Bytes from clients. */
  inBytes = 0;
  /** Bytes to clients. */
  outBytes = 0;

  /**
   * Creates a server with the configured weight, up and not drained.
   *
   * @param init identity, address and configured weight
   */
  constructor(init: {
    id: number;
    address: string;
    addr: number;
    port: number;
    serviceId: number;
    weight: number;
    sorry?: boolean;
  }) {
    this.id = init.id;
    this.address = init.address;
    this.addr = init.addr;
    this.port = init.port;
    this.serviceId = init.serviceId;
    this.key = `${init.address.includes(":") ? `[${init.address}]` : init.address}:${init.port}`;
    this.configWeight = init.weight;
    this.weight = init.weight;
    this.sorry = init.sorry ?? false;
  }

  /** Whether the server is healthy as far as health checks and membership know. */
  get alive(): boolean {
    return this.up && !this.memberDown;
  }

  /** Whether schedulers may see it. */
  get eligible(): boolean {
    return !this.removed && !this.sorry && (this.alive || this.inhibitOnFailure);
  }

  /** Active plus inactive connections. */
  get totalConns(): number {
    return this.activeConns + this.inactConns;
  }

  /** Recomputes the effective weight; returns whether it changed. */
  refreshWeight(): boolean {
    const w = this.drained || this.memberDraining || (!this.alive && this.inhibitOnFailure) ? 0 : this.configWeight;
    const changed = w !== this.weight;
    this.weight = w;
    return changed;
  }

  /**
   * Updates the overload flag (IPVS `ip_vs_dest_totalconns` against the thresholds): set when the
   * total reaches `upperThreshold`, cleared below three quarters of it.
   */
  refreshOverload(): void {
    const u = this.upperThreshold;
    if (u <= 0) {
      this.overloaded = false;
      return;
    }
    const total = this.activeConns + this.inactConns;
    if (total >= u) this.overloaded = true;
    else if (this.overloaded && total * 4 < u * 3) this.overloaded = false;
  }
}
