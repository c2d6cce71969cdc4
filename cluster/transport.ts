/**
 * Gossip over the network: UDP for probes and piggybacked updates, TCP on the same port for
 * push-pull (full state), the fallback ping, and packets too large for one datagram. Every
 * datagram and frame is sealed by the {@link Keyring}; input that fails to open or decode is
 * dropped and reported through `onDrop` with a reason, never thrown.
 *
 * ## TCP (one request packet, at most one reply packet, per connection)
 *
 * Packets travel as length-prefixed sealed frames (`stream_frame.ts`): a first frame of at most
 * `MAX_UNAUTHENTICATED_FRAME_BYTES` (codec.ts), and a larger one only after an authenticated
 * `streamOpen` announced it. The first message of a request decides the exchange: `pushPull` is
 * answered by our `pushPull`, `ping` by an `ack` (when addressed to us), anything else is a
 * one-way packet.
 *
 * Strangers cost little: at most {@link MAX_UNAUTHENTICATED_CONNS} accepted connections may wait
 * for their first frame to authenticate (more are closed at once, `reason="busy"`), each for at
 * most {@link AUTH_TIMEOUT_MS} (`reason="timeout"`), and none is read past the small bound before
 * it authenticated (`reason="oversized"`). A flood of connections announcing huge frames therefore
 * allocates nothing big, and everything it held is freed when they are closed.
 *
 * @module
 */
import { formatHostPort, parseHostPort } from "../core/addr.ts";
import { listenError } from "../core/listen_error.ts";
import { getLogger } from "../core/log.ts";
import {
  ClusterDecodeError,
  type ConfigMessage,
  decodePacket,
  encodePacket,
  MAX_PACKET_BYTES,
  type Message,
  type PingMessage,
  type PushPullMessage,
} from "./codec.ts";
import { EnvelopeError, type Keyring } from "./keyring.ts";
import { readSealedPacket, writeSealedPacket } from "./stream_frame.ts";
import type { SwimTransport } from "./swim.ts";

const log = getLogger("cluster.transport");

/** Plain packets larger than this go over TCP instead of one UDP datagram. */
export const MAX_UDP_PACKET_BYTES = 1400;
/**
 * Inbound TCP connections that may wait for their first frame to authenticate at once; a real
 * cluster opens a handful at a time (push-pull, fallback pings, large packets).
 */
export const MAX_UNAUTHENTICATED_CONNS = 64;
/** Milliseconds an inbound TCP connection has to deliver an authenticated first frame (at most the stream timeout). */
export const AUTH_TIMEOUT_MS = 2000;

/** What the transport delivers to. */
export interface TransportHandler {
  /** A packet arrived (UDP, or a one-way TCP frame). */
  packet(msgs: Message[], from: string): void;
  /** A push-pull request arrived; returns our state. */
  pushPull(req: PushPullMessage, from: string): PushPullMessage;
  /** A TCP ping arrived; true when it is for us. */
  streamPing(ping: PingMessage): boolean;
  /** A peer asks for our config (cluster.configSync); undefined when we do not share it. */
  config?(): ConfigMessage | undefined;
  /**
   * A request of the roles' own (`purge`, `bans`) arrived over TCP; the messages returned, if any,
   * are the reply. Without this handler such frames are dropped (`reason="unhandled"`).
   */
  request?(msgs: Message[], from: string): Promise<Message[] | undefined>;
  /** Input was dropped; `reason` labels the metric. */
  drop(reason: string, from: string, error?: Error): void;
}

/** Options of {@link NetTransport.listen}. */
export interface NetTransportOptions {
  /** Listen address. */
  hostname: string;
  /** Listen port (0: any free port, the same for UDP and TCP). */
  port: number;
  keyring: Keyring;
  handler: TransportHandler;
  /** Milliseconds a TCP exchange may take (default 5000). */
  streamTimeoutMs?: number;
}

/**
 * Connects, giving up after `ms` (a partitioned peer never answers the SYN); a connection that
 * completes after the deadline is closed.
 */
async function connectWithin(hostname: string, port: number, ms: number): Promise<Deno.Conn> {
  const pending = Deno.connect({ transport: "tcp", hostname, port });
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, rej) => {
    timer = setTimeout(() => rej(new Deno.errors.TimedOut(`connect to ${hostname}:${port} timed out`)), ms);
  });
  try {
    return await Promise.race([pending, timeout]);
  } catch (e) {
    pending.then((c) => c.close(), () => {});
    throw e;
  } finally {
    clearTimeout(timer);
  }
}

/** UDP + TCP gossip transport bound to one port. */
export class NetTransport implements SwimTransport {
  readonly #udp: Deno.DatagramConn;
  readonly #tcp: Deno.TcpListener;
  readonly #o: NetTransportOptions;
  readonly #tasks = new Set<Promise<unknown>>();
  readonly #conns = new Set<Deno.Conn>();
  #unauthenticated = 0;
  #closed = false;

  private constructor(udp: Deno.DatagramConn, tcp: Deno.TcpListener, o: NetTransportOptions) {
    this.#udp = udp;
    this.#tcp = tcp;
    this.#o = o;
    this.#track(this.#udpLoop());
    this.#track(this.#tcpLoop());
  }

