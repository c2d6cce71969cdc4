/**
 * What the forwarding Worker needs from the director's dispatcher (`lb/dispatcher.ts`): the same
 * pure, synchronous decision per client-to-server packet, and housekeeping.
 *
 * @module
 */

/** A client-to-server packet's addresses (IPv4 as unsigned 32-bit numbers). */
export interface FlowKey {
  saddr: number;
  sport: number;
  daddr: number;
  dport: number;
}

/** A real server as the dispatcher reports it. */
export interface DispatchServer {
  readonly id: number;
  readonly address: string;
  readonly port: number;
  readonly method: string;
  readonly serviceId: number;
  readonly activeConns: number;
  readonly inactConns: number;
  /** Connections scheduled to it, ever. */
  readonly conns: number;
}

/** A virtual service spec (the validated `director.services[]` entry of appliance.yaml). */
export interface DispatchServiceSpec {
  name?: string;
  vip?: string;
  port: number;
  transparent?: boolean;
  scheduler?: string;
  method?: string;
  persistence?: { timeoutS: number; netmask: number };
  reals: { address: string; port?: number; weight?: number; method?: string; upperThreshold?: number }[];
}

/** The dispatcher as the data plane uses it. */
export interface PacketDispatcher {
  /** Replaces the services, keeping connections to servers that stay. */
  configure(specs: readonly DispatchServiceSpec[]): void;
  /** The server id for a packet, or undefined to drop it. */
  schedule(flow: FlowKey, tcpFlags: number, nowMs: number): number | undefined;
  /** A server by id. */
  server(id: number): DispatchServer | undefined;
  /** Expires connections and templates; call about once a second. */
  expire(nowMs: number): void;
}
