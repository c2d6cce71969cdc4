/**
 * LVS/TUN for the forwarding loop: wraps a received frame's IPv4 packet in an outer IPv4 header
 * (protocol 4) in place, in the headroom in front of it, and applies the tunnel's MTU as IPVS
 * `ensure_mtu_ok()` does: a packet that no longer fits once encapsulated is answered with ICMP
 * fragmentation-needed when it has DF (and dropped); without DF its outer packet is sent as IPv4
 * fragments (`fragmentIpv4()`), which the real server reassembles. GSO frames cannot be tunnelled.
 *
 * ```text
 * received:  | headroom 20 | virtio_net_hdr 10 | Ethernet 14 | IPv4 ...
 * sent:      | virtio_net_hdr 10 (zero) | Ethernet 14 | outer IPv4 20 (proto 4) | inner IPv4 ... unchanged
 * ```
 *
 * @module
 */
import { ETH_HEADER_BYTES, ETHERTYPE_IPV4 } from "../../packet/ethernet.ts";
import { fragmentIpv4 } from "../../packet/fragment.ts";
import { encodeFragNeeded } from "../../packet/icmp.ts";
import { IPIP_OVERHEAD_BYTES, writeIpipHeader } from "../../packet/ipip.ts";
import { completePartialChecksum, VNET_F_NEEDS_CSUM, VNET_HEADER_BYTES } from "../../packet/vnet_header.ts";
import type { PacketBatch, PacketSocket } from "../../netctl/packet_socket.ts";
import { GLOBAL } from "./control.ts";

/** Headroom the receive slots keep in front of each frame for the outer header. */
export const TUNNEL_HEADROOM = IPIP_OVERHEAD_BYTES;

/** Outcome of {@link TunnelSender.send}. */
export const TUN_SENT = 0;
/** Dropped: a GSO frame (counted `dropTunGso`). */
export const TUN_DROP_GSO = 1;
/** Dropped: too big with DF (counted `dropTooBig`, frag-needed sent). */
export const TUN_DROP_TOO_BIG = 2;

/** Builds frames for a frame to be tunnelled (see module doc). */
export class TunnelSender {
  readonly #pkt: PacketSocket;
  readonly #batch: PacketBatch;
  readonly #C: Float64Array;
  readonly #ourMac: Uint8Array;
  readonly #dip: number;
  readonly #mtu: number;
  #ipId = 1;

  /**
   * @param io the packet socket and its batch
   * @param link the director's counters, MAC, address and interface MTU
   */
  constructor(
    io: { pkt: PacketSocket; batch: PacketBatch },
    link: { counters: Float64Array; ourMac: Uint8Array; address: number; mtu: number },
  ) {
    this.#pkt = io.pkt;
    this.#batch = io.batch;
    this.#C = link.counters;
    this.#ourMac = link.ourMac;
    this.#dip = link.address;
    this.#mtu = link.mtu;
  }

