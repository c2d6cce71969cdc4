/**
 * The SWIM failure detector and gossip state machine with the Lifeguard refinements, after
 * HashiCorp memberlist (`state.go`). Pure logic over a {@link SwimTransport} and a {@link Clock}:
 * the same engine runs over real UDP/TCP (`membership.ts`) and over the in-memory network of the
 * simulator (`sim/`).
 *
 * - Probing: every `probeIntervalMs` (× awareness) the next member in a shuffled round-robin list
 *   gets a ping; without an ack after `probeTimeoutMs`, the ping is sent once more and
 *   `indirectProbes` members ping it for us (and answer nack when it stays silent) while a TCP ping
 *   is tried; a round without any ack by the end of the interval has failed. After a failed round
 *   the same member is probed again in the next interval, and it becomes suspect when
 *   `suspectAfterProbes` rounds in a row failed (memberlist suspects after one). On a lossy
 *   network this turns the per-round false-suspicion probability p into p^k, which is what keeps
 *   hundreds of nodes at 20 % loss from drowning gossip in suspicions and refutations (see
 *   `bench/cluster_sim.ts`); a real failure is detected (k − 1) probe intervals later. A member
 *   suspected by our own probe is told so directly, so it can refute before gossip reaches it.
 * - Suspicion ({@link Suspicion}): `min = suspicionMult × max(1, log10(n)) × probeIntervalMs`,
 *   `max = suspicionMaxTimeoutMult × min`, shrinking with independent confirmations; expiry
 *   declares the member dead. A member refutes a suspicion about itself by raising its incarnation.
 * - Dissemination: updates are piggybacked on every packet and sent to `gossipNodes` members every
 *   `gossipIntervalMs` ({@link BroadcastQueue}); a TCP push-pull with one member every
 *   `pushPullIntervalMs` (scaled up past 32 members) exchanges full state, and also with a dead
 *   member, so that partitions heal.
 * - Dead and left members are kept for `deadReclaimMs`, then forgotten.
 *
 * @module
 */
import { Awareness } from "./awareness.ts";
import { BroadcastQueue } from "./broadcast_queue.ts";
import type { Clock, TimerHandle } from "./clock.ts";
import {
  encodeMessage,
  type Message,
  packetOverhead,
  type PingMessage,
  type PushPullEntry,
  type PushPullMessage,
  type WireState,
} from "./codec.ts";
import type { NodeRecord } from "./node.ts";
import { Suspicion, suspicionTimeoutMs } from "./suspicion.ts";

/** Sends what the engine produces; implemented over UDP/TCP and by the simulator. */
export interface SwimTransport {
  /** Sends messages as one packet, best effort (UDP). */
  sendPacket(addr: string, msgs: Message[]): void;
  /** Exchanges full state reliably (TCP); `cb(undefined)` on failure. */
  pushPull(addr: string, msg: PushPullMessage, cb: (reply: PushPullMessage | undefined) => void): void;
  /** TCP fallback ping; `cb(true)` when acked within `timeoutMs`. Optional. */
  streamPing?(addr: string, msg: PingMessage, timeoutMs: number, cb: (ok: boolean) => void): void;
}

/** Outcome of one probe. */
export type ProbeResult = "ack" | "indirect" | "tcp" | "failed";

/** Notifications from the engine (metrics, logs, simulation). */
export interface SwimHooks {
  /** A probe of `target` ended. */
  onProbe?(target: string, result: ProbeResult): void;
  /** `node` became suspect, first suspected by `from`. */
  onSuspect?(node: string, from: string): void;
  /** `node` was declared dead by `from`, or left. */
  onDead?(node: string, from: string, left: boolean): void;
  /** `node` joined, or came back to life. */
  onAlive?(node: string, isNew: boolean): void;
  /** This node refuted a suspicion and now runs at `incarnation`. */
  onRefute?(incarnation: number): void;
  /** Anything in the member list changed. */
  onChange?(): void;
  /** A message was ignored (e.g. a ping for another node). */
  onDrop?(reason: string): void;
  /** Another node claims this node's id from another address (misconfigured names or id files). */
  onConflict?(other: NodeRecord): void;
}

