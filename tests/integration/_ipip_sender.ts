/**
 * Test helper process: sends one crafted IP-in-IP frame (outer IPv4 protocol 4 around an inner
 * IPv4/UDP datagram) on an interface through an AF_PACKET socket, built with the packet codecs of
 * `packet/`. Run inside a namespace (`ip netns exec NS deno run ... _ipip_sender.ts ...`); needs
 * CAP_NET_RAW there. Used to check who a TUN real server decapsulates for.
 *
 * ```text
 * Ethernet (dst MAC, src = the interface's MAC, 0x0800)
 * | outer IPv4 OUTER_SRC → OUTER_DST, protocol 4, DF
 * | inner IPv4 INNER_SRC → INNER_DST, protocol 17
 * | UDP 40000 → PORT, checksum 0 (none) | PAYLOAD
 * ```
 *
 * With `fragment` the outer packet (without DF) goes out as IPv4 fragments of at most 60 bytes, which
 * the receiving kernel reassembles before its raw IP-in-IP socket sees them (the path of the
 * user-space decapsulator next to the eBPF one).
 *
 * Usage: _ipip_sender.ts IFNAME DST_MAC OUTER_SRC OUTER_DST INNER_SRC INNER_DST PORT PAYLOAD [fragment]
 *
 * @module
 */
import { ipv4ToInt } from "../../core/addr.ts";
import { encodeEthernetFrame, ETHERTYPE_IPV4, parseMac } from "../../packet/ethernet.ts";
import { encapsulateIpip } from "../../packet/ipip.ts";
import { IPV4_HEADER_BYTES, writeIpv4Header } from "../../packet/ipv4.ts";
import { fragmentIpv4 } from "../../packet/fragment.ts";
import { PacketSocket } from "../../netctl/packet_socket.ts";

const [ifname, dstMac, outerSrc, outerDst, innerSrc, innerDst, port, payloadText, mode] = Deno.args;
const fragment = mode === "fragment";
const payload = new TextEncoder().encode(payloadText);
const UDP_BYTES = 8;
const innerLength = IPV4_HEADER_BYTES + UDP_BYTES + payload.length;
const buf = new Uint8Array(IPV4_HEADER_BYTES + innerLength);
const inner = IPV4_HEADER_BYTES;
writeIpv4Header(buf, inner, {
  totalLength: innerLength,
  id: 7,
  df: !fragment, // the outer header copies DF from the inner one
  protocol: 17,
  src: ipv4ToInt(innerSrc),
  dst: ipv4ToInt(innerDst),
});
const udp = new DataView(buf.buffer, inner + IPV4_HEADER_BYTES, UDP_BYTES);
udp.setUint16(0, 40000);
udp.setUint16(2, Number(port));
udp.setUint16(4, UDP_BYTES + payload.length);
udp.setUint16(6, 0);
buf.set(payload, inner + IPV4_HEADER_BYTES + UDP_BYTES);
encapsulateIpip(buf, inner, { src: ipv4ToInt(outerSrc), dst: ipv4ToInt(outerDst), id: 9 });

const sock = PacketSocket.open(ifname);
try {
  for (const packet of fragment ? fragmentIpv4(buf, 60) : [buf]) {
    sock.send(encodeEthernetFrame({ dst: parseMac(dstMac), src: sock.iface.mac, etherType: ETHERTYPE_IPV4 }, packet));
  }
} finally {
  sock.close();
}
console.log("sent");
