/**
 * What the main thread tells the forwarding Worker: the virtual services with their real
 * servers, as plain JSON-able data (it crosses threads through a SharedArrayBuffer, see
 * `control.ts`).
 *
 * @module
 */
import type { DispatchServiceSpec } from "./dispatch.ts";

/** TCP state timeouts in seconds (IPVS defaults: 900/60/120/120/10). */
export interface DataplaneTimeouts {
  establishedS: number;
  synRecvS: number;
  finWaitS: number;
  timeWaitS: number;
  closeS: number;
}

/** How frames reach one real server's address. */
export interface NextHop {
  /** On-link IPv4 address whose MAC frames go to: the server itself, or the gateway towards it (TUN). */
  nextHop: string;
  /** Known MAC of the next hop (e.g. from membership); otherwise the Worker resolves it with ARP. */
  mac?: string;
}

/** The whole configuration. */
export interface DataplaneConfig {
  /** Virtual services in the director's config shape; their index is their counter slot. */
  services: DispatchServiceSpec[];
  /** Connection-table bound; beyond it new flows are hashed statelessly. */
  maxConnections: number;
  /** TCP state timeouts. */
  timeouts: DataplaneTimeouts;
  /** Expire persistence templates to weight-0 servers (IPVS expire_quiescent_template). */
  expireQuiescentTemplate: boolean;
  /** Next hop per real-server address. */
  nextHops: Record<string, NextHop>;
}

/** IPVS's default TCP timeouts. */
export const DEFAULT_TIMEOUTS: DataplaneTimeouts = {
  establishedS: 900,
  synRecvS: 60,
  finWaitS: 120,
  timeWaitS: 120,
  closeS: 10,
};