/** Timing and fan-out parameters (see `config/cluster_schema.ts` for meaning and defaults). */
export interface SwimOptions {
  /** `cluster.probeIntervalMs` */
  probeIntervalMs: number;
  /** `cluster.probeTimeoutMs` */
  probeTimeoutMs: number;
  /** `cluster.indirectProbes` */
  indirectProbes: number;
  /** `cluster.suspicionMult` */
  suspicionMult: number;
  /** `cluster.suspicionMaxTimeoutMult` */
  suspicionMaxTimeoutMult: number;
  /** `cluster.retransmitMult` */
  retransmitMult: number;
  /** `cluster.gossipIntervalMs` */
  gossipIntervalMs: number;
  /** `cluster.gossipNodes` */
  gossipNodes: number;
  /** `cluster.pushPullIntervalMs` */
  pushPullIntervalMs: number;
  /** `cluster.deadReclaimMs` */
  deadReclaimMs: number;
  /** Bytes available in one UDP packet before encryption (default 1400). */
  maxPacketBytes?: number;
  /** Lifeguard awareness range (default 8; 1 disables it). */
  awarenessMax?: number;
  /** `cluster.suspectAfterProbes` (default 2): failed probe rounds in a row before a suspicion. */
  suspectAfterProbes?: number;
}

/** SWIM state of a member. */
export type SwimState = WireState;

/** What the engine knows about one other member. */
export interface MemberInfo {
  /** Its latest record. */
  record: NodeRecord;
  /** Its SWIM state. */
  state: SwimState;
  /** Clock time of the last state change. */
  sinceMs: number;
}

interface Member extends MemberInfo {
  suspicion?: Suspicion;
  /** Probe rounds in a row that this node's probes of the member failed. */
  failedProbes?: number;
}

interface AckHandler {
  onAck(): void;
  onNack?(): void;
  timer: TimerHandle;
}

/** The SWIM engine of one node. */
export class Swim {
  readonly #o: Required<SwimOptions>;
  readonly #t: SwimTransport;
  readonly #clock: Clock;
  readonly #hooks: SwimHooks;
  readonly #random: () => number;
  readonly #members = new Map<string, Member>();
  /** The same members as an array, for sampling without copying the map. */
  #list: Member[] = [];
  /** Members alive or suspect (kept up to date so the cluster size costs nothing to read). */
  #live = 0;
  readonly #acks = new Map<number, AckHandler>();
  readonly #queue: BroadcastQueue;
  readonly #awareness: Awareness;
  #local: NodeRecord;
  #seq = 0;
  #probeList: string[] = [];
  #probeIndex = 0;
  /** A member whose probe just failed and gets the next probe round again before any suspicion. */
  #reprobe: string | undefined;
  #timers: TimerHandle[] = [];
  #running = false;
  #leaving = false;
  #seeds: string[] = [];

  /**
   * Creates the engine; {@link Swim.start} starts its loops.
   *
   * @param local this node's record; its `incarnation` is the starting incarnation
   * @param opts timing parameters
   * @param deps transport, clock, hooks and a random source (for reproducible simulations)
   */
  constructor(
    local: NodeRecord,
    opts: SwimOptions,
    deps: { transport: SwimTransport; clock: Clock; hooks?: SwimHooks; random?: () => number },
  ) {
    this.#local = { ...local, addrs: { ...local.addrs } };
    this.#o = { maxPacketBytes: 1400, awarenessMax: 8, suspectAfterProbes: 2, ...opts };
    this.#t = deps.transport;
    this.#clock = deps.clock;
    this.#hooks = deps.hooks ?? {};
    this.#random = deps.random ?? Math.random;
    this.#queue = new BroadcastQueue(opts.retransmitMult, () => this.numAlive());
    this.#awareness = new Awareness(this.#o.awarenessMax);
  }

  /** This node's current record. */
  get local(): NodeRecord {
    return this.#local;
  }

