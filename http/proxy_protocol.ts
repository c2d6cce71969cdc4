/**
 * PROXY protocol v1 and v2 (HAProxy, "The PROXY protocol", 2020/03/05): the header a proxy-method
 * director puts before the client's bytes so the cache learns the real client address.
 *
 * Version 1 is one text line of at most 107 bytes:
 *
 * ```
 * "PROXY" SP ("TCP4" | "TCP6") SP src-ip SP dst-ip SP src-port SP dst-port CRLF
 * "PROXY UNKNOWN" [ anything ] CRLF
 * ```
 *
 * Version 2 is binary, network byte order:
 *
 * ```
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------------------------------------------------------+
 * | signature 0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A (12 bytes)       |
 * +-------+-------+---------------+-------------------------------+
 * |ver=2  |cmd    | fam   | proto |         length (bytes after)  |
 * +-------+-------+---------------+-------------------------------+
 * | TCP4 (fam 1, proto 1): src addr (4) dst addr (4) src port (2) dst port (2) |
 * | TCP6 (fam 2, proto 1): src addr (16) dst addr (16) src port (2) dst port (2) |
 * | then TLVs up to `length` (skipped)                              |
 * +---------------------------------------------------------------+
 * ```
 *
 * cmd 0 = LOCAL (health check from the proxy itself: use the real connection address), 1 = PROXY.
 * The director's proxy forwarder sends v2 with {@link encodeProxyV2}; the cache's server reads v1
 * and v2 with {@link decodeProxyHeader}. Both sides share this one codec.
 *
 * @module
 */
import { addrBytes, ipv4ToInt, isIPv4 } from "../core/addr.ts";

/** The 12-byte v2 signature. */
export const PROXY_V2_SIGNATURE: Uint8Array = new Uint8Array([
  0x0d,
  0x0a,
  0x0d,
  0x0a,
  0x00,
  0x0d,
  0x0a,
  0x51,
  0x55,
  0x49,
  0x54,
  0x0a,
]);
/** Longest v1 line including CRLF (spec section 2.1). */
export const MAX_PROXY_V1_BYTES = 107;
/** Largest v2 header accepted (16-byte fixed part plus length); TLVs beyond this are refused. */
export const MAX_PROXY_V2_BYTES: number = 16 + 2048;

/** A decoded PROXY header. */
export interface ProxyHeader {
  /** Protocol version the header used. */
  version: 1 | 2;
  /** `proxy`: addresses are the real client's; `local`: use the connection's own addresses. */
  command: "proxy" | "local";
  /** Original client address, when `command` is `proxy` and the family is known. */
  source?: { hostname: string; port: number };
  /** Original destination (the VIP), same condition. */
  destination?: { hostname: string; port: number };
}

/** A decoded header and how many input bytes it took. */
export interface ProxyDecodeResult {
  /** The decoded header. */
  header: ProxyHeader;
  /** Bytes the header took at the start of the input. */
  consumed: number;
}

function bad(msg: string): never {
  throw new SyntaxError(`Cannot decode PROXY header: ${msg}`);
}

function ipv6Text(b: Uint8Array): string {
  const parts: string[] = [];
  for (let i = 0; i < 16; i += 2) parts.push(((b[i] << 8) | b[i + 1]).toString(16));
  return parts.join(":").replace(/(^|:)0(:0)+(:|$)/, "::").replace(/:{3,}/, "::");
}

/**
 * Decodes a PROXY v1 or v2 header at the start of `buf`.
 *
 * @param buf bytes received so far
 * @returns the header and its length, or `undefined` if more bytes are needed
 * @throws {SyntaxError} when the bytes are not a valid PROXY header
 */
