/**
 * The scheduler contract shared by every IPVS scheduler in this folder.
 *
 * A scheduler picks a real server for a *new* connection. It sees the service's eligible real
 * servers (health-removed servers are not in the list; quiesced or inhibited ones are, with weight 0)
 * and the flow's addresses. Schedulers are pure, synchronous and allocation-free on the hot path so
 * the DR/TUN data plane can run them inside a Worker on every new flow.
 *
 * @module
 */

/** A real server as schedulers see it. The dispatcher owns and mutates these objects. */
export interface SchedDest {
  /** Stable server id in the dispatcher (index into its server and stats arrays). */
  readonly id: number;
  /** Identity used by hashing schedulers (mh): `ADDR:PORT`. */
  readonly key: string;
  /** IPv4 address as an unsigned 32-bit number (hashing). */
  readonly addr: number;
  /** Effective weight; 0 takes no new connections. */
  weight: number;
  /** Connections in ESTABLISHED state. */
  activeConns: number;
  /** Connections in any other state. */
  inactConns: number;
  /** IPVS `IP_VS_DEST_F_OVERLOAD`: the upper connection threshold was reached. */
  overloaded: boolean;
}

/** The addresses of a flow; IPv4 addresses as unsigned 32-bit numbers. Callers reuse one object. */
export interface FlowKey {
  /** Client address. */
  saddr: number;
  /** Client port. */
  sport: number;
  /** Destination (VIP, or any address for transparent services). */
  daddr: number;
  /** Destination port. */
  dport: number;
}

/** A scheduler instance, one per virtual service. */
export interface Scheduler {
  /** The ipvsadm name (`wlc`, `mh`, ...). */
  readonly name: string;
  /**
   * Tells the scheduler that the server list or weights changed (IPVS `upd_dest`/`add_dest`).
   * Table-based schedulers (dh, sh, mh) rebuild their tables here.
   */
  update(dests: readonly SchedDest[]): void;
  /**
   * Picks a server for a new connection.
   *
   * @param dests the service's eligible servers, in configuration order
   * @param flow the new flow
   * @param nowMs current time (lblc/lblcr age their entries)
   * @returns the chosen server, or `undefined` when none can take it
   */
  schedule(dests: readonly SchedDest[], flow: FlowKey, nowMs: number): SchedDest | undefined;
  /** A deep copy, so `route()` can ask "what would happen" without changing the live state. */
  clone(): Scheduler;
}

/**
 * IPVS's connection overhead used by lc, wlc, lblc and lblcr (`ip_vs_dest_conn_overhead`):
 * `active * 256 + inactive`. Active connections cost far more than ones in TIME_WAIT.
 */
export function connOverhead(d: SchedDest): number {
  return d.activeConns * 256 + d.inactConns;
}

/**
 * Weighted least-connection choice (IPVS `ip_vs_wlc_schedule` and `__ip_vs_lblc_schedule`):
 * the first server with weight > 0 that is not overloaded, then any later one with
 * `overhead(least) * weight(d) > overhead(d) * weight(least)`. Ties keep the earlier server.
 *
 * @param overhead cost function (wlc: {@link connOverhead}; sed: active + 1)
 */
export function weightedLeast(
  dests: readonly SchedDest[],
  overhead: (d: SchedDest) => number,
): SchedDest | undefined {
  let least: SchedDest | undefined;
  let loh = 0;
  let i = 0;
  for (; i < dests.length; i++) {
    const d = dests[i];
    if (!d.overloaded && d.weight > 0) {
      least = d;
      loh = overhead(d);
      break;
    }
  }
  if (!least) return undefined;
  for (i++; i < dests.length; i++) {
    const d = dests[i];
    if (d.overloaded) continue;
    const doh = overhead(d);
    if (loh * d.weight > doh * least.weight) {
      least = d;
      loh = doh;
    }
  }
  return least;
}