  /**
   * Binds UDP and TCP on one port and starts receiving.
   *
   * @throws {Deno.errors.AddrInUse} when the port is taken (after retries for port 0)
   */
  static listen(o: NetTransportOptions): NetTransport {
    for (let attempt = 0;; attempt++) {
      let udp: Deno.DatagramConn;
      try {
        udp = Deno.listenDatagram({ transport: "udp", hostname: o.hostname, port: o.port });
      } catch (e) {
        throw listenError(e, `udp ${formatHostPort({ host: o.hostname, port: o.port })}`, "cluster.gossipListen");
      }
      const port = (udp.addr as Deno.NetAddr).port;
      try {
        const tcp = Deno.listen({ transport: "tcp", hostname: o.hostname, port });
        return new NetTransport(udp, tcp, o);
      } catch (e) {
        udp.close();
        if (!(e instanceof Deno.errors.AddrInUse) || o.port !== 0 || attempt >= 20) {
          throw listenError(e, `tcp ${formatHostPort({ host: o.hostname, port })}`, "cluster.gossipListen");
        }
      }
    }
  }

  /** The bound address (the same port for UDP and TCP). */
  get addr(): Deno.NetAddr {
    return this.#udp.addr as Deno.NetAddr;
  }

  #track(p: Promise<unknown>): void {
    this.#tasks.add(p);
    p.finally(() => this.#tasks.delete(p));
  }

