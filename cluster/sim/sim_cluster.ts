/**
 * A whole cluster of {@link Swim} engines on a {@link SimNetwork} with a {@link FakeClock}, with
 * the measurements the simulator reports: time until every live node marks a killed node dead,
 * and deaths declared about nodes that were alive (false positives).
 *
 * @module
 */
import type { NodeRecord } from "../node.ts";
import { Swim, type SwimOptions, type SwimState } from "../swim.ts";
import { FakeClock, seededRandom } from "./fake_clock.ts";
import { SimNetwork } from "./sim_network.ts";

/** Options of a {@link SimCluster}. */
export interface SimClusterOptions {
  /** Number of nodes. */
  n: number;
  /** Datagram loss probability, 0-1. */
  loss: number;
  /** Protocol timing. */
  swim: SwimOptions;
  /** Random seed (default 1). */
  seed?: number;
}

/** One simulated node. */
export interface SimNode {
  /** Gossip address. */
  addr: string;
  /** Node id (`n<i>`). */
  id: string;
  /** Its engine. */
  swim: Swim;
  /** False once killed. */
  alive: boolean;
}

/** A simulated cluster. */
export class SimCluster {
  /** Simulated time. */
  readonly clock: FakeClock = new FakeClock();
  /** The network. */
  readonly net: SimNetwork;
  /** Node `i` at index `i`. */
  readonly nodes: SimNode[] = [];
  /** Seeded random source shared by all nodes. */
  readonly random: () => number;
  /** Deaths (failed, not left) declared about nodes that were running at the time. */
  falseDeaths = 0;
  /** Suspicions raised about nodes that were running at the time. */
  falseSuspicions = 0;
  /** Suspicions each node raised itself (after its own probe failed), by node id. */
  readonly accusations = new Map<string, number>();
  readonly #o: SimClusterOptions;

  /** Creates and starts `o.n` nodes (not yet joined: see {@link SimCluster.joinAll}). */
  constructor(o: SimClusterOptions) {
    this.#o = o;
    this.random = seededRandom(o.seed ?? 1);
    this.net = new SimNetwork(this.clock, { loss: o.loss, random: this.random });
    for (let i = 0; i < o.n; i++) this.add(i);
  }

  #record(i: number): NodeRecord {
    return {
      id: `n${i}`,
      name: `node-${i}`,
      role: i % 10 === 0 ? "director" : "cache",
      addrs: { gossip: `10.0.${i >> 8}.${i & 255}:7946` },
      weight: 100,
      state: "alive",
      configHash: "0000000000000000",
      incarnation: 1,
    };
  }

  /** Creates node `i` (or restarts it with a higher incarnation) and starts it. */
  add(i: number, incarnation = 1): SimNode {
    const rec = { ...this.#record(i), incarnation };
    const link = this.net.attach(rec.addrs.gossip);
    const node: SimNode = { addr: rec.addrs.gossip, id: rec.id, alive: true, swim: undefined as unknown as Swim };
    node.swim = new Swim(rec, this.#o.swim, {
      transport: link.transport,
      clock: this.clock,
      random: this.random,
      hooks: {
        onSuspect: (id, from) => {
          if (this.byId(id)?.alive) this.falseSuspicions++;
          if (from === node.id) this.accusations.set(node.id, (this.accusations.get(node.id) ?? 0) + 1);
        },
        onDead: (id, from, left) => {
          // Count each false death once, where it was declared (by the suspicion timeout).
          if (!left && from === node.id && this.byId(id)?.alive) this.falseDeaths++;
        },
      },
    });
    link.bind(node.swim);
    this.nodes[i] = node;
    node.swim.start();
    return node;
  }

  /** The node with this id. */
  byId(id: string): SimNode | undefined {
    const i = Number(id.slice(1));
    return this.nodes[i]?.id === id ? this.nodes[i] : undefined;
  }

  /** Joins every node to node 0 and runs until all know all (or `maxMs` passes). */
  joinAll(maxMs = 120_000): number {
    const seed = this.nodes[0].addr;
    for (const n of this.nodes.slice(1)) n.swim.join([seed]);
    const start = this.clock.now();
    let next = start;
    this.clock.runUntil(start + maxMs, () => {
      if (this.clock.now() < next) return false;
      next = this.clock.now() + 100;
      return this.converged((s) => s === "alive");
    });
    return this.clock.now() - start;
  }

  /** Whether every running node sees every other running node in a state accepted by `ok`. */
  converged(ok: (s: SwimState | undefined) => boolean, about?: SimNode): boolean {
    for (const a of this.nodes) {
      if (!a.alive) continue;
      if (about) {
        if (!ok(a.swim.stateOf(about.id))) return false;
        continue;
      }
      for (const b of this.nodes) if (b !== a && b.alive && !ok(a.swim.stateOf(b.id))) return false;
    }
    return true;
  }

  /** Stops node `i` abruptly (kill -9): no leave message, packets to it are lost. */
  kill(i: number): SimNode {
    const n = this.nodes[i];
    n.alive = false;
    n.swim.stop();
    this.net.detach(n.addr);
    return n;
  }

  /**
   * Runs until every running node marks `victim` dead (or left), checking every 10 ms.
   *
   * @returns milliseconds taken, or undefined when `maxMs` passed first
   */
  runUntilDead(victim: SimNode, maxMs: number): number | undefined {
    const start = this.clock.now();
    let next = start;
    let done = false;
    this.clock.runUntil(start + maxMs, () => {
      if (this.clock.now() < next) return false;
      next = this.clock.now() + 10;
      done = this.converged((s) => s === "dead" || s === "left" || s === undefined, victim);
      return done;
    });
    return done ? this.clock.now() - start : undefined;
  }

  /** Stops every node. */
  stop(): void {
    for (const n of this.nodes) if (n.alive) n.swim.stop();
  }
}