  /** The Lifeguard health score (0 is healthy). */
  get awareness(): number {
    return this.#awareness.score;
  }

  /** Updates waiting to be gossiped. */
  get pendingBroadcasts(): number {
    return this.#queue.length;
  }

  /** Members other than this node. */
  others(): MemberInfo[] {
    return [...this.#members.values()].map((m) => ({ record: m.record, state: m.state, sinceMs: m.sinceMs }));
  }

  /** The SWIM state of a member, or undefined when unknown. */
  stateOf(id: string): SwimState | undefined {
    if (id === this.#local.id) return this.#leaving ? "left" : "alive";
    return this.#members.get(id)?.state;
  }

  /** Members alive or suspect, this node included (the n of the formulas). */
  numAlive(): number {
    return 1 + this.#live;
  }

  /** Starts the probe, gossip, push-pull and reap loops. */
  start(): void {
    if (this.#running) return;
    this.#running = true;
    const o = this.#o;
    const jitter = (ms: number) => Math.floor(this.#random() * ms);
    this.#loop(() => this.#awareness.scale(o.probeIntervalMs), () => this.#probeTick(), jitter(o.probeIntervalMs));
    this.#loop(() => o.gossipIntervalMs, () => this.#gossipTick(), jitter(o.gossipIntervalMs));
    if (o.pushPullIntervalMs > 0) {
      this.#loop(() => this.#pushPullIntervalMs(), () => this.#pushPullTick(), jitter(o.pushPullIntervalMs));
    }
    const reapEvery = Math.max(100, Math.min(1000, o.deadReclaimMs / 4));
    this.#loop(() => reapEvery, () => this.#reap(), reapEvery);
  }

  /** Stops every loop and timer; the engine ignores input afterwards. */
  stop(): void {
    this.#running = false;
    for (const t of this.#timers) this.#clock.clearTimer(t);
    this.#timers = [];
    for (const a of this.#acks.values()) this.#clock.clearTimer(a.timer);
    this.#acks.clear();
    for (const m of this.#members.values()) m.suspicion?.stop();
  }

  #loop(interval: () => number, fn: () => void, first: number): void {
    const slot = this.#timers.length;
    const run = () => {
      if (!this.#running) return;
      this.#timers[slot] = this.#clock.setTimer(interval(), run);
      fn();
    };
    this.#timers[slot] = this.#clock.setTimer(first, run);
  }

  #pushPullIntervalMs(): number {
    const n = this.numAlive();
    if (n <= 32) return this.#o.pushPullIntervalMs;
    return this.#o.pushPullIntervalMs * (Math.ceil(Math.log2(n) - Math.log2(32)) + 1);
  }

  // ---- sending ----

  #send(addr: string, msgs: Message[]): void {
    if (!this.#running) return;
    let used = packetOverhead(msgs.length);
    for (const m of msgs) used += encodeMessage(m).length;
    const room = Math.min(255 - msgs.length, 250);
    const extra = room > 0 ? this.#queue.take(2, this.#o.maxPacketBytes - used) : [];
    this.#t.sendPacket(addr, extra.length ? [...msgs, ...extra] : msgs);
  }

  #broadcast(key: string, msg: Message): void {
    this.#queue.queue(key, msg, encodeMessage(msg).length);
  }

  #nextSeq(): number {
    this.#seq = (this.#seq + 1) >>> 0;
    return this.#seq;
  }

  #randomMembers(k: number, ok: (m: Member) => boolean): Member[] {
    const list = this.#list;
    if (k * 4 < list.length) {
      // Sample a few random members first: O(k) instead of O(n) per call in large clusters.
      const picked = new Set<Member>();
      for (let tries = 0; tries < 3 * k + 8 && picked.size < k; tries++) {
        const m = list[Math.floor(this.#random() * list.length)];
        if (ok(m)) picked.add(m);
      }
      if (picked.size === k) return [...picked];
    }
    const pool = list.filter(ok);
    for (let i = pool.length - 1; i > 0; i--) {
      const j = Math.floor(this.#random() * (i + 1));
      [pool[i], pool[j]] = [pool[j], pool[i]];
    }
    return pool.slice(0, k);
  }

  // ---- probing ----

  #probeTick(): void {
    let target: Member | undefined;
    if (this.#reprobe !== undefined) {
      const m = this.#members.get(this.#reprobe);
      this.#reprobe = undefined;
      if (m && (m.state === "alive" || m.state === "suspect")) target = m;
    }
    for (let tries = 0; tries <= this.#members.size && !target; tries++) {
      if (this.#probeIndex >= this.#probeList.length) {
        this.#probeList = this.#randomMembers(Infinity, () => true).map((m) => m.record.id);
        this.#probeIndex = 0;
        if (this.#probeList.length === 0) return;
      }
      const m = this.#members.get(this.#probeList[this.#probeIndex++]);
      if (m && (m.state === "alive" || m.state === "suspect")) target = m;
    }
    if (target) this.#probe(target);
  }

  #probe(m: Member): void {
    const o = this.#o;
    const id = m.record.id;
    const addr = m.record.addrs.gossip;
    const seq = this.#nextSeq();
    const ping: PingMessage = {
      type: "ping",
      seq,
      target: id,
      from: this.#local.id,
      fromAddr: this.#local.addrs.gossip,
    };
    const interval = this.#awareness.scale(o.probeIntervalMs);
    const timeout = Math.min(this.#awareness.scale(o.probeTimeoutMs), interval);
    let done = false;
    let expectedNacks = 0;
    let nacks = 0;
    const finish = (result: ProbeResult) => {
      if (done) return;
      done = true;
      this.#clock.clearTimer(handler.timer);
      this.#clock.clearTimer(indirectTimer);
      this.#acks.delete(seq);
      const cur = this.#members.get(id);
      if (result !== "failed") {
        if (cur) cur.failedProbes = 0;
        this.#awareness.apply(-1);
        this.#hooks.onProbe?.(id, result);
        return;
      }
      // Lifeguard: missing nacks mean we are the slow one.
      this.#awareness.apply(expectedNacks > 0 ? expectedNacks - nacks : 1);
      this.#hooks.onProbe?.(id, "failed");
      if (!cur || cur.state === "dead" || cur.state === "left") return;
      // One lost round on a lossy network is not a failure: probe the member again in the next
      // period, and suspect it only after suspectAfterProbes rounds in a row failed. A dead member
      // is suspected one probe interval later; false suspicions fall with the power of the rounds.
      cur.failedProbes = (cur.failedProbes ?? 0) + 1;
      if (cur.state === "alive" && cur.failedProbes < o.suspectAfterProbes) {
        this.#reprobe = id;
        return;
      }
      cur.failedProbes = 0;
      if (cur.state === "alive") {
        this.#suspect(cur.record.incarnation, id, this.#local.id);
        // Tell the member itself at once (besides gossip), so it can refute early.
        const s = this.#members.get(id);
        if (s?.state === "suspect") {
          this.#send(addr, [{ type: "suspect", incarnation: s.record.incarnation, node: id, from: this.#local.id }]);
        }
      } else {
        this.#suspect(cur.record.incarnation, id, this.#local.id);
      }
    };
    let via: ProbeResult = "ack";
    const handler: AckHandler = {
      onAck: () => finish(via),
      onNack: () => nacks++,
      timer: this.#clock.setTimer(interval, () => finish("failed")),
    };
    this.#acks.set(seq, handler);
    // Lifeguard's buddy system: a suspect learns of the suspicion from the probe itself.
    const msgs: Message[] = [ping];
    if (m.state === "suspect") {
      msgs.push({ type: "suspect", incarnation: m.record.incarnation, node: id, from: this.#local.id });
    }
    this.#send(addr, msgs);
    const indirectTimer = this.#clock.setTimer(timeout, () => {
      if (done) return;
      via = "indirect";
      // The direct ping or its ack may have been the one packet lost: send it once more.
      this.#send(addr, msgs);
      const relays = this.#randomMembers(o.indirectProbes, (r) => r.state === "alive" && r.record.id !== id);
      expectedNacks = relays.length;
      for (const r of relays) {
        this.#send(r.record.addrs.gossip, [{
          type: "indirectPing",
          seq,
          target: id,
          targetAddr: addr,
          from: this.#local.id,
          fromAddr: this.#local.addrs.gossip,
          nack: true,
        }]);
      }
      this.#t.streamPing?.(addr, ping, interval - timeout, (ok) => {
        if (ok && !done) {
          via = "tcp";
          finish("tcp");
        }
      });
    });
  }

  // ---- receiving ----

  /**
   * Handles the messages of one packet.
   *
   * @param msgs decoded messages
   */
  handlePacket(msgs: readonly Message[]): void {
    if (!this.#running) return;
    for (const m of msgs) this.#handle(m);
  }

  #handle(m: Message): void {
    switch (m.type) {
      case "ping":
        if (m.target !== this.#local.id) {
          this.#hooks.onDrop?.("wrong-node");
          return;
        }
        this.#send(m.fromAddr, [{ type: "ack", seq: m.seq }]);
        return;
      case "indirectPing":
        this.#relay(m.seq, m.target, m.targetAddr, m.fromAddr, m.nack);
        return;
      case "ack":
        this.#acks.get(m.seq)?.onAck();
        return;
      case "nack":
        this.#acks.get(m.seq)?.onNack?.();
        return;
      case "alive":
        this.#alive(m.record);
        return;
      case "suspect":
        this.#suspect(m.incarnation, m.node, m.from);
        return;
      case "dead":
        this.#dead(m.incarnation, m.node, m.from);
        return;
      case "pushPull":
        this.#merge(m.entries);
        return;
      case "announce":
        return;
    }
  }

  /** Answers a stream ping (TCP fallback): true when it is addressed to this node. */
  handleStreamPing(m: PingMessage): boolean {
    return this.#running && m.target === this.#local.id;
  }

  #relay(origSeq: number, target: string, targetAddr: string, replyTo: string, wantNack: boolean): void {
    const seq = this.#nextSeq();
    const o = this.#o;
    let nackTimer: TimerHandle | undefined;
    const handler: AckHandler = {
      onAck: () => {
        this.#clock.clearTimer(handler.timer);
        if (nackTimer !== undefined) this.#clock.clearTimer(nackTimer);
        this.#acks.delete(seq);
        this.#send(replyTo, [{ type: "ack", seq: origSeq }]);
      },
      timer: this.#clock.setTimer(o.probeIntervalMs, () => this.#acks.delete(seq)),
    };
    this.#acks.set(seq, handler);
    if (wantNack) {
      nackTimer = this.#clock.setTimer(o.probeTimeoutMs, () => {
        if (this.#acks.has(seq)) this.#send(replyTo, [{ type: "nack", seq: origSeq }]);
      });
    }
    this.#send(targetAddr, [{ type: "ping", seq, target, from: this.#local.id, fromAddr: this.#local.addrs.gossip }]);
  }

  // ---- state transitions ----

  #changed(): void {
    this.#hooks.onChange?.();
  }

  #refute(incarnation: number): void {
    this.#local = { ...this.#local, incarnation: (Math.max(this.#local.incarnation, incarnation) + 1) >>> 0 };
    this.#broadcast(this.#local.id, { type: "alive", record: this.#local });
    this.#awareness.apply(1);
    this.#hooks.onRefute?.(this.#local.incarnation);
  }

  #alive(r: NodeRecord): void {
    if (r.id === this.#local.id) {
      if (this.#leaving) return;
      if (r.addrs.gossip !== this.#local.addrs.gossip) this.#hooks.onConflict?.(r);
      if (r.incarnation >= this.#local.incarnation && JSON.stringify(r) !== JSON.stringify(this.#local)) {
        this.#refute(r.incarnation);
      }
      return;
    }
    const m = this.#members.get(r.id);
    if (!m) {
      const m: Member = { record: r, state: "alive", sinceMs: this.#clock.now() };
      this.#members.set(r.id, m);
      this.#list.push(m);
      this.#live++;
      this.#probeList.splice(Math.floor(this.#random() * (this.#probeList.length + 1)), 0, r.id);
      this.#broadcast(r.id, { type: "alive", record: r });
      this.#hooks.onAlive?.(r.id, true);
      this.#changed();
      return;
    }
    if (r.incarnation <= m.record.incarnation) return;
    const wasAlive = m.state === "alive";
    m.suspicion?.stop();
    m.suspicion = undefined;
    m.record = r;
    if (!wasAlive) {
      if (m.state === "dead" || m.state === "left") this.#live++;
      m.state = "alive";
      m.sinceMs = this.#clock.now();
      this.#hooks.onAlive?.(r.id, false);
    }
    this.#broadcast(r.id, { type: "alive", record: r });
    this.#changed();
  }

  #suspect(incarnation: number, node: string, from: string): void {
    if (node === this.#local.id) {
      if (!this.#leaving && incarnation >= this.#local.incarnation) this.#refute(incarnation);
      return;
    }
    const m = this.#members.get(node);
    if (!m || incarnation < m.record.incarnation) return;
    if (m.state === "suspect") {
      if (m.suspicion?.confirm(from)) this.#broadcast(node, { type: "suspect", incarnation, node, from });
      return;
    }
    if (m.state !== "alive") return;
    const o = this.#o;
    m.state = "suspect";
    m.record = { ...m.record, incarnation };
    m.sinceMs = this.#clock.now();
    this.#broadcast(node, { type: "suspect", incarnation, node, from });
    this.#hooks.onSuspect?.(node, from);
    const n = this.numAlive();
    let k = o.suspicionMult - 2;
    if (n - 2 < k) k = 0;
    const minMs = suspicionTimeoutMs(n, { mult: o.suspicionMult, probeIntervalMs: o.probeIntervalMs });
    m.suspicion = new Suspicion({
      from,
      k,
      minMs,
      maxMs: o.suspicionMaxTimeoutMult * minMs,
      clock: this.#clock,
      onTimeout: () => {
        const cur = this.#members.get(node);
        if (cur && cur.state === "suspect" && cur.record.incarnation === incarnation) {
          this.#dead(incarnation, node, this.#local.id);
        }
      },
    });
    this.#changed();
  }

  #dead(incarnation: number, node: string, from: string): void {
    if (node === this.#local.id) {
      if (!this.#leaving && incarnation >= this.#local.incarnation) this.#refute(incarnation);
      return;
    }
    const m = this.#members.get(node);
    if (!m || incarnation < m.record.incarnation) return;
    const left = from === node;
    if (m.state === "left" || (m.state === "dead" && !left)) return;
    m.suspicion?.stop();
    m.suspicion = undefined;
    if (m.state === "alive" || m.state === "suspect") this.#live--;
    m.state = left ? "left" : "dead";
    m.record = { ...m.record, incarnation };
    m.sinceMs = this.#clock.now();
    this.#broadcast(node, { type: "dead", incarnation, node, from });
    this.#hooks.onDead?.(node, from, left);
    this.#changed();
  }

  #merge(entries: readonly PushPullEntry[]): void {
    for (const e of entries) {
      switch (e.state) {
        case "alive":
          this.#alive(e.record);
          break;
        case "left":
          this.#dead(e.record.incarnation, e.record.id, e.record.id);
          break;
        default:
          // memberlist: a remote dead member is only suspect to us, so it gets a chance to refute.
          this.#suspect(e.record.incarnation, e.record.id, this.#local.id);
      }
    }
  }

  #reap(): void {
    const now = this.#clock.now();
    let changed = false;
    for (const [id, m] of this.#members) {
      if ((m.state === "dead" || m.state === "left") && now - m.sinceMs >= this.#o.deadReclaimMs) {
        this.#members.delete(id);
        changed = true;
      }
    }
    if (changed) {
      this.#list = [...this.#members.values()];
      this.#changed();
    }
  }

  // ---- gossip and anti-entropy ----

  #gossipTick(): void {
    if (this.#queue.length === 0) return;
    const now = this.#clock.now();
    const targets = this.#randomMembers(
      this.#o.gossipNodes,
      (m) =>
        m.state === "alive" || m.state === "suspect" || (m.state === "dead" && now - m.sinceMs < this.#o.deadReclaimMs),
    );
    for (const m of targets) {
      const msgs = this.#queue.take(2, this.#o.maxPacketBytes - packetOverhead(0));
      if (msgs.length === 0) return;
      this.#t.sendPacket(m.record.addrs.gossip, msgs);
    }
  }

  /** The full state of this node as a push-pull message. */
  localState(join = false): PushPullMessage {
    const entries: PushPullEntry[] = [{ state: this.#leaving ? "left" : "alive", record: this.#local }];
    for (const m of this.#members.values()) entries.push({ state: m.state, record: m.record });
    return { type: "pushPull", join, entries };
  }

  /**
   * Answers a push-pull request: returns our state, then merges theirs.
   */
  handlePushPull(req: PushPullMessage): PushPullMessage {
    const reply = this.localState();
    if (this.#running) this.#merge(req.entries);
    return reply;
  }

  #pushPullWith(addr: string, join: boolean, cb?: (ok: boolean) => void): void {
    this.#t.pushPull(addr, this.localState(join), (reply) => {
      if (reply && this.#running) this.#merge(reply.entries);
      cb?.(reply !== undefined);
    });
  }

  #pushPullTick(): void {
    const [peer] = this.#randomMembers(1, (m) => m.state === "alive");
    if (peer) this.#pushPullWith(peer.record.addrs.gossip, false);
    // Heal partitions: also reconcile with a member we believe dead (Serf's reconnect).
    const [gone] = this.#randomMembers(1, (m) => m.state === "dead");
    if (gone) this.#pushPullWith(gone.record.addrs.gossip, false);
    // Alone: try the seeds again.
    if (!peer && this.#seeds.length) {
      this.#pushPullWith(this.#seeds[Math.floor(this.#random() * this.#seeds.length)], true);
    }
  }

  /**
   * Joins a cluster by exchanging full state with seeds; keeps them to rejoin when alone.
   *
   * @param addrs seed gossip addresses
   * @param cb called with the number of seeds that answered
   */
  join(addrs: readonly string[], cb?: (contacted: number) => void): void {
    const mine = new Set([this.#local.addrs.gossip]);
    const seeds = addrs.filter((a) => !mine.has(a));
    for (const a of seeds) if (!this.#seeds.includes(a)) this.#seeds.push(a);
    if (seeds.length === 0) {
      cb?.(0);
      return;
    }
    let pending = seeds.length;
    let ok = 0;
    for (const a of seeds) {
      this.#pushPullWith(a, true, (good) => {
        if (good) ok++;
        if (--pending === 0) cb?.(ok);
      });
    }
  }

  /**
   * Changes this node's record (weight, draining state, addresses...), raises the incarnation and
   * gossips it.
   */
  update(patch: Partial<Omit<NodeRecord, "id" | "incarnation">>): NodeRecord {
    this.#local = { ...this.#local, ...patch, id: this.#local.id, incarnation: (this.#local.incarnation + 1) >>> 0 };
    this.#broadcast(this.#local.id, { type: "alive", record: this.#local });
    this.#changed();
    return this.#local;
  }

  /**
   * Announces that this node leaves: a `dead` message about itself (from itself), sent directly to
   * every live member and queued for gossip.
   */
  leave(): void {
    if (this.#leaving) return;
    this.#leaving = true;
    const msg: Message = {
      type: "dead",
      incarnation: this.#local.incarnation,
      node: this.#local.id,
      from: this.#local.id,
    };
    this.#broadcast(this.#local.id, msg);
    for (const m of this.#members.values()) {
      if (m.state === "alive" || m.state === "suspect") this.#send(m.record.addrs.gossip, [msg]);
    }
    this.#changed();
  }
}