  #drop(e: unknown, from: string): void {
    if (e instanceof EnvelopeError || e instanceof ClusterDecodeError) this.#o.handler.drop(e.reason, from, e);
    else this.#o.handler.drop("error", from, e as Error);
  }

  async #udpLoop(): Promise<void> {
    while (!this.#closed) {
      let data: Uint8Array;
      let remote: Deno.Addr;
      try {
        [data, remote] = await this.#udp.receive();
      } catch (e) {
        if (this.#closed) return;
        log.warn("Gossip UDP receive failed", { error: e as Error });
        continue;
      }
      const from = formatHostPort({ host: (remote as Deno.NetAddr).hostname, port: (remote as Deno.NetAddr).port });
      this.#track(this.#receivePacket(data, from));
    }
  }

  async #receivePacket(env: Uint8Array, from: string): Promise<void> {
    let msgs: Message[];
    try {
      msgs = decodePacket(await this.#o.keyring.open(env), MAX_PACKET_BYTES);
    } catch (e) {
      this.#drop(e, from);
      return;
    }
    if (!this.#closed) this.#o.handler.packet(msgs, from);
  }

  async #tcpLoop(): Promise<void> {
    while (!this.#closed) {
      let conn: Deno.Conn;
      try {
        conn = await this.#tcp.accept();
      } catch (e) {
        if (this.#closed) return;
        log.warn("Gossip TCP accept failed", { error: e as Error });
        continue;
      }
      if (this.#unauthenticated >= MAX_UNAUTHENTICATED_CONNS) {
        const r = conn.remoteAddr as Deno.NetAddr;
        this.#o.handler.drop("busy", formatHostPort({ host: r.hostname, port: r.port }));
        try {
          conn.close();
        } catch { /* closed */ }
        continue;
      }
      this.#track(this.#serveConn(conn));
    }
  }

  async #serveConn(conn: Deno.Conn): Promise<void> {
    this.#conns.add(conn);
    this.#unauthenticated++;
    let pending = true;
    const authenticated = () => {
      if (!pending) return;
      pending = false;
      this.#unauthenticated--;
    };
    const r = conn.remoteAddr as Deno.NetAddr;
    const from = formatHostPort({ host: r.hostname, port: r.port });
    const streamMs = this.#o.streamTimeoutMs ?? 5000;
    let timedOut = false;
    const close = () => {
      timedOut = true;
      try {
        conn.close();
      } catch { /* already closed */ }
    };
    // A short deadline until the first frame authenticates, then the stream timeout.
    let timer = setTimeout(close, Math.min(AUTH_TIMEOUT_MS, streamMs));
    try {
      const msgs = await readSealedPacket(conn, this.#o.keyring, () => {
        authenticated();
        clearTimeout(timer);
        timer = setTimeout(close, streamMs);
      });
      if (!msgs || this.#closed) return;
      const first = msgs[0];
      if (first.type === "pushPull") {
        const reply = this.#o.handler.pushPull(first, from);
        await writeSealedPacket(conn, this.#o.keyring, encodePacket([reply]));
      } else if (first.type === "configRequest") {
        const cfg = this.#o.handler.config?.();
        if (cfg) await writeSealedPacket(conn, this.#o.keyring, encodePacket([cfg]));
      } else if (first.type === "purge" || first.type === "bans") {
        if (!this.#o.handler.request) {
          this.#o.handler.drop("unhandled", from);
          return;
        }
        const reply = await this.#o.handler.request(msgs, from);
        if (reply?.length && !this.#closed) await writeSealedPacket(conn, this.#o.keyring, encodePacket(reply));
      } else if (first.type === "ping") {
        if (this.#o.handler.streamPing(first)) {
          await writeSealedPacket(conn, this.#o.keyring, encodePacket([{ type: "ack", seq: first.seq }]));
        } else this.#o.handler.drop("wrong-node", from);
      } else {
        this.#o.handler.packet(msgs, from);
      }
    } catch (e) {
      if (timedOut && !this.#closed) this.#o.handler.drop("timeout", from, e as Error);
      else if (!this.#closed) this.#drop(e, from);
    } finally {
      authenticated();
      clearTimeout(timer);
      this.#conns.delete(conn);
      try {
        conn.close();
      } catch { /* closed by the timeout */ }
    }
  }

  /** Sends messages as one sealed UDP datagram, or over TCP when too large. Errors are logged. */
  sendPacket(addr: string, msgs: Message[]): void {
    if (this.#closed) return;
    this.#track((async () => {
      try {
        const packet = encodePacket(msgs);
        if (packet.length > MAX_UDP_PACKET_BYTES) {
          await this.#exchange(addr, packet, false);
          return;
        }
        const env = await this.#o.keyring.seal(packet);
        const { host, port } = parseHostPort(addr);
        if (!this.#closed) await this.#udp.send(env, { transport: "udp", hostname: host, port });
      } catch (e) {
        if (!this.#closed) log.debug("Gossip send failed", { peer: addr, error: e as Error });
      }
    })());
  }

  /** Sends a frame over a new TCP connection and, when `wantReply`, reads and decodes the answer. */
  async #exchange(
    addr: string,
    packet: Uint8Array,
    wantReply: boolean,
    timeoutMs?: number,
  ): Promise<Message[] | undefined> {
    const { host, port } = parseHostPort(addr);
    const ms = timeoutMs ?? this.#o.streamTimeoutMs ?? 5000;
    const deadline = Date.now() + ms;
    const conn = await connectWithin(host, port, ms);
    this.#conns.add(conn);
    const timer = setTimeout(() => {
      try {
        conn.close();
      } catch { /* already closed */ }
    }, Math.max(1, deadline - Date.now()));
    try {
      await writeSealedPacket(conn, this.#o.keyring, packet);
      if (!wantReply) return undefined;
      let msgs: Message[] | undefined;
      try {
        msgs = await readSealedPacket(conn, this.#o.keyring);
      } catch (e) {
        this.#drop(e, addr);
        throw e;
      }
      if (!msgs) throw new Error("connection closed before the reply");
      return msgs;
    } finally {
      clearTimeout(timer);
      this.#conns.delete(conn);
      try {
        conn.close();
      } catch { /* closed by the timeout */ }
    }
  }

  /** Exchanges full state over TCP. */
  pushPull(addr: string, msg: PushPullMessage, cb: (reply: PushPullMessage | undefined) => void): void {
    if (this.#closed) return cb(undefined);
    this.#track((async () => {
      let reply: PushPullMessage | undefined;
      try {
        const msgs = await this.#exchange(addr, encodePacket([msg]), true);
        if (msgs?.[0]?.type === "pushPull") reply = msgs[0];
      } catch (e) {
        if (!this.#closed) log.debug("Push-pull failed", { peer: addr, error: e as Error });
      }
      if (!this.#closed) cb(reply);
    })());
  }

  /** Asks a peer for its config over TCP. */
  async fetchConfig(addr: string): Promise<ConfigMessage | undefined> {
    const msgs = await this.#exchange(addr, encodePacket([{ type: "configRequest" }]), true);
    return msgs?.[0]?.type === "config" ? msgs[0] : undefined;
  }

  /**
   * Sends a request (`purge`, `bans`) over TCP and returns the reply's messages.
   *
   * @param timeoutMs connect plus exchange deadline
   * @throws {Error} when the peer cannot be reached, closes without replying or times out
   */
  async request(addr: string, msgs: Message[], timeoutMs?: number): Promise<Message[]> {
    if (this.#closed) throw new Error("Cannot send request: transport closed");
    const reply = await this.#exchange(addr, encodePacket(msgs), true, timeoutMs);
    return reply ?? [];
  }

  /** TCP fallback ping. */
  streamPing(addr: string, msg: PingMessage, timeoutMs: number, cb: (ok: boolean) => void): void {
    if (this.#closed || timeoutMs <= 0) return;
    this.#track((async () => {
      let ok = false;
      try {
        const msgs = await this.#exchange(addr, encodePacket([msg]), true, timeoutMs);
        ok = msgs?.[0]?.type === "ack" && msgs[0].seq === msg.seq;
      } catch {
        ok = false;
      }
      if (!this.#closed) cb(ok);
    })());
  }

  /** Sends a raw sealed datagram (discovery uses this to reach a multicast group). */
  async sendRaw(env: Uint8Array, hostname: string, port: number): Promise<void> {
    await this.#udp.send(env, { transport: "udp", hostname, port });
  }

  /** Closes both sockets and every connection, and waits for in-flight work. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#udp.close();
    this.#tcp.close();
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* already closed */ }
    }
    while (this.#tasks.size) await Promise.allSettled([...this.#tasks]);
  }
}
