/**
 * The cache's peer selection on a miss (`cache.peering.mode`):
 *
 * - `none`: always the origin.
 * - `icp`: ask the peers over ICP (`icp/client.ts`); the first HIT is fetched from that peer with
 *   `Cache-Control: only-if-cached` (a sibling never goes to the origin for us; on its 504 we go to
 *   the origin); all MISS → the parent that answered first (a normal request: a parent fetches
 *   misses), else the origin.
 * - `hash`: every URL has one owner among the live caches of the array, by rendezvous hashing
 *   (`rendezvous.ts`) over the members' `HOST:HTTP_PORT` ids — this cache and its siblings. The owner
 *   fetches from the origin and stores; a non-owner fetches from the owner and does not store
 *   (`store: false`), so each object is stored once and the array's capacity is the sum of its
 *   stores. When a cache joins or leaves, only its share of URLs changes owner.
 * - `hash+icp`: as `hash`, but the owner, when it is unsure — it started less than
 *   `cache.peering.warmupMs` ago, or it stands in for the URL's first-choice owner, which is down —
 *   asks ICP before the origin; a HIT is fetched from that cache (only-if-cached) and stored here,
 *   so the objects of a returning or failed cache move to their new owner instead of being fetched
 *   again. Non-owners never ask ICP: they forward to the owner as in `hash`.
 *
 * Loops: in the hash modes a request that already passed a proxy (it carries `Via`) is fetched
 * from the origin directly, so an owner never forwards again and two caches that briefly disagree
 * about ownership cannot bounce a request between them.
 *
 * Liveness: a peer with an ICP port is live while the ICP client considers it up (it answered
 * within `icp.deadPeerMs`; the wiring pings peers in hash mode); `setPeers()` (configured peers plus
 * cluster membership) removes peers that left.
 *
 * @module
 */
import type { ForwardChoice } from "../peer_selector.ts";
import type { IcpLookup, IcpPeerState } from "../../icp/client.ts";
import { type IcpPeer, peerKey } from "../../icp/peer_select.ts";
import { getLogger } from "../../core/log.ts";
import { RendezvousHash } from "./rendezvous.ts";
import { peeringChoices } from "./metrics.ts";

const log = getLogger("cache.peering");

/** Peering modes (`cache.peering.mode`). */
export type PeeringMode = "none" | "icp" | "hash" | "hash+icp";

/** A peer cache: ICP identity plus an optional name for logs and a hash weight. */
export interface PeeringPeer extends IcpPeer {
  /** Name for logs and the access log (`SIBLING_HIT/name`); default `HOST:HTTP_PORT`. */
  name?: string;
  /** Share of URLs in hash mode relative to the others; default 1. */
  weight?: number;
}

/** Where a miss goes: the cache handler's `ForwardChoice`, one type for both sides. */
export type PeeringChoice = ForwardChoice;

/** What the selector looks at in a request. */
export interface PeeringRequest {
  method: string;
  url: string;
  headers: { get(name: string): string | null };
}

/** What a {@link PeeringSelector} needs from an ICP client; `IcpClient` and a worker's `RemoteIcp` both have it. */
export interface IcpQuerier {
  /** Asks the peers about `url`. */
  lookup(url: string): Promise<IcpLookup>;
  /** Peers and their state. */
  peers(): IcpPeerState[];
  /** Replaces the peer list. */
  setPeers(peers: readonly IcpPeer[]): void;
  /** Marks a peer dead until it answers again. */
  markDead(key: string): boolean;
  /** Average number of multicast members answering a probe. */
  readonly multicastMembers: number;
}

/** Options of {@link PeeringSelector}. */
export interface PeeringSelectorOptions {
  mode: PeeringMode;
  /** This cache's id in the hash, `HOST:HTTP_PORT` as its peers know it. Required for hash modes. */
  self?: string;
  /** ICP client (modes icp and hash+icp; liveness in hash); in a cache worker, a `RemoteIcp`. */
  icp?: IcpQuerier;
  /** How long a cache that joined counts as unsure (hash+icp). */
  warmupMs?: number;
  /** Clock, for tests. */
  now?: () => number;
  /** When peering started, on the `now` clock (default: now); workers pass the main process's start. */
  startedAt?: number;
}

/** Identifies a member in the hash. */
export function memberId(p: Pick<IcpPeer, "host" | "httpPort">): string {
  return p.host.includes(":") ? `[${p.host}]:${p.httpPort}` : `${p.host}:${p.httpPort}`;
}

/** Selects the source of a miss; see the module doc. Implements the cache's `PeerSelector`. */
export class PeeringSelector {
  readonly #opts: PeeringSelectorOptions;
  readonly #now: () => number;
  readonly #ring = new RendezvousHash();
  readonly #startedAt: number;
  #peers: PeeringPeer[] = [];
  #byId = new Map<string, PeeringPeer>();

  /**
   * @param opts mode, self id, ICP client
   * @throws {TypeError} when a hash mode has no `self` or an ICP mode no client
   */
  constructor(opts: PeeringSelectorOptions) {
    if ((opts.mode === "hash" || opts.mode === "hash+icp") && !opts.self) {
      throw new TypeError(`Cannot use cache.peering.mode "${opts.mode}": this cache's own HOST:PORT is unknown`);
    }
    if ((opts.mode === "icp" || opts.mode === "hash+icp") && !opts.icp) {
      throw new TypeError(`Cannot use cache.peering.mode "${opts.mode}": ICP is disabled (icp.enabled)`);
    }
    this.#opts = opts;
    this.#now = opts.now ?? (() => performance.now());
    this.#startedAt = opts.startedAt ?? this.#now();
    this.setPeers([]);
  }

