/**
 * ARP (RFC 826) for IPv4 over Ethernet: who-has requests, replies and gratuitous ARP.
 *
 * The 28-byte payload after the Ethernet header (EtherType 0x0806), all fields big-endian:
 *
 * ```text
 *  0                   1                   2                   3
 *  0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5 6 7 8 9 0 1
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |    hardware type (1 = Ethernet) |  protocol type (0x0800)      |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * | hw len (6)    | proto len (4) |  operation (1 request, 2 reply)|
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |            sender hardware address (6 bytes) ...              |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |   ... sender hw address       |  sender protocol address ...  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |  ... sender proto address     |  target hardware address ...  |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |             ... target hardware address (6 bytes)             |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * |               target protocol address (4 bytes)               |
 * +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
 * ```
 *
 * A gratuitous ARP is a request (op 1) whose sender and target protocol addresses are both the
 * announced address, sent to the broadcast MAC: neighbours that already have an entry for that
 * address update it (RFC 5227 §3, "ARP Announcement").
 *
 * @module
 */
import { BROADCAST_MAC, ETH_HEADER_BYTES, ETHERTYPE_ARP, ETHERTYPE_IPV4, writeEthernetHeader } from "./ethernet.ts";

/** Bytes of an IPv4-over-Ethernet ARP payload. */
export const ARP_BYTES = 28;
/** ARP operation: request (who-has). */
export const ARP_REQUEST = 1;
/** ARP operation: reply (is-at). */
export const ARP_REPLY = 2;

/** A decoded IPv4/Ethernet ARP message. Addresses are unsigned 32-bit numbers. */
export interface ArpMessage {
  op: number;
  senderMac: Uint8Array;
  senderIp: number;
  targetMac: Uint8Array;
  targetIp: number;
}

const ZERO_MAC = new Uint8Array(6);

/**
 * Decodes the ARP payload at `offset` (after the Ethernet header).
 *
 * @param bytes buffer holding the message
 * @param offset where the ARP payload starts
 * @throws {SyntaxError} when it is too short or not IPv4 over Ethernet
 */
export function decodeArp(bytes: Uint8Array, offset = 0): ArpMessage {
  const len = bytes.length - offset;
  if (len < ARP_BYTES) {
    throw new SyntaxError(`Cannot decode ARP message: length ${len} is less than message size ${ARP_BYTES}`);
  }
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, ARP_BYTES);
  const htype = v.getUint16(0), ptype = v.getUint16(2), hlen = v.getUint8(4), plen = v.getUint8(5);
  if (htype !== 1 || ptype !== ETHERTYPE_IPV4 || hlen !== 6 || plen !== 4) {
    throw new SyntaxError(
      `Cannot decode ARP message: hardware type ${htype}/${hlen} and protocol 0x${ptype.toString(16)}/${plen} ` +
        "are not Ethernet/IPv4",
    );
  }
  return {
    op: v.getUint16(6),
    senderMac: bytes.slice(offset + 8, offset + 14),
    senderIp: v.getUint32(14),
    targetMac: bytes.slice(offset + 18, offset + 24),
    targetIp: v.getUint32(24),
  };
}

/**
 * Encodes an ARP payload (28 bytes, without Ethernet header).
 *
 * @param msg the message
 */
export function encodeArp(msg: ArpMessage): Uint8Array {
  const out = new Uint8Array(ARP_BYTES);
  const v = new DataView(out.buffer);
  v.setUint16(0, 1);
  v.setUint16(2, ETHERTYPE_IPV4);
  v.setUint8(4, 6);
  v.setUint8(5, 4);
  v.setUint16(6, msg.op);
  out.set(msg.senderMac, 8);
  v.setUint32(14, msg.senderIp >>> 0);
  out.set(msg.targetMac, 18);
  v.setUint32(24, msg.targetIp >>> 0);
  return out;
}

function frame(dst: Uint8Array, src: Uint8Array, msg: ArpMessage): Uint8Array {
  // 14 + 28 = 42 bytes; the NIC pads to the 60-byte minimum.
  const out = new Uint8Array(ETH_HEADER_BYTES + ARP_BYTES);
  writeEthernetHeader(out, 0, { dst, src, etherType: ETHERTYPE_ARP });
  out.set(encodeArp(msg), ETH_HEADER_BYTES);
  return out;
}

/**
 * Builds the Ethernet frame answering a who-has: "`ip` is at `mac`", sent to the requester.
 *
 * @param request the decoded request
 * @param mac our MAC address
 * @param ip the address we answer for (normally `request.targetIp`)
 */
export function arpReplyFrame(request: ArpMessage, mac: Uint8Array, ip: number): Uint8Array {
  return frame(request.senderMac, mac, {
    op: ARP_REPLY,
    senderMac: mac,
    senderIp: ip,
    targetMac: request.senderMac,
    targetIp: request.senderIp,
  });
}

/**
 * Builds a broadcast who-has request for `targetIp`.
 *
 * @param mac our MAC address
 * @param ip our IPv4 address (the sender protocol address)
 * @param targetIp the address to resolve
 */
export function arpRequestFrame(mac: Uint8Array, ip: number, targetIp: number): Uint8Array {
  return frame(BROADCAST_MAC, mac, { op: ARP_REQUEST, senderMac: mac, senderIp: ip, targetMac: ZERO_MAC, targetIp });
}

/**
 * Builds a gratuitous ARP (announcement) for `ip` at `mac`, broadcast.
 *
 * @param mac the MAC that now owns `ip`
 * @param ip the announced address
 */
export function gratuitousArpFrame(mac: Uint8Array, ip: number): Uint8Array {
  return frame(BROADCAST_MAC, mac, {
    op: ARP_REQUEST,
    senderMac: mac,
    senderIp: ip,
    targetMac: ZERO_MAC,
    targetIp: ip,
  });
}
