/**
 * The ICP client: on a local miss, asks the peers whether they hold the URL and decides where to
 * fetch it from (first HIT wins; all MISS → the parent that answered first, else the origin).
 *
 * - Unicast: one QUERY to each peer with an ICP port that is not a multicast responder.
 * - Multicast: one QUERY to `icp.multicast.group`; members reply by unicast from their ICP socket and
 *   are recognised by source address and port among the known peers (Squid's
 *   `multicast-responder`). How many members to wait for comes from probes, as Squid's
 *   `mcast_icp_query` counting: {@link IcpClient.probeMulticast} sends a QUERY for a probe URL to
 *   the group, counts the answers within the timeout, and keeps a running average over the last
 *   10 probes (`webcache_icp_multicast_members`).
 * - Timeout: adaptive, `clamp(2 × mean smoothed RTT of the peers queried, minTimeoutMs, timeoutMs)`.
 * - Dead peers (Squid's `dead_peer_timeout`): a peer whose last answer is older than `deadPeerMs`
 *   at the time of our last query to it is dead: it is not waited for, and is queried only once per
 *   `deadPeerMs` so that it can come back; any answer revives it.
 * - DENIED: a peer that denied 95% or more of at least 100 queries is no longer queried (as Squid),
 *   until `setPeers()` is called again.
 *
 * The client shares the {@link IcpServer}'s socket: queries leave from the ICP port and replies
 * arrive there.
 *
 * @module
 */
import { getLogger } from "../core/log.ts";
import { encodeIcpMessage, type IcpReply, MAX_ICP_URL_BYTES } from "./message.ts";
import {
  icpLookups,
  icpMessagesDropped,
  icpMulticastMembers,
  icpPeerRttSeconds,
  icpPeerUp,
  icpQueriesSent,
  icpRttSeconds,
} from "./metrics.ts";
import { IcpOpcode } from "./opcode.ts";
import {
  adaptiveTimeoutMs,
  type IcpDecision,
  type IcpPeer,
  IcpReplyTally,
  peerKey,
  smoothRttMs,
} from "./peer_select.ts";
import type { UdpAddr } from "./server.ts";

const log = getLogger("icp");

/** Sends datagrams; implemented by {@link IcpServer}. */
export interface IcpTransport {
  send(bytes: Uint8Array, to: UdpAddr, opcode: number): Promise<boolean>;
  onReply: ((msg: IcpReply, from: UdpAddr) => void) | undefined;
}

/** Options of {@link IcpClient}. */
export interface IcpClientOptions {
  /** Upper bound of the adaptive timeout (`icp.timeoutMs`). */
  timeoutMs: number;
  /** Lower bound of the adaptive timeout (`icp.minTimeoutMs`). */
  minTimeoutMs?: number;
  /** Dead peer timeout (`icp.deadPeerMs`). */
  deadPeerMs: number;
  /** Multicast group and the ICP port its members listen on. */
  multicast?: { group: string; port: number };
  /** Clock, for tests. */
  now?: () => number;
}

/** What a lookup found. */
export interface IcpLookup {
  /** hit: fetch from `peer` with only-if-cached; parent: fetch the miss via `peer`; none: origin. */
  decision: IcpDecision<IcpPeer>;
  /** Why it ended: a HIT, every expected answer in, the timeout, or no peer to ask. */
  outcome: "hit" | "parent" | "none" | "timeout" | "no_peers";
  /** Answers received, by peer key and opcode name. */
  answers: { peer: string; opcode: number; rttMs: number }[];
  /** Answers waited for. */
  expected: number;
  /** Time waited, ms. */
  waitedMs: number;
}

/** Per-peer state. */
export interface IcpPeerState {
  peer: IcpPeer;
  key: string;
  /** Smoothed RTT, ms; undefined until the first answer. */
  rttMs: number | undefined;
  lastQueryAt: number;
  lastReplyAt: number;
  queries: number;
  replies: number;
  denied: number;
  up: boolean;
}

