/**
 * IPv4 fragmentation (RFC 791 §3.2, "An Example Fragmentation Procedure"), as the IP layer does it
 * for a packet larger than the path's MTU whose Don't Fragment bit is clear. LVS/TUN needs it: the
 * outer IP-in-IP packet is 20 bytes longer than what the client sent, and IPVS lets `ip_fragment()`
 * split the outer packet when the inner one did not set DF. The real server's kernel reassembles
 * the outer packet before decapsulating it, so the inner packet arrives whole.
 *
 * Each fragment repeats the original header (options included: the data plane only fragments
 * packets whose header it wrote itself, which has none) with three fields changed:
 *
 * ```text
 *  original   | header H (IHL*4 bytes) | payload P (total length - IHL*4 bytes)                  |
 *
 *  fragment k | H' | P[off_k, off_k + len_k)
 *
 *  H' = H with  Total Length    = IHL*4 + len_k
 *               Flags/Offset    = (original DF) | MF unless last | (original offset + off_k) / 8
 *               Header Checksum = RFC 1071 over H'
 *
 *  len_k = floor((mtu - IHL*4) / 8) * 8 for every fragment but the last (offsets count 8-byte units)
 * ```
 *
 * A fragment of a fragment keeps MF on its last piece when the original had MF set, and its offsets
 * continue from the original's (RFC 791: "the fragment offset field of the original"). The
 * identification is the original's, so the receiver groups the pieces.
 *
 * @module
 */
import { internetChecksum } from "./checksum.ts";
import { IPV4_DF, IPV4_HEADER_BYTES, IPV4_MF } from "./ipv4.ts";

/**
 * Splits an IPv4 packet into fragments of at most `mtu` bytes each.
 *
 * @param packet one whole IPv4 packet (its total length is used; bytes after it are ignored)
 * @param mtu the largest packet the link carries; it must leave at least 8 bytes after the header
 * @returns new buffers, one per fragment in offset order; a packet that fits is returned as one copy
 * @throws {SyntaxError} when the packet is not IPv4, its header is truncated, or its total length
 *   exceeds the bytes given
 * @throws {RangeError} when the MTU leaves no room for 8 bytes of payload, or the packet has DF set and
 *   does not fit
 */
export function fragmentIpv4(packet: Uint8Array, mtu: number): Uint8Array[] {
  if (packet.length < IPV4_HEADER_BYTES) {
    throw new SyntaxError(
      `Cannot fragment IPv4 packet: length ${packet.length} is less than header size ${IPV4_HEADER_BYTES}`,
    );
  }
  if (packet[0] >> 4 !== 4) throw new SyntaxError(`Cannot fragment IPv4 packet: version ${packet[0] >> 4} is not 4`);
  const hlen = (packet[0] & 0xf) * 4;
  const total = (packet[2] << 8) | packet[3];
  if (hlen < IPV4_HEADER_BYTES || total < hlen || total > packet.length) {
    throw new SyntaxError(
      `Cannot fragment IPv4 packet: header ${hlen} bytes, total length ${total}, ${packet.length} bytes given`,
    );
  }
  if (!Number.isInteger(mtu) || mtu < hlen + 8) {
    throw new RangeError(
      `Cannot fragment IPv4 packet: MTU ${mtu} leaves less than 8 bytes after the ${hlen}-byte header`,
    );
  }
  if (total <= mtu) return [packet.slice(0, total)];
  const flags = (packet[6] << 8) | packet[7];
  if (flags & IPV4_DF) {
    throw new RangeError(`Cannot fragment IPv4 packet: Don't Fragment is set and ${total} bytes exceed MTU ${mtu}`);
  }
  const step = Math.floor((mtu - hlen) / 8) * 8;
  const baseUnits = flags & 0x1fff;
  const moreAfterLast = (flags & IPV4_MF) !== 0;
  const payload = total - hlen;
  const out: Uint8Array[] = [];
  for (let off = 0; off < payload; off += step) {
    const len = Math.min(step, payload - off);
    const last = off + len >= payload;
    const frag = new Uint8Array(hlen + len);
    frag.set(packet.subarray(0, hlen));
    frag.set(packet.subarray(hlen + off, hlen + off + len), hlen);
    const size = hlen + len;
    frag[2] = size >> 8;
    frag[3] = size & 0xff;
    const word = (last && !moreAfterLast ? 0 : IPV4_MF) | (baseUnits + off / 8);
    frag[6] = word >> 8;
    frag[7] = word & 0xff;
    frag[10] = 0;
    frag[11] = 0;
    const sum = internetChecksum(frag, 0, hlen);
    frag[10] = sum >> 8;
    frag[11] = sum & 0xff;
    out.push(frag);
  }
  return out;
}
