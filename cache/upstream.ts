/**
 * `Upstream`: where a request the cache forwards goes, and sending it there. A peer chosen by the
 * {@link PeerSelector} (ICP, `--peers auto`) is tried first; its failure, or a 504 to an
 * `only-if-cached` probe, sends the request to the origin. Requests with a body always go to the
 * origin. Records the hierarchy and peer for the access log, origin latency and failures.
 *
 * @module
 */
import { DestinationDeniedError, DestinationGuard } from "./destination_guard.ts";
import { getLogger } from "../core/log.ts";
import { type OriginEndpoint, OriginError, type OriginPool, type OriginResponse } from "../http/origin_client.ts";
import type { FetchPlan } from "./fetch_plan.ts";
import { peerHierarchy } from "./log_codes.ts";
import { countOriginFailure, observeOriginLatency } from "./metrics.ts";
import { DIRECT, type ForwardChoice, type PeerSelector } from "./peer_selector.ts";

const log = getLogger("cache");

/** Where a response came from, for the access log. */
export interface FetchSource {
  /** Squid hierarchy code. */
  hierarchy: string;
  /** Peer or origin host. */
  peer: string;
}

/** Peer or origin choice and sending; see the module doc. */
export class Upstream {
  readonly #pool: OriginPool;
  readonly #checkRemote: (remote: Deno.Addr) => void;
  readonly #guard: DestinationGuard;
  /** Where misses go. */
  peers: PeerSelector;
  /** Told the outcome of each origin request (its absolute URL, answered or not); for ICP MISS_NOFETCH. */
  originObserver: ((url: string, ok: boolean) => void) | undefined;

  /**
   * @param pool connections to origins and peers
   * @param peers where misses go; default the origin
   * @param destinations checks guarded origin connections; default refuses internal addresses
   */
  constructor(pool: OriginPool, peers: PeerSelector = DIRECT, destinations?: DestinationGuard) {
    this.#pool = pool;
    this.peers = peers;
    const guard = destinations ?? new DestinationGuard();
    this.#guard = guard;
    this.#checkRemote = (remote) => guard.checkConnected(remote);
  }

  /** A guarded plan's origin as a checked address (the Host field keeps the name). */
  async #checkedOrigin(plan: FetchPlan): Promise<OriginEndpoint> {
    if (!plan.guarded) return plan.origin;
    let ip: string;
    try {
      ip = await this.#guard.resolve(plan.origin.hostname, plan.origin.port);
    } catch (e) {
      if (e instanceof DestinationDeniedError) throw e;
      throw new OriginError(`Cannot resolve origin ${plan.origin.hostname}: ${(e as Error).message}`, "connect", {
        cause: e,
      });
    }
    if (ip === plan.origin.hostname) return plan.origin;
    // TLS still verifies (and sends as SNI) the name, not the address it resolved to.
    return { ...plan.origin, hostname: ip, serverName: plan.origin.serverName ?? plan.origin.hostname };
  }

  /** Where a request goes; synchronous when the selector is (no peering). */
  #choose(plan: FetchPlan): ForwardChoice | Promise<ForwardChoice> {
    const failed = (e: unknown): ForwardChoice => {
      log.warn("Peer selection failed; going to the origin", { url: plan.url, error: e });
      return { kind: "origin" };
    };
    try {
      const c = this.peers.select(plan.primary, { method: plan.method, url: plan.url, headers: plan.reqHeaders });
      return c instanceof Promise ? c.catch(failed) : c;
    } catch (e) {
      return failed(e);
    }
  }

  /**
   * Sends the plan's request to a peer or the origin; records hierarchy and latency.
   *
   * @param plan what to send
   * @param source receives where the answer came from
   * @returns the response, its head read
   * @throws {OriginError} when the origin cannot be reached or does not answer
   */
  async send(plan: FetchPlan, source: FetchSource): Promise<OriginResponse> {
    let choice = plan.body ? { kind: "origin" as const } : this.#choose(plan);
    if (choice instanceof Promise) choice = await choice;
    const method = plan.method === "HEAD" && plan.store ? "GET" : plan.method;
    if (choice.kind === "peer") {
      const headers = plan.headers.filter(([k]) => k !== "cache-control" || !choice.onlyIfCached);
      if (choice.onlyIfCached) headers.push(["cache-control", "only-if-cached"]);
      const t0 = performance.now();
      try {
        const r = await this.#pool.request({ hostname: choice.hostname, port: choice.port }, {
          method,
          target: plan.url,
          headers,
          onInterim: plan.onInterim,
        });
        observeOriginLatency((performance.now() - t0) / 1000);
        if (!(choice.onlyIfCached && r.head.status === 504)) {
          source.hierarchy = peerHierarchy(choice);
          source.peer = choice.name;
          if (choice.store === false) plan.store = false;
          return r;
        }
        r.abort();
      } catch (e) {
        if (e instanceof OriginError) countOriginFailure(e.reason);
        log.debug("Peer failed; going to the origin", { peer: choice.name, error: e });
        this.peers.peerFailed?.(choice, e as Error);
      }
    }
    source.hierarchy = "HIER_DIRECT";
    source.peer = plan.origin.hostname;
    const t0 = performance.now();
    try {
      // An accelerated plan's origin is the configured one: no async check, no extra await.
      const r = await this.#pool.request(plan.guarded ? await this.#checkedOrigin(plan) : plan.origin, {
        method,
        target: plan.path,
        headers: plan.headers,
        body: plan.body,
        onInterim: plan.onInterim,
        // Forward/transparent: the address the connection reached, whatever DNS said, is checked.
        checkRemote: plan.guarded ? this.#checkRemote : undefined,
      });
      observeOriginLatency((performance.now() - t0) / 1000);
      this.originObserver?.(plan.url, true);
      return r;
    } catch (e) {
      // Only the origin's own failures count (a client's bad request body is not one).
      if (e instanceof OriginError) {
        countOriginFailure(e.reason);
        this.originObserver?.(plan.url, false);
      }
      throw e;
    }
  }
}
