/**
 * An in-memory network for the SWIM engine: each node gets a {@link SwimTransport} whose
 * datagrams are delivered after a random latency and lost with a given probability; streams
 * (push-pull, TCP ping) are reliable, but each of their four segments (SYN, SYN-ACK, request,
 * reply) is lost with the same probability and then retransmitted after Linux's initial timeouts
 * (1 s for SYN and SYN-ACK, 200 ms for data), so a lossy network delays them as it would TCP.
 * A stream to a stopped node fails. Used by unit tests of the protocol logic and by the simulator (`bench/cluster_sim.ts`).
 *
 * @module
 */
import type { Message, PingMessage, PushPullMessage } from "../codec.ts";
import type { SwimTransport } from "../swim.ts";
import type { FakeClock } from "./fake_clock.ts";

/** What the network delivers to a node. */
export interface SimEndpoint {
  /** A datagram arrived. */
  handlePacket(msgs: readonly Message[]): void;
  /** A push-pull request arrived; returns the reply. */
  handlePushPull(req: PushPullMessage): PushPullMessage;
  /** A TCP ping arrived; true when it is for this node. */
  handleStreamPing(p: PingMessage): boolean;
}

/** Options of a {@link SimNetwork}. */
export interface SimNetworkOptions {
  /** Probability that a datagram is lost, 0-1. */
  loss: number;
  /** Latency range of one hop in milliseconds. */
  /** Shortest one-way latency (default 1 ms). */
  minLatencyMs?: number;
  /** Longest one-way latency (default 5 ms). */
  maxLatencyMs?: number;
  /** Random source (seeded for reproducible runs). */
  random: () => number;
}

/** Counters of a {@link SimNetwork}. */
export interface SimNetworkStats {
  /** Datagrams sent. */
  packets: number;
  /** Datagrams lost. */
  lost: number;
  /** Messages in those datagrams. */
  messages: number;
  /** TCP exchanges (push-pull, TCP ping). */
  streams: number;
}

/** The simulated network. */
export class SimNetwork {
  readonly #clock: FakeClock;
  readonly #o: Required<SimNetworkOptions>;
  readonly #nodes = new Map<string, SimEndpoint>();
  readonly #blocked = new Set<string>();
  readonly #slow = new Map<string, number>();
  /** Traffic counters. */
  readonly stats: SimNetworkStats = { packets: 0, lost: 0, messages: 0, streams: 0 };

  /** Creates a network driven by `clock`. */
  constructor(clock: FakeClock, o: SimNetworkOptions) {
    this.#clock = clock;
    this.#o = { minLatencyMs: 1, maxLatencyMs: 5, ...o };
  }

  /** Time a TCP exchange takes: four one-way segments, each retransmitted after its RTO when lost. */
  #streamMs(): number {
    let ms = 0;
    for (const rto of [1000, 1000, 200, 200]) {
      ms += this.#latency();
      let backoff = rto;
      while (this.#o.random() < this.#o.loss && backoff < 60_000) {
        ms += backoff;
        backoff *= 2;
      }
    }
    return ms;
  }

  #latency(): number {
    const { minLatencyMs: a, maxLatencyMs: b } = this.#o;
    return a + this.#o.random() * (b - a);
  }

  /** Delays everything delivered to `addr` by `ms` (an overloaded node that reads its socket late). */
  slow(addr: string, ms: number): void {
    if (ms > 0) this.#slow.set(addr, ms);
    else this.#slow.delete(addr);
  }

  /** Cuts (or restores) the link between two addresses in both directions. */
  block(a: string, b: string, blocked = true): void {
    for (const k of [`${a}|${b}`, `${b}|${a}`]) blocked ? this.#blocked.add(k) : this.#blocked.delete(k);
  }

  #reachable(from: string, to: string): SimEndpoint | undefined {
    if (this.#blocked.has(`${from}|${to}`)) return undefined;
    return this.#nodes.get(to);
  }

  /** Attaches a node at `addr` (the endpoint is set later, after the engine exists). */
  attach(addr: string): { transport: SwimTransport; bind(e: SimEndpoint): void } {
    const transport: SwimTransport = {
      sendPacket: (to, msgs) => {
        this.stats.packets++;
        this.stats.messages += msgs.length;
        if (this.#o.random() < this.#o.loss) {
          this.stats.lost++;
          return;
        }
        const delay = this.#latency() + (this.#slow.get(to) ?? 0);
        this.#clock.setTimer(delay, () => this.#reachable(addr, to)?.handlePacket(msgs));
      },
      pushPull: (to, msg, cb) => {
        this.stats.streams++;
        const total = this.#streamMs() + (this.#slow.get(to) ?? 0) + (this.#slow.get(addr) ?? 0);
        this.#clock.setTimer(total / 2, () => {
          const peer = this.#reachable(addr, to);
          if (!peer) return void this.#clock.setTimer(5000, () => cb(undefined)); // connect timeout
          const reply = peer.handlePushPull(msg);
          this.#clock.setTimer(total / 2, () => cb(this.#nodes.has(addr) ? reply : undefined));
        });
      },
      streamPing: (to, ping, timeoutMs, cb) => {
        this.stats.streams++;
        const total = this.#streamMs() + (this.#slow.get(to) ?? 0) + (this.#slow.get(addr) ?? 0);
        this.#clock.setTimer(Math.min(total, timeoutMs), () => {
          const peer = this.#reachable(addr, to);
          cb(total < timeoutMs && peer !== undefined && peer.handleStreamPing(ping));
        });
      },
    };
    return { transport, bind: (e) => void this.#nodes.set(addr, e) };
  }

  /** Removes a node: everything sent to it is lost (a kill -9). */
  detach(addr: string): void {
    this.#nodes.delete(addr);
  }
}