export function decodeProxyHeader(buf: Uint8Array): ProxyDecodeResult | undefined {
  if (buf.length === 0) return undefined;
  if (buf[0] === 0x0d) {
    const n = Math.min(buf.length, 12);
    for (let i = 0; i < n; i++) if (buf[i] !== PROXY_V2_SIGNATURE[i]) bad("bad v2 signature");
    if (buf.length < 16) return undefined;
    const verCmd = buf[12];
    if (verCmd >> 4 !== 2) bad(`version ${verCmd >> 4} is not 2`);
    const cmd = verCmd & 0x0f;
    if (cmd > 1) bad(`unknown command ${cmd}`);
    const fam = buf[13];
    const len = (buf[14] << 8) | buf[15];
    if (16 + len > MAX_PROXY_V2_BYTES) bad(`length ${len} exceeds ${MAX_PROXY_V2_BYTES - 16}`);
    if (buf.length < 16 + len) return undefined;
    const body = buf.subarray(16, 16 + len);
    const header: ProxyHeader = { version: 2, command: cmd === 1 ? "proxy" : "local" };
    if (cmd === 1) {
      const dv = new DataView(body.buffer, body.byteOffset, body.byteLength);
      if (fam === 0x11 || fam === 0x12) {
        if (len < 12) bad(`length ${len} is less than the 12 bytes of IPv4 addresses`);
        header.source = { hostname: Array.from(body.subarray(0, 4)).join("."), port: dv.getUint16(8) };
        header.destination = { hostname: Array.from(body.subarray(4, 8)).join("."), port: dv.getUint16(10) };
      } else if (fam === 0x21 || fam === 0x22) {
        if (len < 36) bad(`length ${len} is less than the 36 bytes of IPv6 addresses`);
        header.source = { hostname: ipv6Text(body.subarray(0, 16)), port: dv.getUint16(32) };
        header.destination = { hostname: ipv6Text(body.subarray(16, 32)), port: dv.getUint16(34) };
      } else if (fam !== 0x00 && fam !== 0x31 && fam !== 0x32) {
        bad(`unknown address family byte 0x${fam.toString(16)}`);
      }
    }
    return { header, consumed: 16 + len };
  }
  const prefix = "PROXY ";
  const n = Math.min(buf.length, prefix.length);
  for (let i = 0; i < n; i++) if (buf[i] !== prefix.charCodeAt(i)) bad("neither v1 nor v2 signature");
  let end = -1;
  for (let i = 1; i < Math.min(buf.length, MAX_PROXY_V1_BYTES); i++) {
    if (buf[i] === 10 && buf[i - 1] === 13) {
      end = i + 1;
      break;
    }
  }
  if (end === -1) {
    if (buf.length >= MAX_PROXY_V1_BYTES) bad(`v1 line longer than ${MAX_PROXY_V1_BYTES} bytes`);
    return undefined;
  }
  const line = String.fromCharCode(...buf.subarray(0, end - 2));
  const parts = line.split(" ");
  if (parts[1] === "UNKNOWN") return { header: { version: 1, command: "local" }, consumed: end };
  if (parts.length !== 6 || (parts[1] !== "TCP4" && parts[1] !== "TCP6")) bad(`bad v1 line ${JSON.stringify(line)}`);
  const v4 = /^\d{1,3}(\.\d{1,3}){3}$/;
  const okAddr = (a: string) => parts[1] === "TCP4" ? v4.test(a) : /^[0-9a-fA-F:.]+$/.test(a) && a.includes(":");
  const okPort = (p: string) => /^\d{1,5}$/.test(p) && Number(p) <= 65535;
  if (!okAddr(parts[2]) || !okAddr(parts[3]) || !okPort(parts[4]) || !okPort(parts[5])) {
    bad(`bad v1 addresses ${JSON.stringify(line)}`);
  }
  return {
    header: {
      version: 1,
      command: "proxy",
      source: { hostname: parts[2], port: Number(parts[4]) },
      destination: { hostname: parts[3], port: Number(parts[5]) },
    },
    consumed: end,
  };
}

/** Endpoints of a proxied TCP connection. */
export interface ProxiedAddrs {
  /** Client address. */
  srcAddr: string;
  /** Client port. */
  srcPort: number;
  /** Address the client connected to (the VIP). */
  dstAddr: string;
  /** Port the client connected to. */
  dstPort: number;
}

/** 16 bytes: an IPv6 address as is, an IPv4 address IPv4-mapped (::ffff:a.b.c.d). */
function asV6(s: string): Uint8Array | undefined {
  const b = addrBytes(s);
  if (b?.length !== 4) return b;
  const m = new Uint8Array(16);
  m[10] = 0xff;
  m[11] = 0xff;
  m.set(b, 12);
  return m;
}

/**
 * Encodes a PROXY v2 header for a TCP connection. Mixed families are sent as IPv6 (IPv4-mapped).
 *
 * @throws {TypeError} when an address is not an IP literal
 * @throws {RangeError} when a port is not 0-65535
 */
export function encodeProxyV2(a: ProxiedAddrs): Uint8Array {
  for (const p of [a.srcPort, a.dstPort]) {
    if (!Number.isInteger(p) || p < 0 || p > 65535) {
      throw new RangeError(`Cannot encode PROXY v2 header: port ${p} is not in 0-65535`);
    }
  }
  const both4 = isIPv4(a.srcAddr) && isIPv4(a.dstAddr);
  const out = new Uint8Array(16 + (both4 ? 12 : 36));
  out.set(PROXY_V2_SIGNATURE, 0);
  out[12] = 0x21;
  out[13] = both4 ? 0x11 : 0x21;
  const dv = new DataView(out.buffer);
  dv.setUint16(14, both4 ? 12 : 36);
  if (both4) {
    dv.setUint32(16, ipv4ToInt(a.srcAddr));
    dv.setUint32(20, ipv4ToInt(a.dstAddr));
    dv.setUint16(24, a.srcPort);
    dv.setUint16(26, a.dstPort);
  } else {
    const conv = (s: string) => {
      const b = asV6(s);
      if (!b) throw new TypeError(`Cannot encode PROXY v2 header: "${s}" is not an IP address`);
      return b;
    };
    out.set(conv(a.srcAddr), 16);
    out.set(conv(a.dstAddr), 32);
    dv.setUint16(48, a.srcPort);
    dv.setUint16(50, a.dstPort);
  }
  return out;
}
