/**
 * `--peers auto`: finding the cluster on the local network by UDP multicast.
 *
 * Every node started with `peers: auto` joins the group `cluster.discovery.group` on port
 * `cluster.discovery.port` (default **239.255.77.46:7947**, an organisation-local address of
 * RFC 2365; TTL `cluster.discovery.ttl`, default 1, keeps announcements on the link) and sends an
 * `announce` message (codec.ts) with its node id and gossip address every
 * `cluster.discovery.intervalMs` while it knows no other member, and every ten intervals after.
 * Announcements are sealed with the cluster key ring like all gossip, so a stranger can neither
 * read them nor make nodes join it; a node that hears an announcement from a member it does not
 * know as alive joins it by push-pull.
 *
 * @module
 */
import { getLogger } from "../core/log.ts";
import { ClusterDecodeError, decodePacket, encodePacket } from "./codec.ts";
import { EnvelopeError, type Keyring } from "./keyring.ts";

const log = getLogger("cluster.discovery");

/** Options of {@link Discovery.start}. */
export interface DiscoveryOptions {
  group: string;
  port: number;
  /** IPv4 address of the interface to join on; default any. */
  iface?: string;
  ttl: number;
  intervalMs: number;
  keyring: Keyring;
  /** This node's id and gossip address. */
  id: string;
  addr: string;
  /** Whether this node already knows other live members (announce less often then). */
  connected: () => boolean;
  /** Whether a member id is known as alive (no need to join). */
  knows: (id: string) => boolean;
  /** A new member was announced. */
  onFound: (addr: string, id: string) => void;
  /** An announcement was dropped. */
  onDrop: (reason: string, from: string) => void;
}

/** A running multicast announcer and listener. */
export class Discovery {
  readonly #o: DiscoveryOptions;
  readonly #conn: Deno.DatagramConn;
  #membership?: Deno.MulticastV4Membership;
  #timer?: ReturnType<typeof setTimeout>;
  #ticks = 0;
  #closed = false;
  #loop?: Promise<void>;
  readonly #sends = new Set<Promise<void>>();

  private constructor(o: DiscoveryOptions, conn: Deno.DatagramConn) {
    this.#o = o;
    this.#conn = conn;
  }

  /**
   * Joins the group and starts announcing.
   *
   * @throws when the socket cannot be bound or the group joined (no multicast route)
   */
  static async start(o: DiscoveryOptions): Promise<Discovery> {
    const conn = Deno.listenDatagram({
      transport: "udp",
      hostname: "0.0.0.0",
      port: o.port,
      reuseAddress: true,
      loopback: true,
    });
    const d = new Discovery(o, conn);
    try {
      d.#membership = await conn.joinMulticastV4(o.group, o.iface ?? "0.0.0.0");
      await d.#membership.setLoopback(true);
      await d.#membership.setTTL(o.ttl);
    } catch (e) {
      conn.close();
      throw new Error(`Cannot join discovery group ${o.group}:${o.port}: ${(e as Error).message}`, { cause: e });
    }
    d.#loop = d.#receive();
    d.#tick();
    log.info("Looking for the cluster by multicast", { group: `${o.group}:${o.port}` });
    return d;
  }

  #tick(): void {
    if (this.#closed) return;
    if (!this.#o.connected() || this.#ticks % 10 === 0) {
      const p = this.#announce();
      this.#sends.add(p);
      p.finally(() => this.#sends.delete(p));
    }
    this.#ticks++;
    this.#timer = setTimeout(() => this.#tick(), this.#o.intervalMs);
  }

  async #announce(): Promise<void> {
    try {
      const env = await this.#o.keyring.seal(
        encodePacket([{ type: "announce", node: this.#o.id, addr: this.#o.addr }]),
      );
      if (!this.#closed) await this.#conn.send(env, { transport: "udp", hostname: this.#o.group, port: this.#o.port });
    } catch (e) {
      if (!this.#closed) log.debug("Discovery announcement failed", { error: e as Error });
    }
  }

  async #receive(): Promise<void> {
    while (!this.#closed) {
      let data: Uint8Array;
      let from: string;
      try {
        const [d, a] = await this.#conn.receive();
        data = d;
        from = `${(a as Deno.NetAddr).hostname}:${(a as Deno.NetAddr).port}`;
      } catch (e) {
        if (this.#closed) return;
        log.warn("Discovery receive failed", { error: e as Error });
        continue;
      }
      try {
        const msgs = decodePacket(await this.#o.keyring.open(data));
        for (const m of msgs) {
          if (m.type !== "announce" || m.node === this.#o.id || this.#o.knows(m.node)) continue;
          log.info("Found a cluster member by multicast", { peer: m.addr, node: m.node });
          this.#o.onFound(m.addr, m.node);
        }
      } catch (e) {
        if (e instanceof EnvelopeError || e instanceof ClusterDecodeError) this.#o.onDrop(e.reason, from);
        else this.#o.onDrop("error", from);
      }
    }
  }

  /** Leaves the group and closes the socket. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#timer);
    await Promise.allSettled([...this.#sends]);
    try {
      await this.#membership?.leave();
    } catch { /* socket going away anyway */ }
    this.#conn.close();
    await this.#loop;
  }
}
