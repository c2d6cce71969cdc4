/**
 * Ethernet II framing and MAC address text.
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |                 destination MAC (6 bytes) ...                 |
 * +                               +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |          ... destination      |     source MAC (6 bytes) ...  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+                               +
 * |                       ... source MAC                          |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |     EtherType (big-endian)    |  payload ...
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * @module
 */

/** Bytes in an Ethernet II header (no VLAN tag). */
export const ETH_HEADER_BYTES = 14;
/** EtherType of IPv4. */
export const ETHERTYPE_IPV4 = 0x0800;
/** EtherType of ARP. */
export const ETHERTYPE_ARP = 0x0806;
/** The broadcast MAC address. */
export const BROADCAST_MAC: Readonly<Uint8Array> = new Uint8Array([255, 255, 255, 255, 255, 255]);

/** A decoded Ethernet header. */
export interface EthernetHeader {
  /** Destination MAC, 6 bytes. */
  dst: Uint8Array;
  /** Source MAC, 6 bytes. */
  src: Uint8Array;
  /** EtherType, e.g. {@link ETHERTYPE_IPV4}. */
  etherType: number;
}

/**
 * Parses MAC address text such as `02:00:5e:10:00:01` (also `-` separated).
 *
 * @param text the address
 * @returns 6 bytes
 * @throws {SyntaxError} when the text is not six hex octets
 */
export function parseMac(text: string): Uint8Array {
  const parts = text.trim().split(/[:-]/);
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{1,2}$/.test(p))) {
    throw new SyntaxError(`Cannot parse MAC address: "${text}" is not six hex octets`);
  }
  return new Uint8Array(parts.map((p) => parseInt(p, 16)));
}

/**
 * Formats 6 bytes as lower-case `aa:bb:cc:dd:ee:ff`.
 *
 * @param bytes buffer holding the address
 * @param offset where the address starts
 */
export function formatMac(bytes: Uint8Array, offset = 0): string {
  const out: string[] = [];
  for (let i = 0; i < 6; i++) out.push(bytes[offset + i].toString(16).padStart(2, "0"));
  return out.join(":");
}

/**
 * Decodes the Ethernet header at the start of a frame.
 *
 * @param frame the frame
 * @throws {SyntaxError} when the frame is shorter than 14 bytes
 */
export function decodeEthernet(frame: Uint8Array): EthernetHeader {
  if (frame.length < ETH_HEADER_BYTES) {
    throw new SyntaxError(
      `Cannot decode Ethernet header: length ${frame.length} is less than header size ${ETH_HEADER_BYTES}`,
    );
  }
  return {
    dst: frame.slice(0, 6),
    src: frame.slice(6, 12),
    etherType: (frame[12] << 8) | frame[13],
  };
}

/**
 * Writes an Ethernet header into `buf` at `offset` (in place, for the forwarding fast path).
 *
 * @param buf destination buffer with at least 14 bytes from `offset`
 * @param offset where the header starts
 * @param header the fields
 * @throws {RangeError} when the buffer is too short or a MAC is not 6 bytes
 */
export function writeEthernetHeader(buf: Uint8Array, offset: number, header: EthernetHeader): void {
  if (buf.length - offset < ETH_HEADER_BYTES) {
    throw new RangeError(`Cannot write Ethernet header: ${buf.length - offset} bytes left, need ${ETH_HEADER_BYTES}`);
  }
  if (header.dst.length !== 6 || header.src.length !== 6) {
    throw new RangeError("Cannot write Ethernet header: MAC is not 6 bytes");
  }
  buf.set(header.dst, offset);
  buf.set(header.src, offset + 6);
  buf[offset + 12] = header.etherType >> 8;
  buf[offset + 13] = header.etherType & 0xff;
}

/**
 * Encodes a whole frame: header plus payload.
 *
 * @param header the Ethernet fields
 * @param payload the bytes after the header
 * @returns a new frame
 */
export function encodeEthernetFrame(header: EthernetHeader, payload: Uint8Array): Uint8Array {
  const out = new Uint8Array(ETH_HEADER_BYTES + payload.length);
  writeEthernetHeader(out, 0, header);
  out.set(payload, ETH_HEADER_BYTES);
  return out;
}
