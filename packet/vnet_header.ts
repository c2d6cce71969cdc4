/**
 * `struct virtio_net_hdr`, which an AF_PACKET socket with PACKET_VNET_HDR puts in front of every
 * frame it receives and expects in front of every frame it sends. It carries GSO super-frames
 * (one "packet" of up to 64 KiB that the kernel or NIC segments later) and partial checksums
 * (CHECKSUM_PARTIAL: the TCP checksum field holds only the pseudo-header sum) through user space.
 *
 * ```text
 *  0               1               2               3               4
 * +---------------+---------------+-------------------------------+
 * |    flags      |   gso_type    |           hdr_len             |
 * +---------------+---------------+-------------------------------+
 * |          gso_size             |          csum_start           |
 * +-------------------------------+-------------------------------+
 * |         csum_offset           |
 * +-------------------------------+
 * ```
 *
 * 10 bytes; the 16-bit fields are in host byte order (little-endian on x86_64). flags bit 0 is
 * NEEDS_CSUM; gso_type 0 none, 1 TCPV4, 3 UDP, 4 TCPV6, 0x80 ECN. `csum_start` is counted from
 * the start of the Ethernet frame.
 *
 * @module
 */
import { onesComplementSum } from "./checksum.ts";

/** Bytes of `struct virtio_net_hdr`. */
export const VNET_HEADER_BYTES = 10;
/** flags: the checksum at csum_start + csum_offset must be completed. */
export const VNET_F_NEEDS_CSUM = 1;
/** gso_type: not a GSO frame. */
export const VNET_GSO_NONE = 0;
/** gso_type: TCP over IPv4 segmentation. */
export const VNET_GSO_TCPV4 = 1;

/** A decoded virtio_net_hdr. */
export interface VnetHeader {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
}

/**
 * Decodes a virtio_net_hdr.
 *
 * @param bytes buffer
 * @param offset where the header starts
 * @throws {SyntaxError} when fewer than 10 bytes remain
 */
export function decodeVnetHeader(bytes: Uint8Array, offset = 0): VnetHeader {
  if (bytes.length - offset < VNET_HEADER_BYTES) {
    throw new SyntaxError(
      `Cannot decode virtio_net_hdr: length ${bytes.length - offset} is less than header size ${VNET_HEADER_BYTES}`,
    );
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, VNET_HEADER_BYTES);
  return {
    flags: v.getUint8(0),
    gsoType: v.getUint8(1),
    hdrLen: v.getUint16(2, true),
    gsoSize: v.getUint16(4, true),
    csumStart: v.getUint16(6, true),
    csumOffset: v.getUint16(8, true),
  };
}

/**
 * Writes a virtio_net_hdr (a zeroed one means "complete frame, no GSO").
 *
 * @param buf destination
 * @param offset where to write
 * @param h the fields; omitted ones are 0
 */
export function writeVnetHeader(buf: Uint8Array, offset: number, h: Partial<VnetHeader> = {}): void {
  const v = new DataView(buf.buffer, buf.byteOffset + offset, VNET_HEADER_BYTES);
  v.setUint8(0, h.flags ?? 0);
  v.setUint8(1, h.gsoType ?? 0);
  v.setUint16(2, h.hdrLen ?? 0, true);
  v.setUint16(4, h.gsoSize ?? 0, true);
  v.setUint16(6, h.csumStart ?? 0, true);
  v.setUint16(8, h.csumOffset ?? 0, true);
}

/**
 * Completes a CHECKSUM_PARTIAL checksum in software, as the kernel's `skb_checksum_help` does:
 * the field already holds the folded pseudo-header sum; the ones' complement sum from
 * `csumStart` to the end of the frame (field included) is complemented and stored there.
 * Needed when a frame leaves in a form the NIC cannot finish (inside an IP-in-IP tunnel).
 *
 * @param frame the Ethernet frame
 * @param csumStart offset of the checksummed region in `frame`
 * @param csumOffset offset of the checksum field from `csumStart`
 * @throws {RangeError} when the offsets fall outside the frame
 */
export function completePartialChecksum(frame: Uint8Array, csumStart: number, csumOffset: number): void {
  const at = csumStart + csumOffset;
  if (at + 2 > frame.length || csumStart >= frame.length) {
    throw new RangeError(`Cannot complete checksum: field at ${at} is outside a ${frame.length}-byte frame`);
  }
  const sum = onesComplementSum(frame, csumStart, frame.length - csumStart);
  const ck = ~sum & 0xffff;
  frame[at] = ck >> 8;
  frame[at + 1] = ck & 0xff;
}
