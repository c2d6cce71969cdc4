/**
 * The plug-in point between decisions and packets: a {@link Forwarder} moves traffic for the
 * services of one forwarding method. `ProxyForwarder` (`proxy/`) is the unprivileged full proxy;
 * the DR/TUN packet forwarder of the data plane registers itself for `dr` and `tun` with
 * {@link registerForwarder}. Starting a service whose method has no forwarder fails with
 * {@link MissingForwarderError}.
 *
 * @module
 */
import type { Dispatcher, ServiceSpec } from "./dispatcher.ts";
import type { ForwardMethod } from "./real_server.ts";
import type { HaDataplane } from "./ha/ha_dataplane.ts";

/** What a forwarder gets at start. */
export interface ForwarderContext {
  /** The director's dispatcher (main thread). A Worker-based forwarder may run its own copy. */
  dispatcher: Dispatcher;
  /** The whole `director` config section (interface, vipMode, timeouts, proxy settings...). */
  director: Readonly<Record<string, unknown>> & {
    proxy: { connectTimeoutMs: number; idleTimeoutMs: number };
    interface?: string;
  };
}

/** Which path the DR/TUN packets take, as `/director/status` reports it. */
export interface DataplaneStatus {
  /**
   * The in-kernel DR fast path (`director.fastPath`): active (attached at tcx ingress), off (configured
   * off), or unavailable (auto, but the kernel refused it or no DR service runs: see the log).
   */
  fastPath: "active" | "off" | "unavailable";
  /** Packets forwarded by the fast path. */
  fastPathPackets: number;
  /** Flows installed in the fast path now. */
  fastPathFlows: number;
  /** Frames the user-space forwarding loop received. */
  userPackets: number;
}

/** Moves traffic for the services of one method. */
export interface Forwarder {
  /** Methods it serves. */
  readonly methods: readonly ForwardMethod[];
  /**
   * Starts forwarding for these services (already filtered to its methods).
   *
   * @throws when it cannot (missing privileges, address in use): the director refuses to start
   */
  start(services: readonly ServiceSpec[]): Promise<void>;
  /** Applies a reload: new, changed and removed services; established connections survive. */
  update(services: readonly ServiceSpec[]): Promise<void>;
  /**
   * Optional: known MACs by real-server address (from membership records), used from the next
   * {@link update} on; the DR/TUN data plane forwards to them without waiting for ARP.
   */
  setMacs?(macs: Readonly<Record<string, string>>): void;
  /** Optional: the packet data plane's paths for `/director/status` (DR/TUN forwarder). */
  dataplane?(): DataplaneStatus | undefined;
  /** Optional: the data plane director HA drives (DR/TUN forwarder started with `director.ha`). */
  ha?(): HaDataplane | undefined;
  /** Stops accepting and waits for its work to end (established proxied connections are closed). */
  stop(): Promise<void>;
}

/** Builds a forwarder. */
export type ForwarderFactory = (ctx: ForwarderContext) => Forwarder;

const factories = new Map<ForwardMethod, ForwarderFactory>();

/** Registers the forwarder for `method` (the data plane calls this for `dr` and `tun`). */
export function registerForwarder(method: ForwardMethod, factory: ForwarderFactory): void {
  factories.set(method, factory);
}

/** The registered factory for a method, if any. */
export function forwarderFactory(method: ForwardMethod): ForwarderFactory | undefined {
  return factories.get(method);
}

/** A service needs a forwarding method this build does not have. */
export class MissingForwarderError extends Error {
  /**
   * Creates the error for a service and its method.
   *
   * @param service the service key
   * @param method the method without a forwarder
   */
  constructor(service: string, method: ForwardMethod) {
    super(
      `Cannot start service ${service} with method ${method}: no ${method} forwarder is registered. ` +
        `DR/TUN forwarding needs the packet data plane (lb/dataplane, AF_PACKET through FFI, root or ` +
        `CAP_NET_RAW) and it is not part of this build; the proxy method works unprivileged`,
    );
    this.name = "MissingForwarderError";
  }
}
