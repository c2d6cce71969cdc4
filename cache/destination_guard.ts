/**
 * Which destinations forward and transparent requests (and CONNECT tunnels) may reach: the proxy
 * must not be a way into the appliance or the networks only it can see (Squid's
 * `http_access deny to_localhost`).
 *
 * | refused by default | addresses |
 * |---|---|
 * | loopback | 127.0.0.0/8, ::1, the names `localhost` and `*.localhost` (RFC 6761) |
 * | link-local | 169.254.0.0/16 (cloud metadata services among them), fe80::/10 |
 * | unspecified | 0.0.0.0/8, ::/96 (`::`, connecting to which reaches this host, and IPv4-compatible `::a.b.c.d`) |
 * | own | every address of this node's interfaces (and `cache.vip`) |
 * | service | this node's admin, gossip and ICP ports on its own, loopback or unspecified addresses — refused even when `cache.acl.allowDestinations` lists the address |
 *
 * IPv4-mapped IPv6 addresses (`::ffff:127.0.0.1`) count as their IPv4 address. Every IPv4
 * spelling (`2130706433`, `0x7f.1`) is already a dotted quad here (`normalize_url.ts`).
 * `cache.acl.allowDestinations` opens listed networks. Names are checked three times: before the
 * lookup ({@link DestinationGuard.checkHost}: literals and `localhost`), after it
 * ({@link DestinationGuard.resolve}: every address the system resolver returns, `/etc/hosts`
 * included, must pass, and the connection goes to the checked address, not the name), and on the
 * connection itself ({@link DestinationGuard.checkConnected}: its peer address). A DNS answer that
 * changes between a check and the connect (rebinding) therefore cannot get past it, and no
 * connection is opened to a refused address.
 *
 * @module
 */
import { lookup as systemLookup } from "node:dns/promises";
import { Acl, addrBytes, type Cidr, cidrContains, parseCidr } from "../core/addr.ts";

/** A destination refused by {@link DestinationGuard}. */
export class DestinationDeniedError extends Error {
  /** Why: `loopback`, `link-local`, `unspecified`, `own address` or `service port`. */
  readonly reason: string;

  /**
   * @param destination `host:port` as requested or connected
   * @param reason why it is refused
   */
  constructor(destination: string, reason: string) {
    super(`Destination ${destination} is not allowed: ${reason}`);
    this.name = "DestinationDeniedError";
    this.reason = reason;
  }
}

const INTERNAL: readonly [string, Cidr][] = [
  ["loopback", parseCidr("127.0.0.0/8")],
  ["loopback", parseCidr("::1/128")],
  ["link-local", parseCidr("169.254.0.0/16")],
  ["link-local", parseCidr("fe80::/10")],
  ["unspecified", parseCidr("0.0.0.0/8")],
  ["unspecified", parseCidr("::/96")], // `::` and the deprecated IPv4-compatible `::a.b.c.d`
];

/** Options of {@link DestinationGuard}. */
export interface DestinationGuardOptions {
  /** `cache.acl.allowDestinations`: networks opened although internal. */
  allow?: readonly string[];
  /** This node's service ports (admin, gossip, ICP), refused on its own addresses. */
  servicePorts?: readonly number[];
  /** Extra own addresses (e.g. `cache.vip`) besides the interfaces'. */
  ownAddresses?: readonly string[];
  /** The interfaces' addresses; default `Deno.networkInterfaces()` (re-read every few seconds). */
  interfaces?: () => string[];
  /** Name to addresses; default the system resolver (getaddrinfo, so `/etc/hosts` counts). */
  lookup?: (name: string) => Promise<string[]>;
}

/** How long the interfaces' address list is reused before it is read again. */
const OWN_TTL_MS = 5000;

/**
 * How long a name's addresses are reused (a pooled origin connection then costs no lookup per
 * request). The addresses are checked on every use, and connections go to a checked address, so
 * reuse cannot let a refused address through; it only delays seeing a changed DNS answer.
 */
export const LOOKUP_TTL_MS = 5000;

/** Names whose addresses are kept at most (the table is cleared when full). */
const LOOKUP_ENTRIES = 4096;

/** The destination check; see the module doc. */
export class DestinationGuard {
  readonly #allow: Acl;
  readonly #ports: ReadonlySet<number>;
  readonly #extra: readonly string[];
  readonly #interfaces: () => string[];
  readonly #lookup: (name: string) => Promise<string[]>;
  readonly #names = new Map<string, { addrs: string[]; at: number }>();
  #own: Cidr[] = [];
  #ownAt = -Infinity;

