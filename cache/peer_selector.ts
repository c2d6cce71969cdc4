/**
 * Peering hooks. The miss path asks a {@link PeerSelector} where to fetch from before going to the
 * origin; the ICP helper implements it in `cache/peering/` (sibling queries, parent selection,
 * hash ownership), and `--peers auto` feeds it the caches found through cluster membership.
 * The default, {@link DIRECT}, always goes to the origin.
 *
 * The other direction, "is this URL fresh here?" (answering ICP queries), is
 * {@link LocalLookup}, implemented by `CacheHandler.lookupFresh`.
 *
 * @module
 */
import type { HierarchyCode } from "./log_codes.ts";

/** Where a miss is fetched from. */
export type ForwardChoice =
  | { kind: "origin" }
  | {
    kind: "peer";
    /** Peer name for logs (`SIBLING_HIT/name`). */
    name: string;
    hostname: string;
    /** The peer's HTTP port. */
    port: number;
    /** Sibling: ask with `Cache-Control: only-if-cached` and fall back to the origin on 504. */
    onlyIfCached: boolean;
    /** `sibling` or `parent`, for the access log hierarchy code. */
    type: "sibling" | "parent";
    /** false: do not keep a copy here (hash peering: the owner stores it); default true. */
    store?: boolean;
    /**
     * How the peer was chosen, as Squid's hierarchy code (`SIBLING_HIT`, `PARENT_HIT`, `CARP`,
     * `FIRST_PARENT_MISS`...); default from `type` (see `log_codes.ts`).
     */
    hierarchy?: HierarchyCode;
  };

/** What a selector may look at. */
export interface PeerRequest {
  /** Request method. */
  method: string;
  /** Absolute URL. */
  url: string;
  /** Request fields. */
  headers: { get(name: string): string | null };
}

/** Chooses the source of a miss. */
export interface PeerSelector {
  /**
   * Chooses where to fetch a miss from.
   *
   * @param key the primary cache key
   * @param req the client request
   * @returns origin or a peer; may take up to the ICP timeout
   */
  select(key: string, req: PeerRequest): ForwardChoice | Promise<ForwardChoice>;
  /**
   * Optional: told when a chosen peer could not be reached over HTTP (connect error, reset,
   * timeout), so the selector can stop choosing it before ICP notices.
   */
  peerFailed?(choice: Extract<ForwardChoice, { kind: "peer" }>, error: Error): void;
}

/** Always the origin. */
export const DIRECT: PeerSelector = { select: () => ({ kind: "origin" }) };

/** In-process lookup for ICP: whether a URL could be answered from this cache as a fresh hit. */
export interface LocalLookup {
  /**
   * Tells whether a fresh response for `url` is stored.
   *
   * @param url absolute URL as sent in an ICP query
   * @returns true when a fresh response for it is stored (any variant)
   */
  lookupFresh(url: string): Promise<boolean>;
}