  /**
   * Encapsulates the frame at `base` (its virtio_net_hdr) towards `dest` and queues it, or sends it as
   * fragments, or drops it.
   *
   * @param base offset of the frame's virtio_net_hdr in the batch buffer
   * @param packet the inner IPv4 packet: its length, DF, the tunnel endpoint and the next hop's MAC
   * @returns {@link TUN_SENT}, {@link TUN_DROP_GSO} or {@link TUN_DROP_TOO_BIG}
   */
  send(base: number, packet: { ipLen: number; df: boolean; dest: number; mac: Uint8Array }): number {
    const buf = this.#batch.buffer;
    const view = this.#batch.view;
    const C = this.#C;
    const eth = base + VNET_HEADER_BYTES;
    const ip = eth + ETH_HEADER_BYTES;
    const { ipLen, df } = packet;
    const gso = buf[base + 1] !== 0;
    const tooBig = ipLen + IPIP_OVERHEAD_BYTES > this.#mtu;
    if (gso || (tooBig && df)) {
      // IPVS ensure_mtu_ok(): tell the client the tunnel's MTU (a GSO frame cannot be fragmented).
      if (df) this.#fragNeeded(eth, ip, ipLen);
      C[gso ? GLOBAL.dropTunGso : GLOBAL.dropTooBig]++;
      return gso ? TUN_DROP_GSO : TUN_DROP_TOO_BIG;
    }
    if (buf[base] & VNET_F_NEEDS_CSUM) {
      // The outer header hides the inner checksum from offload: finish it here.
      const csumStart = view.getUint16(base + 6, true);
      const csumOffset = view.getUint16(base + 8, true);
      completePartialChecksum(buf.subarray(eth, ip + ipLen), csumStart, csumOffset);
      C[GLOBAL.checksumsCompleted]++;
    }
    writeIpipHeader(view, ip, this.#dip, packet.dest, this.#ipId++);
    if (tooBig) {
      // No DF: fragment the outer packet as the IP layer does for IPVS; the real server reassembles it.
      this.#sendFragments(ip - IPIP_OVERHEAD_BYTES, ipLen + IPIP_OVERHEAD_BYTES, packet.mac);
    } else {
      const start = base - TUNNEL_HEADROOM;
      buf.fill(0, start, start + VNET_HEADER_BYTES);
      this.#writeEthernet(buf, start + VNET_HEADER_BYTES, packet.mac);
      this.#batch.queue(start, VNET_HEADER_BYTES + ETH_HEADER_BYTES + IPIP_OVERHEAD_BYTES + ipLen);
    }
    return TUN_SENT;
  }

  #writeEthernet(frame: Uint8Array, e: number, dst: Uint8Array): void {
    frame.set(dst, e);
    frame.set(this.#ourMac, e + 6);
    frame[e + 12] = ETHERTYPE_IPV4 >> 8;
    frame[e + 13] = ETHERTYPE_IPV4 & 0xff;
  }

  #fragNeeded(ethOff: number, ipOff: number, ipLen: number): void {
    const buf = this.#batch.buffer;
    const quoted = buf.slice(ipOff, ipOff + Math.min(ipLen, 60 + 8));
    const icmp = encodeFragNeeded(quoted, { src: this.#dip, mtu: this.#mtu - IPIP_OVERHEAD_BYTES });
    const frame = new Uint8Array(VNET_HEADER_BYTES + ETH_HEADER_BYTES + icmp.length);
    this.#writeEthernet(frame, VNET_HEADER_BYTES, buf.slice(ethOff + 6, ethOff + 12)); // back to the sender's MAC
    frame.set(icmp, VNET_HEADER_BYTES + ETH_HEADER_BYTES);
    if (this.#pkt.send(frame) > 0) this.#C[GLOBAL.fragNeededSent]++;
  }

  #sendFragments(outerOff: number, outerLen: number, mac: Uint8Array): void {
    const C = this.#C;
    // Keep the flow's order: whatever is queued goes out before the fragments.
    const queued = this.#batch.queued;
    const sent = this.#batch.flush(this.#pkt);
    C[GLOBAL.txPackets] += sent;
    C[GLOBAL.dropSendFailed] += queued - sent;
    for (const frag of fragmentIpv4(this.#batch.buffer.subarray(outerOff, outerOff + outerLen), this.#mtu)) {
      const frame = new Uint8Array(VNET_HEADER_BYTES + ETH_HEADER_BYTES + frag.length);
      this.#writeEthernet(frame, VNET_HEADER_BYTES, mac);
      frame.set(frag, VNET_HEADER_BYTES + ETH_HEADER_BYTES);
      if (this.#pkt.send(frame) > 0) C[GLOBAL.tunFragments]++;
      else C[GLOBAL.dropSendFailed]++;
    }
    C[GLOBAL.tunFragmented]++;
  }
}
