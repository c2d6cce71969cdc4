/**
 * `RemoteIcp`: a worker's stand-in for the main process's ICP client, so a {@link PeeringSelector}
 * runs in every cache worker while one ICP socket, one client (RTTs, dead peers, multicast
 * membership) and one set of liveness pings serve the whole cache.
 *
 * - Liveness and the peer list come from a {@link PeeringView} the main process sends at start and
 *   whenever it changes (checked every 100 ms), so hash ownership is decided in the worker without
 *   any message per miss.
 * - ICP lookups (mode `icp`, and `hash+icp` when the owner is unsure) go out on the worker's own
 *   ICP client and UDP socket (an ephemeral port on `icp.listen`; peers answer to the sender's
 *   address and port, as Squid and webcache do) when it has one; that saves the hop between threads
 *   per lookup (`bench/worker_hop.ts`: ~35 µs median and ~50 µs CPU on the 2-core test machine).
 *   With a multicast group the lookups are sent to the main process instead, whose client knows
 *   how many group members answer.
 * - A peer that fails over HTTP in a worker is marked dead here at once and reported to the main
 *   process, which marks it dead in its client (and the next view says so to every worker).
 *
 * @module
 */
import type { IcpClient, IcpLookup, IcpPeerState } from "../../icp/client.ts";
import type { IcpPeer } from "../../icp/peer_select.ts";
import type { IcpQuerier, PeeringMode, PeeringPeer } from "./peering_selector.ts";

/** The main process's peering as its workers see it. */
export interface PeeringView {
  /** The mode after any downgrade (no ICP: `icp` → `none`, `hash+icp` → `hash`). */
  mode: PeeringMode;
  /** This cache's id in the hash. */
  self?: string;
  /** `cache.peering.warmupMs`, counted from the main process's start. */
  warmupMs: number;
  /** When the main process's peering started (ms since epoch). */
  startedAt: number;
  /** The peers (configured plus live cluster caches), without this cache. */
  peers: PeeringPeer[];
  /** Liveness by peer key (`HOST:ICP_PORT`). */
  up: Record<string, boolean>;
}

/** The link to the main process (`WorkerPeeringLink` in `cache/worker_pool.ts`). */
export interface PeeringLink {
  lookup(url: string): Promise<IcpLookup>;
  markDead(key: string): void;
}

/** A worker's ICP client that delegates to the main process; see the module doc. */
export class RemoteIcp implements IcpQuerier {
  readonly #link: PeeringLink;
  readonly #local: IcpClient | undefined;
  #view: PeeringView;
  readonly #deadHere = new Set<string>();

  /**
   * @param link the channel to the main process
   * @param view the view at start
   * @param local this worker's own ICP client for lookups (else they go to the main process)
   */
  constructor(link: PeeringLink, view: PeeringView, local?: IcpClient) {
    this.#link = link;
    this.#view = view;
    this.#local = local;
    local?.setPeers(view.peers);
  }

  /**
   * Takes a newer view (liveness as the main process's client sees it).
   *
   * @param view the new view
   */
  update(view: PeeringView): void {
    this.#view = view;
    this.#deadHere.clear();
    this.#local?.setPeers(view.peers);
  }

  /** Runs the lookup on this worker's client, or in the main process. */
  lookup(url: string): Promise<IcpLookup> {
    return this.#local ? this.#local.lookup(url) : this.#link.lookup(url);
  }

  /** The peers with the main process's liveness (no counters: those live in the main process). */
  peers(): IcpPeerState[] {
    return this.#view.peers.map((peer) => {
      const key = `${peer.host}:${peer.icpPort}`;
      return {
        peer,
        key,
        rttMs: undefined,
        lastQueryAt: 0,
        lastReplyAt: 0,
        queries: 0,
        replies: 0,
        denied: 0,
        up: !this.#deadHere.has(key) && (this.#view.up[key] ?? true),
      };
    });
  }

  /** The peer list is the main process's; nothing to do. */
  setPeers(_peers: readonly IcpPeer[]): void {}

  /** Marks the peer dead here at once and tells the main process. */
  markDead(key: string): boolean {
    if (!this.#view.peers.some((p) => `${p.host}:${p.icpPort}` === key)) return false;
    this.#deadHere.add(key);
    this.#local?.markDead(key);
    this.#link.markDead(key);
    return true;
  }

  /** Not tracked in workers. */
  get multicastMembers(): number {
    return 0;
  }
}
