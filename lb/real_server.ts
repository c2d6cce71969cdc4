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
  readonly address: string;
  readonly port: number;
  readonly serviceId: number;
  /** Whether this is the service's sorry server (used only while every real server is down). */
  readonly sorry: boolean;
  configWeight: number;
  weight: number;
  upperThreshold = 0;
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
  inPkts = 0;
  outPkts = 0;
  inBytes = 0;
  outBytes = 0;

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
