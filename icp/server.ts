/**
 * The ICP endpoint of a cache: one UDP socket (Squid's `icp_port`, default 3130) that answers
 * peers' queries and carries our own queries and their replies, like Squid's ICP socket.
 *
 * Answers to a QUERY, in this order:
 * 1. `DENIED` when the sender's address is not allowed (`icp.acl`; default: known peers only);
 * 2. `ERR` when the URL is not an absolute URL (as Squid);
 * 3. `HIT` when `isFresh(url)` says the object is fresh in this cache (memory or disk);
 * 4. `MISS_NOFETCH` when `missNoFetch(url)` says this node is short of resources — it would not
 *    fetch the object for a parent's child now (the origin is failing, too many origin fetches in
 *    flight, the disk index is still loading); siblings treat it as MISS, parents are not chosen;
 * 5. `MISS` otherwise.
 * Replies echo the query's request number and URL, with Options and Option Data 0.
 *
 * Replies (HIT, MISS, MISS_NOFETCH, ERR, DENIED, DECHO, SECHO) go to the `onReply` handler (the
 * {@link IcpClient}); SECHO and DECHO are never answered (Squid treats them as replies: echoes from an
 * origin's or a non-ICP cache's UDP echo port).
 *
 * Malformed datagrams are dropped without an answer and counted in
 * `webcache_icp_messages_dropped_total{reason}`; nothing a peer sends can make the loop throw.
 *
 * Multicast: with `multicast.group` set, the socket joins the group on `multicast.interface`
 * (default any) and sets the multicast TTL; queries sent to the group arrive here like unicast ones
 * and replies go back by unicast. The socket must be bound to `0.0.0.0` to receive group traffic.
 * Outgoing group datagrams follow the routing table (Deno cannot set `IP_MULTICAST_IF`), so a
 * route for 224.0.0.0/4 must point at the chosen interface.
 *
 * @module
 */
import { formatHostPort } from "../core/addr.ts";
import { listenError } from "../core/listen_error.ts";
import { getLogger } from "../core/log.ts";
import { decodeIcpMessage, encodeIcpMessage, IcpDecodeError, type IcpReply } from "./message.ts";
import { icpMessagesDropped, icpMessagesReceived, icpMessagesSent } from "./metrics.ts";
import { IcpOpcode, opcodeName } from "./opcode.ts";

const log = getLogger("icp");

/** Where a datagram came from or goes to. */
export interface UdpAddr {
  hostname: string;
  port: number;
}

/** Options of {@link IcpServer.listen}. */
export interface IcpServerOptions {
  /** Address to bind (`icp.listen`); default `0.0.0.0`. */
  hostname?: string;
  /** UDP port (`icp.port`); 0 picks a free one. */
  port: number;
  /** Whether `url` is fresh in this cache (memory or disk). Errors are logged and answered MISS. */
  isFresh: (url: string) => boolean | Promise<boolean>;
  /** Whether this node is short of resources for `url` (answer MISS_NOFETCH instead of MISS). */
  missNoFetch?: (url: string) => boolean;
  /** Whether a sender address may query (`icp.acl`, or known peers). */
  allows: (ip: string) => boolean;
  /** Multicast group to join. */
  multicast?: { group: string; interface?: string; ttl?: number };
  /** Receives replies to our queries. */
  onReply?: (msg: IcpReply, from: UdpAddr) => void;
}

/** A running ICP socket. Create with {@link IcpServer.listen}; stop with {@link IcpServer.close}. */
export class IcpServer {
  readonly #conn: Deno.DatagramConn;
  readonly #opts: IcpServerOptions;
  readonly #inflight = new Set<Promise<void>>();
  #membership: Deno.MulticastV4Membership | undefined;
  #loop: Promise<void> = Promise.resolve();
  #closed = false;
  /** Receives replies to our queries (set by the client). */
  onReply: ((msg: IcpReply, from: UdpAddr) => void) | undefined;

  private constructor(conn: Deno.DatagramConn, opts: IcpServerOptions) {
    this.#conn = conn;
    this.#opts = opts;
    this.onReply = opts.onReply;
  }