interface Pending {
  url: string;
  sentAt: number;
  tally: IcpReplyTally<IcpPeer>;
  answers: IcpLookup["answers"];
  expected: number;
  done: (reason: "answered" | "timeout") => void;
  probe: boolean;
}

const MCAST_AVERAGE_OVER = 10;
const DENIED_CUTOFF = { minQueries: 100, fraction: 0.95 };

/** ICP client; see the module doc. */
export class IcpClient {
  readonly #transport: IcpTransport;
  readonly #opts: Required<Omit<IcpClientOptions, "multicast">> & Pick<IcpClientOptions, "multicast">;
  readonly #peers = new Map<string, IcpPeerState>();
  readonly #pending = new Map<number, Pending>();
  #reqnum = Math.floor(Math.random() * 0x7fffffff);
  #mcastMembers = 0;
  #mcastProbes = 0;
  #mcastRttMs: number | undefined;

  /**
   * @param transport the ICP socket (an {@link IcpServer})
   * @param opts timeouts and multicast
   */
  constructor(transport: IcpTransport, opts: IcpClientOptions) {
    this.#transport = transport;
    this.#opts = { minTimeoutMs: 5, now: () => performance.now(), ...opts };
    transport.onReply = (msg, from) => this.handleReply(msg, from);
  }

  /**
   * Replaces the peer list (configured peers plus cluster members). State of peers that stay is kept.
   *
   * @param peers the new list; duplicates (same `HOST:ICP_PORT`) keep the first
   */
  setPeers(peers: readonly IcpPeer[]): void {
    const now = this.#opts.now();
    const next = new Map<string, IcpPeerState>();
    for (const peer of peers) {
      const key = peerKey(peer);
      if (next.has(key)) continue;
      const old = this.#peers.get(key);
      next.set(
        key,
        old ? { ...old, peer, denied: 0, queries: 0, replies: 0 } : {
          peer,
          key,
          rttMs: undefined,
          lastQueryAt: now,
          lastReplyAt: now,
          queries: 0,
          replies: 0,
          denied: 0,
          up: true,
        },
      );
      if (!old) icpPeerUp.set({ peer: key }, 1);
    }
    for (const key of this.#peers.keys()) {
      if (!next.has(key)) {
        icpPeerUp.remove({ peer: key });
        icpPeerRttSeconds.remove({ peer: key });
      }
    }
    this.#peers.clear();
    for (const [k, v] of next) this.#peers.set(k, v);
  }

  /** Peers and their state, for `/status`. */
  peers(): IcpPeerState[] {
    return [...this.#peers.values()].map((s) => ({ ...s, up: this.#isUp(s) }));
  }

  /** Average number of multicast members answering a probe. */
  get multicastMembers(): number {
    return this.#mcastMembers;
  }

  #isUp(s: IcpPeerState): boolean {
    return s.lastQueryAt - s.lastReplyAt < this.#opts.deadPeerMs;
  }

  #nextReqnum(): number {
    do {
      this.#reqnum = (this.#reqnum + 1) >>> 0;
    } while (this.#reqnum === 0 || this.#pending.has(this.#reqnum));
    return this.#reqnum;
  }

