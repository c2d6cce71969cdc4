/**
 * The pure decisions of an ICP lookup, apart from sockets and clocks (after Squid's
 * `peer_select.cc` and `neighbors.cc`):
 *
 * - {@link smoothRttMs}: per-peer round trip, an EWMA with weight 1/8 (as TCP's SRTT):
 *   `srtt' = srtt + (sample - srtt) / 8`.
 * - {@link adaptiveTimeoutMs}: how long to wait for answers:
 *   `timeout = clamp(2 × mean(srtt of the peers queried), minMs, maxMs)`; with no RTT known yet,
 *   `maxMs` (`icp.timeoutMs`). Squid does the same when `icp_query_timeout` is 0, bounded by
 *   `minimum_`/`maximum_icp_query_timeout`.
 * - {@link IcpReplyTally}: which answer wins: the first HIT (sibling or parent) ends the lookup;
 *   otherwise, once every expected peer answered or the timeout fired, the parent whose MISS came
 *   first (DECHO from a parent counts as a MISS, as in Squid), else none (go to the origin).
 *   MISS_NOFETCH, DENIED and ERR answers count as answers but never select a peer.
 *
 * @module
 */
import { IcpOpcode } from "./opcode.ts";

/** Relationship with a peer (Squid's cache_peer type). */
export type PeerType = "sibling" | "parent";

/** A peer cache as the ICP client sees it. */
export interface IcpPeer {
  /** IPv4 address of the peer (ICP replies are matched by source address and port). */
  host: string;
  /** Its HTTP port, where hits are fetched. */
  httpPort: number;
  /** Its ICP port; 0 means never queried over ICP. */
  icpPort: number;
  /** sibling: only asked for hits; parent: may fetch misses for us. */
  type: PeerType;
  /** Member of the multicast group: queried through the group, not by unicast. */
  multicastResponder?: boolean;
}

/** Weight of a new sample in the smoothed RTT (1/8, as TCP's SRTT). */
export const RTT_EWMA_WEIGHT = 1 / 8;

/**
 * Returns the identity of a peer for reply matching and metrics labels: `HOST:ICP_PORT`.
 *
 * @param peer the peer
 */
export function peerKey(peer: Pick<IcpPeer, "host" | "icpPort">): string {
  return `${peer.host}:${peer.icpPort}`;
}

/**
 * Updates a smoothed round trip with a new sample.
 *
 * @param prevMs the previous smoothed value, or `undefined` for the first sample
 * @param sampleMs the measured round trip
 * @returns `prev + (sample - prev) / 8`, or the sample itself at first
 */
export function smoothRttMs(prevMs: number | undefined, sampleMs: number): number {
  return prevMs === undefined ? sampleMs : prevMs + (sampleMs - prevMs) * RTT_EWMA_WEIGHT;
}

/**
 * Computes the adaptive ICP timeout.
 *
 * @param rttsMs smoothed round trips of the peers queried (unknown ones left out)
 * @param bounds `minMs` and `maxMs` (`icp.timeoutMs`)
 * @returns `clamp(2 × mean(rtts), minMs, maxMs)`, or `maxMs` when `rttsMs` is empty
 * @example
 * ```ts
 * adaptiveTimeoutMs([1, 3], { minMs: 5, maxMs: 2000 }); // 5 (2 × 2 = 4, raised to the floor)
 * ```
 */
export function adaptiveTimeoutMs(rttsMs: readonly number[], bounds: { minMs: number; maxMs: number }): number {
  if (rttsMs.length === 0) return bounds.maxMs;
  const mean = rttsMs.reduce((a, b) => a + b, 0) / rttsMs.length;
  return Math.min(bounds.maxMs, Math.max(bounds.minMs, Math.ceil(2 * mean)));
}

/** The result of an ICP lookup. */
export type IcpDecision<P> =
  | { kind: "hit"; peer: P }
  | { kind: "parent"; peer: P }
  | { kind: "none" };

/**
 * Collects the answers to one lookup and decides. Feed it answers in arrival order.
 *
 * @example
 * ```ts
 * const t = new IcpReplyTally<string>(2);
 * t.add("p1", "parent", IcpOpcode.MISS); // undefined: one answer missing
 * t.add("s1", "sibling", IcpOpcode.MISS); // { kind: "parent", peer: "p1" }
 * ```
 */
export class IcpReplyTally<P> {
  #expected: number;
  #answers = 0;
  #firstParentMiss: P | undefined;
  #decision: IcpDecision<P> | undefined;

  /** @param expected how many answers complete the lookup (unicast peers queried + multicast members) */
  constructor(expected: number) {
    this.#expected = expected;
  }

  /** Answers counted so far. */
  get answers(): number {
    return this.#answers;
  }

  /** The decision, once made. */
  get decision(): IcpDecision<P> | undefined {
    return this.#decision;
  }

  /**
   * Counts one answer.
   *
   * @param peer who answered
   * @param type its relationship
   * @param opcode its answer
   * @returns the decision when this answer completes the lookup, else `undefined`
   */
  add(peer: P, type: PeerType, opcode: number): IcpDecision<P> | undefined {
    if (this.#decision) return undefined;
    this.#answers++;
    if (opcode === IcpOpcode.HIT) {
      this.#decision = { kind: "hit", peer };
      return this.#decision;
    }
    if ((opcode === IcpOpcode.MISS || opcode === IcpOpcode.DECHO) && type === "parent") {
      this.#firstParentMiss ??= peer;
    }
    if (this.#answers >= this.#expected) return this.finish();
    return undefined;
  }

  /**
   * Ends the lookup (all answers in, or the timeout fired).
   *
   * @returns the first parent that answered MISS, else `none`
   */
  finish(): IcpDecision<P> {
    this.#decision ??= this.#firstParentMiss !== undefined
      ? { kind: "parent", peer: this.#firstParentMiss }
      : { kind: "none" };
    return this.#decision;
  }
}