  /**
   * @param opts allow-list, service ports and own addresses
   */
  constructor(opts: DestinationGuardOptions = {}) {
    this.#allow = new Acl(opts.allow ?? []);
    this.#ports = new Set(opts.servicePorts ?? []);
    this.#extra = opts.ownAddresses ?? [];
    this.#interfaces = opts.interfaces ?? (() => Deno.networkInterfaces().map((i) => i.address));
    this.#lookup = opts.lookup ?? (async (name) => (await systemLookup(name, { all: true })).map((a) => a.address));
  }

  #ownNets(): Cidr[] {
    const now = Date.now();
    if (now - this.#ownAt > OWN_TTL_MS) {
      this.#own = [];
      for (const a of [...this.#interfaces(), ...this.#extra]) {
        const bare = a.replace(/%.*$/, "");
        if (addrBytes(bare)) this.#own.push(parseCidr(bare));
      }
      this.#ownAt = now;
    }
    return this.#own;
  }

  /**
   * Why an IP address and port may not be reached, or null when they may.
   *
   * @param ip an IPv4 or IPv6 address (not a name)
   * @param port the TCP port
   * @returns the reason, or null
   */
  checkAddress(ip: string, port: number): string | null {
    const bare = ip.replace(/^\[|\]$/g, "").replace(/%.*$/, "");
    if (!addrBytes(bare)) return "not an address";
    let internal: string | null = null;
    for (const [why, net] of INTERNAL) {
      if (cidrContains(net, bare)) {
        internal = why;
        break;
      }
    }
    const own = this.#ownNets().some((n) => cidrContains(n, bare));
    if ((own || internal) && this.#ports.has(port)) return "service port";
    if (this.#allow.allows(bare)) return null;
    return internal ?? (own ? "own address" : null);
  }

  /**
   * The check before connecting: IP literals by {@link checkAddress}, `localhost` names refused,
   * other names let through to {@link checkConnected}.
   *
   * @param hostname a normalised host name or address (IPv6 without brackets)
   * @param port the TCP port
   * @returns the reason it is refused, or null
   */
  checkHost(hostname: string, port: number): string | null {
    if (addrBytes(hostname)) return this.checkAddress(hostname, port);
    const name = hostname.toLowerCase().replace(/\.+$/, "");
    if (name === "localhost" || name.endsWith(".localhost")) {
      return this.#allow.allows("127.0.0.1") && !this.#ports.has(port) ? null : "loopback";
    }
    return null;
  }

  /**
   * Resolves a destination and checks every address it has: the address to connect to.
   *
   * @param hostname a normalised host name or address (IPv6 without brackets)
   * @param port the TCP port
   * @returns an address that passed (the first one the resolver gave)
   * @throws {DestinationDeniedError} when the name or any of its addresses may not be reached
   * @throws {Error} when the name does not resolve
   */
  async resolve(hostname: string, port: number): Promise<string> {
    const where = `${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}`;
    const before = this.checkHost(hostname, port);
    if (before) throw new DestinationDeniedError(where, before);
    if (addrBytes(hostname)) return hostname;
    const addrs = await this.#addresses(hostname);
    for (const a of addrs) {
      const why = this.checkAddress(a, port);
      if (why) throw new DestinationDeniedError(`${where} (${a})`, why);
    }
    return addrs[0];
  }

  async #addresses(name: string): Promise<string[]> {
    const now = Date.now();
    const known = this.#names.get(name);
    if (known && now - known.at < LOOKUP_TTL_MS) return known.addrs;
    const addrs = await this.#lookup(name);
    if (addrs.length === 0) throw new Error(`Cannot resolve "${name}": no address`);
    if (this.#names.size >= LOOKUP_ENTRIES) this.#names.clear();
    this.#names.set(name, { addrs, at: now });
    return addrs;
  }

  /**
   * The check of an open connection's peer: the address actually connected to.
   *
   * @param remote the connection's remote address
   * @throws {DestinationDeniedError} when it may not be reached
   */
  checkConnected(remote: Deno.Addr): void {
    if (remote.transport !== "tcp") return;
    const why = this.checkAddress(remote.hostname, remote.port);
    if (why) throw new DestinationDeniedError(`${remote.hostname}:${remote.port}`, why);
  }
}
