/**
 * The aggregated view of a whole cluster that `webcache status`, `/cluster/status` and the
 * dashboard share: one {@link ClusterStatus} document built from every member's `/status`.
 *
 * Counters (`requests`, `hits`, ...) are cumulative since each node started, as the nodes report
 * them; rates and the recent hit ratio are computed by the aggregator from two samples
 * (`rate = Δcounter / Δt`), so they are absent in a first sample.
 *
 * @module
 */
import type { NodeRole, NodeState } from "../cluster/node.ts";
import type { MemberConfig } from "./members.ts";

/** Version of the document layout; bumped on incompatible changes. */
export const CLUSTER_STATUS_VERSION = 1;

/** Cache figures of one cache member. */
export interface CacheFigures {
  /** Client requests handled. */
  requests: number;
  /** Requests served from this cache's store (fresh hits, revalidated hits). */
  hits: number;
  /** Requests not served from the store (including those a sibling served). */
  misses: number;
  /** hits / (hits + misses) since start; null before any request. */
  hitRatio: number | null;
  /** Objects stored (memory and disk tiers). */
  objects: number;
  /** Bytes stored. */
  bytes: number;
  /** Requests per second over the last sample interval. */
  requestRate?: number;
  /** Hit ratio over the last sample interval (null when no requests in it). */
  recentHitRatio?: number | null;
  /** ICP queries this cache sent to siblings. */
  icpQueries: number;
  /** Local misses served by a sibling (ICP HIT or hash owner). */
  siblingHits: number;
  /** Hash ownership: local misses forwarded to the URL's owner cache. */
  ownerFetches: number;
  /** Most requested URLs this cache reports, if any. */
  topUrls: TopUrl[];
}

/** One entry of a top-URL list. */
export interface TopUrl {
  /** Request URL as the cache logged it. */
  url: string;
  /** Requests counted. */
  requests: number;
}

/** One real server of a director's virtual service (a row of `ipvsadm -Ln --stats`). */
export interface ServerRow {
  /** `HOST:PORT` of the cache. */
  address: string;
  /** Name of the cache node, when known. */
  node?: string;
  /** Forwarding method: `dr`, `tun` or `proxy`. */
  method: string;
  /** Scheduling weight (0: no new connections). */
  weight: number;
  /** Health as the director sees it (`up`, `down`, `draining`, ...). */
  health: string;
  /** Connections in ESTABLISHED. */
  activeConns: number;
  /** Connections in other states (closing, time-wait). */
  inactiveConns: number;
  /** Connections scheduled to this server since start. */
  connections: number;
  /** Packets client -> server through the director. */
  packetsIn: number;
  /** Packets server -> client through the director. */
  packetsOut: number;
  /** Bytes client -> server through the director. */
  bytesIn: number;
  /** Bytes server -> client through the director (0 under direct return). */
  bytesOut: number;
  /** Share of the service's connections, 0..1. */
  share: number;
}

/** One virtual service of a director. */
export interface ServiceRow {
  /** Service name. */
  name: string;
  /** `VIP:PORT` (or `*:PORT` for a transparent service). */
  address: string;
  /** Scheduler name (`wlc`, `rr`, ...). */
  scheduler: string;
  /** Persistence timeout in seconds, 0 when off. */
  persistenceS: number;
  /** Persistence templates in the table now. */
  persistenceEntries: number;
  /** Its real servers. */
  servers: ServerRow[];
}

/** A director's high-availability role (`director.ha`) and the VIPs it holds now. */
export interface DirectorHaFigures {
  /** `none`, `active-backup` or `active-active`. */
  mode: string;
  /** `MASTER`, `BACKUP`, `FAULT`, `INIT` (active-backup), `ACTIVE` (active-active) or `STANDALONE` (none). */
  role: string;
  /** VIP group (active-backup, active-active). */
  group?: string;
  /** The MASTER this director follows (active-backup). */
  master?: string;
  /** VIPs this director forwards for now: all of its VIPs unless it is an active-backup BACKUP/FAULT/INIT. */
  vips: string[];
}

/** Director figures of one director member. */
export interface DirectorFigures {
  /** Virtual services. */
  services: ServiceRow[];
  /** HA role and the VIPs held (absent in documents from older nodes). */
  ha?: DirectorHaFigures;
  /** Entries in the connection table. */
  connections: number;
  /** New connections per second over the last sample interval. */
  connectionRate?: number;
}

/** One member as the aggregator saw it. */
export interface MemberStatus {
  /** Node id from gossip, or the admin address when not gossiped. */
  id: string;
  /** Node name. */
  name: string;
  /** Role from gossip or /status. */
  role: NodeRole | "unknown";
  /** Gossip state, or `alive` for a member known only by address that answered. */
  state: NodeState | "unknown";
  /** Admin endpoint `HOST:PORT`. */
  admin: string;
  /** Whether its `/status` answered. */
  reachable: boolean;
  /** Its config version and any refusal, from gossip (cluster.configSync). */
  config?: MemberConfig;
  /** Why it did not, when it did not. */
  error?: string;
  /** webcache version the member runs. */
  version?: string;
  /** Seconds since the member started. */
  uptimeS?: number;
  /** Cache figures (cache members). */
  cache?: CacheFigures;
  /** Director figures (director members). */
  director?: DirectorFigures;
}

/** Totals over the cache members. */
export interface ArrayTotals {
  /** Members counted. */
  members: number;
  /** Members whose state is alive (or draining) and whose /status answered. */
  healthy: number;
  /** Cache members. */
  caches: number;
  /** Director members. */
  directors: number;
  /** Requests counted. */
  requests: number;
  /** Hits summed over caches. */
  hits: number;
  /** Misses summed over caches. */
  misses: number;
  /** Array hit ratio since start, null before any request. */
  hitRatio: number | null;
  /** Array requests per second over the last interval. */
  requestRate?: number;
  /** Array hit ratio over the last interval. */
  recentHitRatio?: number | null;
  /** Objects stored over all caches. */
  objects: number;
  /** Bytes stored over all caches. */
  bytes: number;
  /** ICP queries sent over all caches. */
  icpQueries: number;
  /** Misses served by siblings over all caches. */
  siblingHits: number;
  /** Misses forwarded to their owner cache over all caches (hash ownership). */
  ownerFetches: number;
}

/** One point of the history kept for the dashboard's charts. */
export interface HistoryPoint {
  /** Milliseconds since the epoch. */
  t: number;
  /** Array requests per second. */
  requestRate: number;
  /** Array hit ratio over the interval (null without requests). */
  hitRatio: number | null;
  /** Requests per second by cache name. */
  perNode: Record<string, number>;
}

/** The aggregated document. */
export interface ClusterStatus {
  /** Layout version of this document. */
  version: typeof CLUSTER_STATUS_VERSION;
  /** ISO time of the sample. */
  at: string;
  /** Name of the node that aggregated (the one asked). */
  askedNode: string;
  /** Milliseconds since the previous sample (absent in the first, then rates are absent too). */
  sampleIntervalMs?: number;
  /** Every member, directors first. */
  members: MemberStatus[];
  /** Totals over the members. */
  totals: ArrayTotals;
  /** Top URLs over all caches (summed), most requested first. */
  topUrls: TopUrl[];
  /** Recent history (present when asked for with `?history=1`). */
  history?: HistoryPoint[];
}
