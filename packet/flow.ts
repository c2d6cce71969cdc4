/**
 * Fast-path parsing of a client's TCP/IPv4 packet into a reusable {@link TcpFlow}, without
 * allocating: the forwarding loop calls it once per packet.
 *
 * Layout assumed (offsets from the IPv4 header):
 *
 * ```text
 * +0  IPv4 header (IHL × 4 bytes; src at +12, dst at +16, protocol at +9)
 * +IHL×4  TCP header (src port +0, dst port +2, flags +13)
 * ```
 *
 * @module
 */
import { IPPROTO_TCP } from "./ipv4.ts";

/** The fields the director decides on, filled in place. */
export interface TcpFlow {
  src: number;
  dst: number;
  srcPort: number;
  dstPort: number;
  flags: number;
  /** IPv4 total length. */
  totalLength: number;
  /** Whether DF is set. */
  df: boolean;
  /** IPv4 header length in bytes. */
  ipHeaderBytes: number;
}

/** Why {@link parseTcpFlow} rejected a packet (0 = ok). */
export const FLOW_OK = 0;
/** Shorter than the headers it claims. */
export const FLOW_SHORT = 1;
/** Not IPv4 or IHL < 5. */
export const FLOW_NOT_IPV4 = 2;
/** Not TCP. */
export const FLOW_NOT_TCP = 3;
/** A non-first fragment (no ports). */
export const FLOW_FRAGMENT = 4;

/** Creates an empty flow record to reuse. */
export function newTcpFlow(): TcpFlow {
  return { src: 0, dst: 0, srcPort: 0, dstPort: 0, flags: 0, totalLength: 0, df: false, ipHeaderBytes: 0 };
}

/**
 * Parses the IPv4+TCP headers at `ipOffset` of `view` into `out`.
 *
 * @param view a DataView over the receive buffer
 * @param ipOffset where the IPv4 header starts
 * @param length bytes available from `ipOffset`
 * @param out the record to fill
 * @returns {@link FLOW_OK} or a rejection code
 */
export function parseTcpFlow(view: DataView, ipOffset: number, length: number, out: TcpFlow): number {
  if (length < 20) return FLOW_SHORT;
  const b0 = view.getUint8(ipOffset);
  const ihl = (b0 & 0xf) * 4;
  if (b0 >> 4 !== 4 || ihl < 20) return FLOW_NOT_IPV4;
  if (view.getUint8(ipOffset + 9) !== IPPROTO_TCP) return FLOW_NOT_TCP;
  const frag = view.getUint16(ipOffset + 6);
  if ((frag & 0x1fff) !== 0) return FLOW_FRAGMENT;
  if (length < ihl + 14) return FLOW_SHORT;
  out.ipHeaderBytes = ihl;
  out.totalLength = view.getUint16(ipOffset + 2);
  out.df = (frag & 0x4000) !== 0;
  out.src = view.getUint32(ipOffset + 12);
  out.dst = view.getUint32(ipOffset + 16);
  out.srcPort = view.getUint16(ipOffset + ihl);
  out.dstPort = view.getUint16(ipOffset + ihl + 2);
  out.flags = view.getUint8(ipOffset + ihl + 13);
  return FLOW_OK;
}
