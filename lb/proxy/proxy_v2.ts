/**
 * PROXY protocol version 2 header encoder (HAProxy's proxy-protocol.txt, section 2.2), sent by the
 * proxy forwarder to a real server so the cache logs the real client address. Pure: no I/O.
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +---------------------------------------------------------------+
 * |   signature: 0D 0A 0D 0A 00 0D 0A 51 55 49 54 0A (12 bytes)   |
 * +---------------+---------------+-------------------------------+
 * | ver 2|cmd 1   | fam|proto     | length of the address block   |
 * | 0x21 (PROXY)  | 0x11 TCP/IPv4 | big-endian, 12 (v4) / 36 (v6) |
 * |               | 0x21 TCP/IPv6 |                               |
 * +---------------+---------------+-------------------------------+
 * | IPv4: src addr (4), dst addr (4), src port (2), dst port (2)  |
 * | IPv6: src addr (16), dst addr (16), src port (2), dst port (2)|
 * +---------------------------------------------------------------+
 * ```
 *
 * A LOCAL header (`0x20`, family 0, length 0) is 16 bytes; health checks need none.
 *
 * @module
 */
import { ipv4ToInt, isIPv4, parseIPv6 } from "../../core/addr.ts";

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

function v6Bytes(s: string): Uint8Array | undefined {
  const g = parseIPv6(s);
  if (!g) return undefined;
  const b = new Uint8Array(16);
  g.forEach((v, i) => {
    b[i * 2] = v >> 8;
    b[i * 2 + 1] = v & 255;
  });
  return b;
}

function v4AsV6(s: string): Uint8Array {
  const b = new Uint8Array(16);
  b[10] = 0xff;
  b[11] = 0xff;
  new DataView(b.buffer).setUint32(12, ipv4ToInt(s));
  return b;
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
      const b = isIPv4(s) ? v4AsV6(s) : v6Bytes(s);
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
