/**
 * TCP header fields the director needs (RFC 9293): ports, flags, and the header's length.
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |          Source Port          |       Destination Port        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                        Sequence Number                        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                    Acknowledgment Number                      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  Data |       |C|E|U|A|P|R|S|F|                               |
 * | Offset| Rsrvd |W|C|R|C|S|S|Y|I|            Window             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |           Checksum            |         Urgent Pointer        |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * Big-endian. Data offset counts 32-bit words (5..15).
 *
 * @module
 */

/** Bytes of a TCP header without options. */
export const TCP_HEADER_BYTES = 20;
/** FIN flag. */
export const TCP_FIN = 0x01;
/** SYN flag. */
export const TCP_SYN = 0x02;
/** RST flag. */
export const TCP_RST = 0x04;
/** PSH flag. */
export const TCP_PSH = 0x08;
/** ACK flag. */
export const TCP_ACK = 0x10;
/** URG flag. */
export const TCP_URG = 0x20;

/** The decoded fixed part of a TCP header. */
export interface TcpHeader {
  srcPort: number;
  dstPort: number;
  seq: number;
  ack: number;
  /** Header length in bytes (data offset × 4). */
  headerBytes: number;
  /** Flag bits (low 8 bits of byte 13): CWR ECE URG ACK PSH RST SYN FIN. */
  flags: number;
  window: number;
  checksum: number;
}

/**
 * Decodes the TCP header at `offset`.
 *
 * @param bytes buffer
 * @param offset where the TCP header starts
 * @throws {SyntaxError} when truncated or the data offset is below 5 or beyond the data
 */
export function decodeTcpHeader(bytes: Uint8Array, offset = 0): TcpHeader {
  const len = bytes.length - offset;
  if (len < TCP_HEADER_BYTES) {
    throw new SyntaxError(`Cannot decode TCP header: length ${len} is less than header size ${TCP_HEADER_BYTES}`);
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, TCP_HEADER_BYTES);
  const headerBytes = (v.getUint8(12) >> 4) * 4;
  if (headerBytes < TCP_HEADER_BYTES || headerBytes > len) {
    throw new SyntaxError(
      `Cannot decode TCP header: data offset ${headerBytes / 4} is outside 5..${Math.floor(len / 4)}`,
    );
  }
  return {
    srcPort: v.getUint16(0),
    dstPort: v.getUint16(2),
    seq: v.getUint32(4),
    ack: v.getUint32(8),
    headerBytes,
    flags: v.getUint8(13),
    window: v.getUint16(14),
    checksum: v.getUint16(16),
  };
}

/**
 * Formats flag bits the way tcpdump does (`S`, `S.`, `F.`, `R`, `P.`...).
 *
 * @param flags the flag byte
 */
export function formatTcpFlags(flags: number): string {
  let s = "";
  if (flags & TCP_SYN) s += "S";
  if (flags & TCP_FIN) s += "F";
  if (flags & TCP_PSH) s += "P";
  if (flags & TCP_RST) s += "R";
  if (flags & TCP_URG) s += "U";
  if (flags & TCP_ACK) s += ".";
  return s || "none";
}
