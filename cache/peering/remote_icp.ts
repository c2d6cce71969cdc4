/**
 * `RemoteIcp`: a worker's stand-in for the main process's ICP client, so a {@link PeeringSelector}
 * runs in every cache worker while one ICP socket, one client (RTTs, dead peers, multicast
 * membership) and one set of liveness pings serve the whole cache.
 *
 * - Liveness and the peer list come from a {@link PeeringView} the main process sends at start and
 *   whenever it changes (checked every 100 ms), so hash ownership is decided in the worker without
 *   any message per miss.
 * - ICP lookups (mode `icp`, and `hash+icp` when the owner is unsure) are sent to the main process,
 *   which runs them on its client; they wait for a network round trip to the peers anyway, and the
 *   extra hop between threads is small next to it.
 * - A peer that fails over HTTP in a worker is marked dead here at once and reported to the main
 *   process, which marks it dead in its client (and the next view says so to every worker).
 *
 * @module
 */
import type { IcpLookup, IcpPeerState } from "../../icp/client.ts";
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
  #view: PeeringView;
  readonly #deadHere = new Set<string>();

  /**
   * @param link the channel to the main process
   * @param view the view at start
   */
  constructor(link: PeeringLink, view: PeeringView) {
    this.#link = link;
    this.#view = view;
  }

  /**
   * Takes a newer view (liveness as the main process's client sees it).
   *
   * @param view the new view
   */
  update(view: PeeringView): void {
    this.#view = view;
    this.#deadHere.clear();
  }

  /** Runs the lookup in the main process. */
  lookup(url: string): Promise<IcpLookup> {
    return this.#link.lookup(url);
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
    this.#link.markDead(key);
    return true;
  }

  /** Not tracked in workers. */
  get multicastMembers(): number {
    return 0;
  }
}
