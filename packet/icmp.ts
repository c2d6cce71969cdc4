/**
 * ICMP "fragmentation needed and DF set" (RFC 792 type 3 code 4, with the next-hop MTU of
 * RFC 1191), which the director sends to a client whose packet would not fit the tunnel, as
 * IPVS's `ensure_mtu_ok` does.
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   Type = 3    |   Code = 4    |          Checksum             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |           unused = 0          |         Next-Hop MTU          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |      Internet Header + 64 bits of Original Data Datagram      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * The ICMP checksum (RFC 1071) covers the ICMP header and data. The message travels in an IPv4
 * packet from the director's address to the original packet's source.
 *
 * @module
 */
import { internetChecksum } from "./checksum.ts";
import { decodeIpv4Header, IPPROTO_ICMP, IPV4_HEADER_BYTES, writeIpv4Header } from "./ipv4.ts";

/** ICMP type: destination unreachable. */
export const ICMP_DEST_UNREACH = 3;
/** ICMP code: fragmentation needed and DF set. */
export const ICMP_FRAG_NEEDED = 4;
/** Bytes of the ICMP header. */
export const ICMP_HEADER_BYTES = 8;

/**
 * Builds the whole IPv4 packet carrying a frag-needed message about `original`.
 *
 * @param original the offending IPv4 packet (at least its header)
 * @param opts.src our address (the director's)
 * @param opts.mtu the next-hop MTU to announce (e.g. link MTU − 20 for IP-in-IP)
 * @returns a new IPv4 packet (header + ICMP), addressed to the original source
 * @throws {SyntaxError} when `original` is not an IPv4 packet
 * @throws {RangeError} when the MTU is not in 68..65535
 */
export function encodeFragNeeded(original: Uint8Array, opts: { src: number; mtu: number }): Uint8Array {
  if (opts.mtu < 68 || opts.mtu > 0xffff) {
    throw new RangeError(`Cannot encode frag-needed: MTU ${opts.mtu} is not in 68..65535`);
  }
  const hdr = decodeIpv4Header(original, 0, { verifyChecksum: false });
  const quoted = Math.min(original.length, hdr.headerBytes + 8);
  const icmpLen = ICMP_HEADER_BYTES + quoted;
  const out = new Uint8Array(IPV4_HEADER_BYTES + icmpLen);
  writeIpv4Header(out, 0, {
    totalLength: out.length,
    tos: 0xc0, // Internet control, as Linux sends ICMP errors
    df: false,
    ttl: 64,
    protocol: IPPROTO_ICMP,
    src: opts.src,
    dst: hdr.src,
  });
  const o = IPV4_HEADER_BYTES;
  out[o] = ICMP_DEST_UNREACH;
  out[o + 1] = ICMP_FRAG_NEEDED;
  out[o + 6] = opts.mtu >> 8;
  out[o + 7] = opts.mtu & 0xff;
  out.set(original.subarray(0, quoted), o + ICMP_HEADER_BYTES);
  const ck = internetChecksum(out, o, icmpLen);
  out[o + 2] = ck >> 8;
  out[o + 3] = ck & 0xff;
  return out;
}

/** A decoded ICMP message header. */
export interface IcmpHeader {
  type: number;
  code: number;
  checksum: number;
  /** For type 3 code 4: the next-hop MTU (low 16 bits of the second word). */
  nextHopMtu: number;
  /** The bytes after the 8-byte header (the quoted original datagram for errors). */
  data: Uint8Array;
}

/**
 * Decodes an ICMP message (the IP payload) and verifies its checksum.
 *
 * @param bytes the ICMP message
 * @throws {SyntaxError} when shorter than 8 bytes or the checksum is wrong
 */
export function decodeIcmp(bytes: Uint8Array): IcmpHeader {
  if (bytes.length < ICMP_HEADER_BYTES) {
    throw new SyntaxError(`Cannot decode ICMP message: length ${bytes.length} is less than header size 8`);
  }
  if (internetChecksum(bytes) !== 0) throw new SyntaxError("Cannot decode ICMP message: checksum is wrong");
  return {
    type: bytes[0],
    code: bytes[1],
    checksum: (bytes[2] << 8) | bytes[3],
    nextHopMtu: (bytes[6] << 8) | bytes[7],
    data: bytes.subarray(ICMP_HEADER_BYTES),
  };
}