  /**
   * Binds the socket, joins the multicast group if configured, and starts answering.
   *
   * @param opts see {@link IcpServerOptions}
   * @returns the running server
   * @throws {Deno.errors.AddrInUse} when the port is taken
   */
  static async listen(opts: IcpServerOptions): Promise<IcpServer> {
    const hostname = opts.hostname ?? "0.0.0.0";
    let conn: Deno.DatagramConn;
    try {
      conn = Deno.listenDatagram({ transport: "udp", hostname, port: opts.port });
    } catch (e) {
      throw listenError(e, `udp ${formatHostPort({ host: hostname, port: opts.port })}`, "icp.listen, icp.port");
    }
    const server = new IcpServer(conn, opts);
    try {
      if (opts.multicast) {
        server.#membership = await conn.joinMulticastV4(opts.multicast.group, opts.multicast.interface ?? "0.0.0.0");
        await server.#membership.setTTL(opts.multicast.ttl ?? 1);
      }
    } catch (e) {
      conn.close();
      throw e;
    }
    server.#loop = server.#run();
    log.debug("Listening", { addr: `${server.addr.hostname}:${server.addr.port}`, group: opts.multicast?.group });
    return server;
  }

  /** The bound address. */
  get addr(): UdpAddr {
    const a = this.#conn.addr as Deno.NetAddr;
    return { hostname: a.hostname, port: a.port };
  }

  /**
   * Sends one message.
   *
   * @param bytes an encoded message
   * @param to destination
   * @param opcode for the sent counter
   * @returns false when the send failed (counted as `send_failed`, logged at debug)
   */
  async send(bytes: Uint8Array, to: UdpAddr, opcode: number): Promise<boolean> {
    if (this.#closed) return false;
    try {
      await this.#conn.send(bytes, { transport: "udp", hostname: to.hostname, port: to.port });
      icpMessagesSent.inc({ opcode: opcodeName(opcode) });
      return true;
    } catch (e) {
      icpMessagesDropped.inc({ reason: "send_failed" });
      log.debug("Send failed", { to: `${to.hostname}:${to.port}`, error: e });
      return false;
    }
  }

  async #run(): Promise<void> {
    while (!this.#closed) {
      let data: Uint8Array;
      let from: Deno.NetAddr;
      try {
        const [d, a] = await this.#conn.receive();
        data = d;
        from = a as Deno.NetAddr;
      } catch (e) {
        if (this.#closed) return;
        // ICMP port unreachable from an earlier send surfaces here on Linux; keep serving.
        log.debug("Receive failed", { error: e });
        continue;
      }
      this.#handle(data, { hostname: from.hostname, port: from.port });
    }
  }

  #handle(data: Uint8Array, from: UdpAddr): void {
    let msg;
    try {
      msg = decodeIcpMessage(data);
    } catch (e) {
      const reason = e instanceof IcpDecodeError ? e.reason : "other";
      icpMessagesDropped.inc({ reason });
      if (log.enabled("debug")) {
        log.debug("Dropped message", { from: `${from.hostname}:${from.port}`, reason, error: e });
      }
      return;
    }
    if (from.port === this.addr.port && from.hostname === this.#opts.multicast?.interface) {
      icpMessagesDropped.inc({ reason: "own" });
      return;
    }
    icpMessagesReceived.inc({ opcode: opcodeName(msg.opcode) });
    if (msg.opcode !== IcpOpcode.QUERY) {
      if (this.onReply) this.onReply(msg, from);
      else icpMessagesDropped.inc({ reason: "unexpected_reply" });
      return;
    }
    const p = this.#answer(msg.requestNumber, msg.url, from).finally(() => this.#inflight.delete(p));
    this.#inflight.add(p);
  }

  async #answer(requestNumber: number, url: string, from: UdpAddr): Promise<void> {
    let opcode: IcpReply["opcode"];
    if (!this.#opts.allows(from.hostname)) {
      opcode = IcpOpcode.DENIED;
      log.debug("Denied query", { from: from.hostname, url });
    } else if (!URL.canParse(url)) {
      opcode = IcpOpcode.ERR;
    } else {
      let fresh = false;
      try {
        fresh = await this.#opts.isFresh(url);
      } catch (e) {
        log.warn("Freshness lookup failed", { url, error: e });
      }
      opcode = fresh ? IcpOpcode.HIT : this.#opts.missNoFetch?.(url) ? IcpOpcode.MISS_NOFETCH : IcpOpcode.MISS;
    }
    if (this.#closed) return;
    await this.send(encodeIcpMessage({ opcode, requestNumber, url }), from, opcode);
  }

  /** Leaves the group, closes the socket and waits for answers in flight. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#membership?.leave();
    } catch {
      // the socket is going away anyway
    }
    this.#conn.close();
    await this.#loop;
    await Promise.all([...this.#inflight]);
  }
}
