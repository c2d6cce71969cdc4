/**
 * The Internet checksum of RFC 1071, used by IPv4, ICMP and TCP headers.
 *
 * The checksum is the 16-bit ones' complement of the ones' complement sum of the data taken as
 * big-endian 16-bit words; an odd trailing byte is padded with a zero byte on the right:
 *
 * ```text
 *   sum = Σ word[i]            (32-bit accumulator)
 *   while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16)   (end-around carry)
 *   checksum = ~sum & 0xffff
 * ```
 *
 * A header whose checksum field is correct sums (checksum included) to 0xffff, so verifying is
 * `internetChecksum(header) === 0`.
 *
 * @module
 */

/**
 * Adds `bytes[offset, offset+length)` to a running ones' complement sum (not yet complemented).
 *
 * @param bytes the data
 * @param offset first byte
 * @param length number of bytes (may be odd)
 * @param initial a previous partial sum (e.g. the TCP pseudo-header), default 0
 * @returns the folded 16-bit sum
 */
export function onesComplementSum(bytes: Uint8Array, offset = 0, length = bytes.length - offset, initial = 0): number {
  let sum = initial;
  const end = offset + length;
  let i = offset;
  for (; i + 1 < end; i += 2) sum += (bytes[i] << 8) | bytes[i + 1];
  if (i < end) sum += bytes[i] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + Math.floor(sum / 0x10000);
  return sum;
}

/**
 * Computes the RFC 1071 Internet checksum of a byte range.
 *
 * @param bytes the data
 * @param offset first byte
 * @param length number of bytes
 * @param initial a partial sum to include (e.g. a pseudo-header), default 0
 * @returns the 16-bit checksum to store big-endian in the header
 * @example
 * ```ts
 * internetChecksum(new Uint8Array([0x45, 0x00, 0x00, 0x1c])); // 0xbae3
 * ```
 */
export function internetChecksum(bytes: Uint8Array, offset = 0, length = bytes.length - offset, initial = 0): number {
  return ~onesComplementSum(bytes, offset, length, initial) & 0xffff;
}
