/**
 * What the main thread tells the forwarding Worker: the virtual services with their real
 * servers, as plain JSON-able data (it crosses threads through a SharedArrayBuffer, see
 * `control.ts`).
 *
 * @module
 */
import type { ServiceSpec } from "../dispatcher.ts";
import type { TcpTimeouts } from "../tcp_state.ts";

/** TCP state timeouts in seconds (the director's). */
export type DataplaneTimeouts = TcpTimeouts;

/** How frames reach one real server's address. */
export interface NextHop {
  /** On-link IPv4 address whose MAC frames go to: the server itself, or the gateway towards it (TUN). */
  nextHop: string;
  /**
   * Known MAC of the next hop (e.g. from membership): used at once, while ARP keeps refreshing it
   * (a reply with another MAC wins until the known one changes); without it the Worker resolves the
   * hop with ARP before forwarding.
   */
  mac?: string;
}

/** The whole configuration. */
export interface DataplaneConfig {
  /** Virtual services in the director's config shape; their index is their counter slot. */
  services: ServiceSpec[];
  /** Connection-table bound; beyond it new flows are hashed statelessly. */
  maxConnections: number;
  /** TCP state timeouts. */
  timeouts: DataplaneTimeouts;
  /** Expire persistence templates to weight-0 servers (IPVS expire_quiescent_template). */
  expireQuiescentTemplate: boolean;
  /** Next hop per real-server address. */
  nextHops: Record<string, NextHop>;
  /** Control-plane state applied after the services: health verdicts, drains, membership. */
  serverState: ServerState[];
  /**
   * Director HA BACKUP (or FAULT): forward nothing and answer no ARP for the VIPs, but keep the table
   * (synced entries) and expire it. Going from standby to active sends gratuitous ARPs at once.
   */
  standby?: boolean;
  /**
   * Director HA MASTER releasing its VIPs (clean stop): keep forwarding, but answer no ARP for the VIPs
   * and announce nothing, so clients follow the new MASTER's gratuitous ARP and never come back.
   */
  silent?: boolean;
  /** Director HA: a new value makes an active data plane send gratuitous ARPs for the VIPs at once. */
  announce?: number;
}

/** Health, drain and membership state of servers, set on the main thread and replayed in the Worker. */
export interface ServerState {
  /** `ADDR:PORT` or `ADDR`, as the director's `findServers()` matches. */
  target: string;
  /** Health-check verdict. */
  up?: boolean;
  /** Operator drain. */
  drained?: boolean;
  /** Cluster membership state. */
  member?: "alive" | "suspect" | "dead" | "left" | "draining";
}
