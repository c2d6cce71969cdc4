/**
 * IPv4 headers (RFC 791): decode with validation, encode with the RFC 1071 header checksum.
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |Version|  IHL  |      TOS      |          Total Length         |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |         Identification        |0|D|M|     Fragment Offset     |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Time to Live |    Protocol   |         Header Checksum       |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                       Source Address                          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Destination Address                        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Options (IHL > 5) ...                      |
 * ```
 *
 * All multi-byte fields are big-endian. IHL counts 32-bit words (5..15); the fragment offset
 * counts 8-byte units. Addresses are handled as unsigned 32-bit numbers.
 *
 * @module
 */
import { internetChecksum } from "./checksum.ts";

/** Bytes of an IPv4 header without options. */
export const IPV4_HEADER_BYTES = 20;
/** IP protocol numbers used by the data plane. */
export const IPPROTO_ICMP = 1;
/** IP-in-IP (RFC 2003). */
export const IPPROTO_IPIP = 4;
/** TCP. */
export const IPPROTO_TCP = 6;
/** The Don't Fragment bit in the flags/fragment-offset word. */
export const IPV4_DF = 0x4000;
/** The More Fragments bit. */
export const IPV4_MF = 0x2000;

/** A decoded IPv4 header. */
export interface Ipv4Header {
  /** Header length in bytes (IHL × 4). */
  headerBytes: number;
  tos: number;
  totalLength: number;
  id: number;
  /** Don't Fragment. */
  df: boolean;
  /** More Fragments. */
  mf: boolean;
  /** Fragment offset in bytes. */
  fragmentOffset: number;
  ttl: number;
  protocol: number;
  checksum: number;
  src: number;
  dst: number;
}

/**
 * Decodes and validates the IPv4 header at `offset`.
 *
 * @param bytes buffer holding the packet
 * @param offset where the IP header starts
 * @param opts.verifyChecksum also require a correct header checksum (default true)
 * @throws {SyntaxError} when truncated, not version 4, IHL < 5, total length inconsistent, or bad checksum
 */
export function decodeIpv4Header(bytes: Uint8Array, offset = 0, opts: { verifyChecksum?: boolean } = {}): Ipv4Header {
  const len = bytes.length - offset;
  if (len < IPV4_HEADER_BYTES) {
    throw new SyntaxError(`Cannot decode IPv4 header: length ${len} is less than header size ${IPV4_HEADER_BYTES}`);
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, len);
  const b0 = v.getUint8(0);
  if (b0 >> 4 !== 4) throw new SyntaxError(`Cannot decode IPv4 header: version ${b0 >> 4} is not 4`);
  const headerBytes = (b0 & 0xf) * 4;
  if (headerBytes < IPV4_HEADER_BYTES) {
    throw new SyntaxError(`Cannot decode IPv4 header: IHL ${b0 & 0xf} is less than 5`);
  }
  if (headerBytes > len) {
    throw new SyntaxError(`Cannot decode IPv4 header: header length ${headerBytes} exceeds packet length ${len}`);
  }
  const totalLength = v.getUint16(2);
  if (totalLength < headerBytes) {
    throw new SyntaxError(
      `Cannot decode IPv4 header: total length ${totalLength} is less than header length ${headerBytes}`,
    );
  }
  if (opts.verifyChecksum !== false && internetChecksum(bytes, offset, headerBytes) !== 0) {
    throw new SyntaxError(`Cannot decode IPv4 header: checksum 0x${v.getUint16(10).toString(16)} is wrong`);
  }
  const frag = v.getUint16(6);
  return {
    headerBytes,
    tos: v.getUint8(1),
    totalLength,
    id: v.getUint16(4),
    df: (frag & IPV4_DF) !== 0,
    mf: (frag & IPV4_MF) !== 0,
    fragmentOffset: (frag & 0x1fff) * 8,
    ttl: v.getUint8(8),
    protocol: v.getUint8(9),
    checksum: v.getUint16(10),
    src: v.getUint32(12),
    dst: v.getUint32(16),
  };
}

/** Fields for {@link writeIpv4Header}; options are not supported (IHL 5). */
export interface Ipv4Fields {
  tos?: number;
  totalLength: number;
  id?: number;
  df?: boolean;
  ttl?: number;
  protocol: number;
  src: number;
  dst: number;
}

/**
 * Writes a 20-byte IPv4 header (IHL 5) at `offset` and fills in its checksum.
 *
 * @param buf destination
 * @param offset where the header starts
 * @param f the fields (defaults: tos 0, id 0, df false, ttl 64)
 * @throws {RangeError} when fewer than 20 bytes remain or the total length is out of range
 */
export function writeIpv4Header(buf: Uint8Array, offset: number, f: Ipv4Fields): void {
  if (buf.length - offset < IPV4_HEADER_BYTES) {
    throw new RangeError(`Cannot write IPv4 header: ${buf.length - offset} bytes left, need ${IPV4_HEADER_BYTES}`);
  }
  if (f.totalLength < IPV4_HEADER_BYTES || f.totalLength > 0xffff) {
    throw new RangeError(`Cannot write IPv4 header: total length ${f.totalLength} is not in 20..65535`);
  }
  const v = new DataView(buf.buffer, buf.byteOffset + offset, IPV4_HEADER_BYTES);
  v.setUint8(0, 0x45);
  v.setUint8(1, f.tos ?? 0);
  v.setUint16(2, f.totalLength);
  v.setUint16(4, f.id ?? 0);
  v.setUint16(6, f.df ? IPV4_DF : 0);
  v.setUint8(8, f.ttl ?? 64);
  v.setUint8(9, f.protocol);
  v.setUint16(10, 0);
  v.setUint32(12, f.src >>> 0);
  v.setUint32(16, f.dst >>> 0);
  v.setUint16(10, internetChecksum(buf, offset, IPV4_HEADER_BYTES));
}
