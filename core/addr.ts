/**
 * Addresses: `HOST:PORT` endpoints, IPv4/IPv6 literals and CIDR networks.
 *
 * Pure functions, no I/O. Used by config validation, ACLs (forward proxy, PURGE, ICP, admin) and
 * the director's persistence netmask.
 *
 * @module
 */

/** A parsed `HOST:PORT`. `host` has no brackets for IPv6. */
export interface HostPort {
  host: string;
  port: number;
}

const IPV4_RE = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;
const HOSTNAME_RE =
  /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?$/;

/** Whether `s` is a dotted-quad IPv4 address. */
export function isIPv4(s: string): boolean {
  return IPV4_RE.test(s);
}

/** Whether `s` is an IPv6 address literal (without brackets). */
export function isIPv6(s: string): boolean {
  return parseIPv6(s) !== undefined;
}

/** Whether `s` is a syntactically valid host name or IP literal. */
export function isHost(s: string): boolean {
  return isIPv4(s) || isIPv6(s) || HOSTNAME_RE.test(s);
}

/**
 * Parses `HOST:PORT`, `[V6]:PORT`, or `:PORT` / `PORT` (host `defaultHost`).
 *
 * @param s the text to parse
 * @param defaultHost host used when only a port is given
 * @returns the host and port
 * @throws {RangeError} when the port is not 1-65535
 * @throws {SyntaxError} when the text is not an endpoint
 * @example
 * ```ts
 * parseHostPort("127.0.0.1:9090"); // { host: "127.0.0.1", port: 9090 }
 * ```
 */
export function parseHostPort(s: string, defaultHost = "0.0.0.0"): HostPort {
  let host: string;
  let portText: string;
  const v6 = /^\[([^\]]+)\]:(\d+)$/.exec(s);
  if (v6) {
    host = v6[1];
    portText = v6[2];
  } else if (/^:?\d+$/.test(s)) {
    host = defaultHost;
    portText = s.replace(":", "");
  } else {
    const i = s.lastIndexOf(":");
    if (i <= 0 || s.indexOf(":") !== i) throw new SyntaxError(`"${s}" is not HOST:PORT`);
    host = s.slice(0, i);
    portText = s.slice(i + 1);
  }
  if (!/^\d+$/.test(portText)) throw new SyntaxError(`"${s}" is not HOST:PORT: port "${portText}" is not a number`);
  const port = Number(portText);
  if (port < 1 || port > 65535) throw new RangeError(`"${s}" is not HOST:PORT: port ${port} is not in 1-65535`);
  if (!isHost(host)) throw new SyntaxError(`"${s}" is not HOST:PORT: "${host}" is not a host name or IP address`);
  return { host, port };
}

/** Formats a host and port, bracketing IPv6. */
export function formatHostPort(hp: HostPort): string {
  return hp.host.includes(":") ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}

/** Converts a dotted-quad IPv4 address to an unsigned 32-bit number. */
export function ipv4ToInt(s: string): number {
  const p = s.split(".");
  return ((+p[0] << 24) | (+p[1] << 16) | (+p[2] << 8) | +p[3]) >>> 0;
}

/** Converts an unsigned 32-bit number to dotted-quad IPv4. */
export function intToIpv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/** Parses an IPv6 literal into 8 16-bit groups, or `undefined` if it is not one. */
export function parseIPv6(s: string): number[] | undefined {
  if (!s.includes(":")) return undefined;
  let text = s;
  const zone = text.indexOf("%");
  if (zone >= 0) text = text.slice(0, zone);
  // Embedded IPv4 tail (::ffff:1.2.3.4).
  const tail = /:(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (tail) {
    if (!isIPv4(tail[1])) return undefined;
    const n = ipv4ToInt(tail[1]);
    text = text.slice(0, tail.index + 1) + ((n >>> 16).toString(16)) + ":" + ((n & 0xffff).toString(16));
  }
  const halves = text.split("::");
  if (halves.length > 2) return undefined;
  const parse = (h: string) => (h === "" ? [] : h.split(":"));
  const head = parse(halves[0]);
  const rest = halves.length === 2 ? parse(halves[1]) : [];
  const groups = [...head, ...(halves.length === 2 ? Array(8 - head.length - rest.length).fill("0") : []), ...rest];
  if (groups.length !== 8) return undefined;
  const out: number[] = [];
  for (const g of groups) {
    if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
    out.push(parseInt(g, 16));
  }
  return out;
}

/** A parsed CIDR network, IPv4 or IPv6. */
export interface Cidr {
  family: 4 | 6;
  /** Network address as 4 or 16 bytes. */
  bytes: Uint8Array;
  prefix: number;
  text: string;
}

/** An IP literal as its 4 (IPv4) or 16 (IPv6) network-order bytes; undefined when it is neither. */
export function addrBytes(s: string): Uint8Array | undefined {
  if (isIPv4(s)) {
    const n = ipv4ToInt(s);
    return new Uint8Array([n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255]);
  }
  const g = parseIPv6(s);
  if (!g) return undefined;
  const b = new Uint8Array(16);
  g.forEach((v, i) => {
    b[i * 2] = v >> 8;
    b[i * 2 + 1] = v & 255;
  });
  return b;
}

/**
 * Parses `ADDR/PREFIX` (or a bare address, meaning /32 or /128).
 *
 * @throws {SyntaxError} when the text is not a network
 * @throws {RangeError} when the prefix is too long for the family
 */
export function parseCidr(s: string): Cidr {
  const [addr, pfx, extra] = s.split("/");
  if (extra !== undefined) throw new SyntaxError(`"${s}" is not a CIDR network`);
  const bytes = addrBytes(addr);
  if (!bytes) throw new SyntaxError(`"${s}" is not a CIDR network: "${addr}" is not an IP address`);
  const max = bytes.length * 8;
  if (pfx !== undefined && !/^\d+$/.test(pfx)) throw new SyntaxError(`"${s}": prefix "${pfx}" is not a number`);
  const prefix = pfx === undefined ? max : Number(pfx);
  if (prefix > max) throw new RangeError(`"${s}": prefix /${prefix} is longer than ${max}`);
  return { family: bytes.length === 4 ? 4 : 6, bytes, prefix, text: s };
}

/** Whether address `ip` lies in network `net`. IPv4-mapped IPv6 addresses match IPv4 networks. */
export function cidrContains(net: Cidr, ip: string): boolean {
  let b = addrBytes(ip);
  if (!b) return false;
  if (b.length === 16 && net.family === 4) {
    const mapped = b.slice(0, 10).every((x) => x === 0) && b[10] === 255 && b[11] === 255;
    if (!mapped) return false;
    b = b.slice(12);
  }
  if (b.length !== net.bytes.length) return false;
  let bits = net.prefix;
  for (let i = 0; i < b.length && bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((b[i] & mask) !== (net.bytes[i] & mask)) return false;
  }
  return true;
}

/** An access list of networks. Empty means nobody. */
export class Acl {
  readonly #nets: Cidr[];
  constructor(networks: readonly string[]) {
    this.#nets = networks.map(parseCidr);
  }
  /** Whether `ip` is in any listed network. */
  allows(ip: string): boolean {
    return this.#nets.some((n) => cidrContains(n, ip));
  }
  /** The networks as given. */
  get networks(): string[] {
    return this.#nets.map((n) => n.text);
  }
}

/** Loopback networks, the default for management endpoints and the forward proxy. */
export const LOOPBACK_NETS: readonly string[] = ["127.0.0.0/8", "::1/128"];