  /** The mode. */
  get mode(): PeeringMode {
    return this.#opts.mode;
  }

  /** This cache's id in the hash, when a hash mode is on. */
  get self(): string | undefined {
    return this.#opts.self;
  }

  /**
   * Replaces the peers (configured ones plus live cluster members). An entry equal to this cache
   * (`self`) is left out, so every cache may share one peer list.
   *
   * @param peers the new list
   */
  setPeers(peers: readonly PeeringPeer[]): void {
    const self = this.#opts.self;
    this.#peers = peers.filter((p) => memberId(p) !== self);
    this.#byId = new Map(this.#peers.map((p) => [memberId(p), p]));
    this.#opts.icp?.setPeers(this.#peers);
    const members = this.#peers.filter((p) => p.type === "sibling").map((p) => ({ id: memberId(p), weight: p.weight }));
    if (self) members.push({ id: self, weight: undefined });
    this.#ring.setMembers(members);
  }

  /** The current peers (without self). */
  get peers(): readonly PeeringPeer[] {
    return this.#peers;
  }

  #alive(id: string): boolean {
    if (id === this.#opts.self) return true;
    const p = this.#byId.get(id);
    if (!p) return false;
    if (!this.#opts.icp || p.icpPort === 0) return true;
    const st = this.#opts.icp.peers().find((s) => s.key === peerKey(p));
    return st?.up ?? true;
  }

  /**
   * Returns the owner of a key among the live members (hash modes).
   *
   * @param key the primary cache key
   * @returns the owner's `HOST:HTTP_PORT`, or undefined in other modes
   */
  owner(key: string): string | undefined {
    return this.#ring.owner(key, (id) => this.#alive(id));
  }

  /**
   * Chooses where to fetch a miss from.
   *
   * @param key the primary cache key (normalised URL)
   * @param req the client request (method, absolute URL, headers)
   * @returns the origin or a peer
   */
  async select(key: string, req: PeeringRequest): Promise<PeeringChoice> {
    const choice = await this.#select(key, req);
    peeringChoices.inc({
      mode: this.#opts.mode,
      choice: choice.kind === "origin" ? "origin" : choice.onlyIfCached ? "hit" : choice.store ? "parent" : "owner",
    });
    return choice;
  }

  async #select(key: string, req: PeeringRequest): Promise<PeeringChoice> {
    const mode = this.#opts.mode;
    if (mode === "none" || (req.method !== "GET" && req.method !== "HEAD")) return { kind: "origin" };
    if (mode === "icp") return await this.#icp(req.url, true);
    const owner = this.owner(key);
    const self = this.#opts.self!;
    // A request that already passed a proxy (a non-owner forwarding to us) is never forwarded again.
    const fromProxy = req.headers.get("via") !== null;
    if (owner && owner !== self && !fromProxy) {
      const p = this.#byId.get(owner)!;
      return {
        kind: "peer",
        name: p.name ?? owner,
        hostname: p.host,
        port: p.httpPort,
        onlyIfCached: false,
        type: "parent",
        store: false,
        hierarchy: "CARP",
      };
    }
    if (mode === "hash+icp" && owner === self) {
      // The owner is unsure when it stands in for a first-choice owner that is down, or joined recently:
      // a copy may sit on the cache that owned the URL before. Ask ICP; a HIT is fetched and kept here.
      const standIn = this.#ring.owner(key) !== self;
      const warm = this.#now() - this.#startedAt < (this.#opts.warmupMs ?? 0);
      if (standIn || warm) {
        const r = await this.#icp(req.url, true);
        if (r.kind === "peer" && r.onlyIfCached) {
          log.debug("Owner unsure; ICP found a copy", { url: req.url, peer: r.name, standIn, warm });
          return r;
        }
      }
    }
    return { kind: "origin" };
  }

  async #icp(url: string, store: boolean): Promise<PeeringChoice> {
    const r = await this.#opts.icp!.lookup(url);
    const d = r.decision;
    if (d.kind === "none") return { kind: "origin" };
    const p = d.peer as PeeringPeer;
    return {
      kind: "peer",
      name: p.name ?? memberId(p),
      hostname: p.host,
      port: p.httpPort,
      onlyIfCached: d.kind === "hit" && p.type === "sibling",
      type: p.type,
      store,
      hierarchy: d.kind === "parent" ? "FIRST_PARENT_MISS" : p.type === "sibling" ? "SIBLING_HIT" : "PARENT_HIT",
    };
  }

  /**
   * Told by the cache when a chosen peer could not be reached over HTTP: the peer is marked dead
   * (hash modes then pick another owner at once; ICP stops waiting for it) until it answers ICP again.
   *
   * @param choice the peer that failed
   */
  peerFailed(choice: { hostname: string; port: number }): void {
    const p = this.#peers.find((x) => x.host === choice.hostname && x.httpPort === choice.port);
    if (!p || p.icpPort === 0 || !this.#opts.icp) return;
    if (this.#opts.icp.markDead(peerKey(p))) log.info("Peer failed over HTTP; marked dead", { peer: memberId(p) });
  }

  /** State for `/status`. */
  status(): Record<string, unknown> {
    return {
      mode: this.#opts.mode,
      self: this.#opts.self,
      members: this.#ring.ids.map((id) => ({ id, alive: this.#alive(id) })),
      icp: this.#opts.icp?.peers().map((s) => ({
        peer: s.key,
        type: s.peer.type,
        up: s.up,
        rttMs: s.rttMs === undefined ? null : Math.round(s.rttMs * 1000) / 1000,
        queries: s.queries,
        replies: s.replies,
      })),
      multicastMembers: this.#opts.icp?.multicastMembers,
    };
  }
}