  /**
   * Asks the peers about `url` and waits for the decision.
   *
   * @param url the absolute URL of the miss
   * @param opts `signal` aborts the wait (decision `none`)
   * @returns the decision and what was heard
   */
  async lookup(url: string, opts: { signal?: AbortSignal } = {}): Promise<IcpLookup> {
    const now = this.#opts.now();
    if (new TextEncoder().encode(url).length > MAX_ICP_URL_BYTES) {
      icpLookups.inc({ outcome: "no_peers" });
      return { decision: { kind: "none" }, outcome: "no_peers", answers: [], expected: 0, waitedMs: 0 };
    }
    const targets: IcpPeerState[] = [];
    let expected = 0;
    const rtts: number[] = [];
    for (const s of this.#peers.values()) {
      if (s.peer.icpPort === 0 || s.peer.multicastResponder) continue;
      if (s.queries >= DENIED_CUTOFF.minQueries && s.denied >= DENIED_CUTOFF.fraction * s.queries) continue;
      const up = this.#isUp(s);
      // Dead peers are asked once per deadPeerMs so that an answer can revive them, but not waited for.
      if (!up && now - s.lastQueryAt <= this.#opts.deadPeerMs) continue;
      targets.push(s);
      if (up) {
        expected++;
        if (s.rttMs !== undefined) rtts.push(s.rttMs);
      }
    }
    const mcast = this.#opts.multicast;
    const useMcast = mcast !== undefined && [...this.#peers.values()].some((s) => s.peer.multicastResponder);
    if (useMcast) {
      // Until a probe has counted the members, wait for the whole timeout (a HIT still ends it early).
      expected += this.#mcastProbes === 0 ? Number.POSITIVE_INFINITY : Math.round(this.#mcastMembers);
      if (this.#mcastRttMs !== undefined) rtts.push(this.#mcastRttMs);
    }
    if (targets.length === 0 && !useMcast) {
      icpLookups.inc({ outcome: "no_peers" });
      return { decision: { kind: "none" }, outcome: "no_peers", answers: [], expected: 0, waitedMs: 0 };
    }
    const timeoutMs = adaptiveTimeoutMs(rtts, { minMs: this.#opts.minTimeoutMs, maxMs: this.#opts.timeoutMs });
    const result = await this.#ask(url, targets, useMcast, expected, timeoutMs, false, opts.signal);
    icpLookups.inc({ outcome: result.outcome });
    return result;
  }

  /**
   * Counts the multicast group members that answer (Squid's multicast peer counting). Sends one
   * QUERY for `probeUrl` to the group, waits `timeoutMs` (`icp.timeoutMs`), and folds the count into
   * a running average over the last 10 probes.
   *
   * @param probeUrl a URL nobody caches, e.g. `http://<our host>/icp-multicast-probe`
   * @returns the number of members that answered this probe
   * @throws {TypeError} when no multicast group is configured
   */
  async probeMulticast(probeUrl: string): Promise<number> {
    if (!this.#opts.multicast) throw new TypeError("Cannot probe multicast members: no icp.multicast.group");
    const r = await this.#ask(probeUrl, [], true, Number.POSITIVE_INFINITY, this.#opts.timeoutMs, true);
    const n = r.answers.length;
    this.#mcastProbes = Math.min(this.#mcastProbes + 1, MCAST_AVERAGE_OVER);
    this.#mcastMembers += (n - this.#mcastMembers) / this.#mcastProbes;
    icpMulticastMembers.set(this.#mcastMembers);
    log.debug("Multicast probe", { answered: n, average: this.#mcastMembers });
    return n;
  }

  #ask(
    url: string,
    targets: IcpPeerState[],
    useMcast: boolean,
    expected: number,
    timeoutMs: number,
    probe: boolean,
    signal?: AbortSignal,
  ): Promise<IcpLookup> {
    const reqnum = this.#nextReqnum();
    const bytes = encodeIcpMessage({ opcode: IcpOpcode.QUERY, requestNumber: reqnum, url });
    const sentAt = this.#opts.now();
    const tally = new IcpReplyTally<IcpPeer>(expected);
    const answers: IcpLookup["answers"] = [];
    return new Promise<IcpLookup>((resolve) => {
      const done = (reason: "answered" | "timeout") => {
        if (!this.#pending.has(reqnum)) return;
        this.#pending.delete(reqnum);
        clearTimeout(timer);
        signal?.removeEventListener("abort", onAbort);
        const decision = tally.finish();
        const outcome = decision.kind === "hit" ? "hit" : reason === "timeout" ? "timeout" : decision.kind;
        resolve({ decision, outcome, answers, expected, waitedMs: this.#opts.now() - sentAt });
      };
      const onAbort = () => done("timeout");
      this.#pending.set(reqnum, { url, sentAt, tally, answers, expected, done, probe });
      const timer = setTimeout(() => done("timeout"), timeoutMs);
      signal?.addEventListener("abort", onAbort, { once: true });
      if (expected === 0 && !probe) {
        // Only dead peers were asked: do not wait for them.
        queueMicrotask(() => done("answered"));
      }
      for (const s of targets) {
        s.lastQueryAt = sentAt;
        s.queries++;
        icpQueriesSent.inc({ peer: s.key });
        this.#transport.send(bytes, { hostname: s.peer.host, port: s.peer.icpPort }, IcpOpcode.QUERY);
        this.#updateUp(s);
      }
      if (useMcast && this.#opts.multicast) {
        const g = this.#opts.multicast;
        for (const s of this.#peers.values()) {
          if (s.peer.multicastResponder) {
            s.lastQueryAt = sentAt;
            s.queries++;
            this.#updateUp(s);
          }
        }
        icpQueriesSent.inc({ peer: `${g.group}:${g.port}` });
        this.#transport.send(bytes, { hostname: g.group, port: g.port }, IcpOpcode.QUERY);
      }
    });
  }

  #updateUp(s: IcpPeerState): void {
    const up = this.#isUp(s);
    if (up !== s.up) {
      s.up = up;
      icpPeerUp.set({ peer: s.key }, up ? 1 : 0);
      if (up) log.info("Peer revived", { peer: s.key });
      else log.warn("Peer dead", { peer: s.key, silentMs: Math.round(s.lastQueryAt - s.lastReplyAt) });
    }
  }

  /**
   * Handles a reply received on the ICP socket (called by the server).
   *
   * @param msg the decoded reply
   * @param from its source address
   */
  handleReply(msg: IcpReply, from: UdpAddr): void {
    const key = `${from.hostname}:${from.port}`;
    const s = this.#peers.get(key);
    if (!s) {
      icpMessagesDropped.inc({ reason: "unknown_peer" });
      log.debug("Ignoring ICP reply from a non-peer", { from: key });
      return;
    }
    const now = this.#opts.now();
    s.lastReplyAt = now;
    s.replies++;
    if (msg.opcode === IcpOpcode.DENIED) s.denied++;
    this.#updateUp(s);
    const p = this.#pending.get(msg.requestNumber);
    if (!p) {
      icpMessagesDropped.inc({ reason: "unexpected_reply" });
      return;
    }
    if (p.url !== msg.url) {
      icpMessagesDropped.inc({ reason: "url_mismatch" });
      return;
    }
    if (msg.opcode === IcpOpcode.SECHO) {
      // Source echo: we never send source pings (RFC 2187 "source echo"), so this answers nothing of ours.
      icpMessagesDropped.inc({ reason: "secho" });
      return;
    }
    if (msg.opcode === IcpOpcode.DECHO && s.peer.type === "sibling") {
      // Squid: "non-ICP neighbors must be a PARENT".
      icpMessagesDropped.inc({ reason: "decho_sibling" });
      return;
    }
    const rttMs = now - p.sentAt;
    s.rttMs = smoothRttMs(s.rttMs, rttMs);
    icpRttSeconds.observe(rttMs / 1000);
    icpPeerRttSeconds.set({ peer: key }, s.rttMs / 1000);
    if (s.peer.multicastResponder) this.#mcastRttMs = smoothRttMs(this.#mcastRttMs, rttMs);
    p.answers.push({ peer: key, opcode: msg.opcode, rttMs });
    if (p.probe) return;
    const decision = p.tally.add(s.peer, s.peer.type, msg.opcode);
    if (decision) p.done("answered");
  }

  /**
   * Marks a peer dead now (its HTTP side failed), as Squid does on connect failures. It is asked
   * again after `deadPeerMs` and revived by its next answer.
   *
   * @param key the peer's `HOST:ICP_PORT`
   * @returns false when no such peer
   */
  markDead(key: string): boolean {
    const s = this.#peers.get(key);
    if (!s) return false;
    const now = this.#opts.now();
    s.lastQueryAt = now;
    s.lastReplyAt = Math.min(s.lastReplyAt, now - this.#opts.deadPeerMs);
    this.#updateUp(s);
    return true;
  }

  /** Ends every lookup in progress (decision `none`); call before closing the socket. */
  close(): void {
    for (const p of [...this.#pending.values()]) p.done("timeout");
  }
}
