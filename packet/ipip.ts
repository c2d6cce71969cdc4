/**
 * IP-in-IP encapsulation (RFC 2003), as LVS/TUN sends it: an outer IPv4 header with protocol 4
 * from the director to the real server, directly in front of the unchanged inner packet.
 *
 * ```text
 * +--------------------------+---------------------------------------------+
 * | outer IPv4 (20 bytes)    | inner IPv4 packet, unchanged                |
 * | proto 4, src DIP, dst RIP| (client -> VIP, TCP ...)                    |
 * +--------------------------+---------------------------------------------+
 * ```
 *
 * Outer fields as IPVS's `ip_vs_tunnel_xmit` sets them: TOS copied from the inner header, DF
 * copied from the inner header (so path MTU discovery keeps working end to end), TTL 64, a fresh
 * identification, protocol 4, and the RFC 1071 checksum.
 *
 * The forwarder encapsulates in place: it receives each frame with {@link IPIP_OVERHEAD_BYTES}
 * of headroom and writes the outer header into it, so no payload is copied.
 *
 * @module
 */
import {
  decodeIpv4Header,
  IPPROTO_IPIP,
  IPV4_DF,
  IPV4_HEADER_BYTES,
  type Ipv4Header,
  writeIpv4Header,
} from "./ipv4.ts";

/** Bytes added by the outer header. */
export const IPIP_OVERHEAD_BYTES = IPV4_HEADER_BYTES;

/**
 * Writes the outer header at `innerOffset - 20`, in front of the inner IPv4 packet.
 *
 * @param buf buffer holding headroom plus the inner packet
 * @param innerOffset where the inner IPv4 header starts (≥ 20)
 * @param opts.src the director's address (outer source)
 * @param opts.dst the real server's address (outer destination)
 * @param opts.id outer identification
 * @returns the outer packet's length (inner total length + 20)
 * @throws {RangeError} when there is no headroom or the result would exceed 65535 bytes
 * @throws {SyntaxError} when the inner header is malformed
 */
export function encapsulateIpip(
  buf: Uint8Array,
  innerOffset: number,
  opts: { src: number; dst: number; id: number },
): number {
  if (innerOffset < IPIP_OVERHEAD_BYTES) {
    throw new RangeError(`Cannot encapsulate: ${innerOffset} bytes of headroom, need ${IPIP_OVERHEAD_BYTES}`);
  }
  const inner = new DataView(buf.buffer, buf.byteOffset + innerOffset, IPV4_HEADER_BYTES);
  if (buf.length - innerOffset < IPV4_HEADER_BYTES || inner.getUint8(0) >> 4 !== 4) {
    throw new SyntaxError("Cannot encapsulate: the inner packet is not IPv4");
  }
  const innerLength = inner.getUint16(2);
  const total = innerLength + IPIP_OVERHEAD_BYTES;
  if (total > 0xffff) throw new RangeError(`Cannot encapsulate: outer length ${total} exceeds 65535`);
  writeIpv4Header(buf, innerOffset - IPIP_OVERHEAD_BYTES, {
    tos: inner.getUint8(1),
    totalLength: total,
    id: opts.id & 0xffff,
    df: (inner.getUint16(6) & IPV4_DF) !== 0,
    ttl: 64,
    protocol: IPPROTO_IPIP,
    src: opts.src,
    dst: opts.dst,
  });
  return total;
}

/**
 * {@link encapsulateIpip} for the forwarding loop's hot path: the same outer header, written through
 * an existing DataView over the whole buffer without allocating. The caller has already parsed the
 * inner header (IPv4, its total length); nothing is validated here.
 *
 * @param view a DataView over the buffer
 * @param innerOffset where the inner IPv4 header starts (≥ 20 bytes of headroom before it)
 * @param src the director's address
 * @param dst the real server's address
 * @param id outer identification
 * @returns the outer packet's length
 */
export function writeIpipHeader(view: DataView, innerOffset: number, src: number, dst: number, id: number): number {
  const o = innerOffset - IPIP_OVERHEAD_BYTES;
  const total = view.getUint16(innerOffset + 2) + IPIP_OVERHEAD_BYTES;
  view.setUint16(o, 0x4500 | view.getUint8(innerOffset + 1));
  view.setUint16(o + 2, total);
  view.setUint16(o + 4, id & 0xffff);
  view.setUint16(o + 6, view.getUint16(innerOffset + 6) & IPV4_DF);
  view.setUint16(o + 8, (64 << 8) | IPPROTO_IPIP);
  view.setUint16(o + 10, 0);
  view.setUint32(o + 12, src >>> 0);
  view.setUint32(o + 16, dst >>> 0);
  // RFC 1071 over the 10 header words, folded.
  let sum = 0;
  for (let i = 0; i < IPIP_OVERHEAD_BYTES; i += 2) sum += view.getUint16(o + i);
  sum = (sum & 0xffff) + (sum >>> 16);
  sum = (sum & 0xffff) + (sum >>> 16);
  view.setUint16(o + 10, ~sum & 0xffff);
  return total;
}

/** Result of {@link decapsulateIpip}. */
export interface Decapsulated {
  /** The outer header. */
  outer: Ipv4Header;
  /** The inner packet (a view into the input, trimmed to its total length). */
  inner: Uint8Array;
}

/**
 * Splits an IP-in-IP packet (as a raw IPPROTO_IPIP socket receives it: outer header included).
 *
 * @param packet the outer IPv4 packet
 * @param opts.verifyOuterChecksum check the outer header checksum (default true; a raw socket's packets were
 *   already checked by the kernel's ip_rcv, so the decapsulator skips it)
 * @throws {SyntaxError} when the outer header is not protocol 4, or the inner packet is not a whole IPv4 packet
 */
export function decapsulateIpip(packet: Uint8Array, opts: { verifyOuterChecksum?: boolean } = {}): Decapsulated {
  const outer = decodeIpv4Header(packet, 0, { verifyChecksum: opts.verifyOuterChecksum ?? true });
  if (outer.protocol !== IPPROTO_IPIP) {
    throw new SyntaxError(`Cannot decapsulate: outer protocol ${outer.protocol} is not 4 (IP-in-IP)`);
  }
  const end = Math.min(outer.totalLength, packet.length);
  const innerBytes = packet.subarray(outer.headerBytes, end);
  const inner = decodeIpv4Header(innerBytes, 0, { verifyChecksum: false });
  if (inner.totalLength > innerBytes.length) {
    throw new SyntaxError(
      `Cannot decapsulate: inner total length ${inner.totalLength} exceeds the ${innerBytes.length} bytes carried`,
    );
  }
  return { outer, inner: innerBytes.subarray(0, inner.totalLength) };
}
