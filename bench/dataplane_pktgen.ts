/**
 * A small packet generator for the data-plane benchmark: sends 60-byte TCP ACK frames from
 * `flows` client addresses/ports to VIP:PORT over an AF_PACKET socket with sendmmsg, at full speed
 * or at a fixed rate, for a number of seconds. Prints `{"sent":N,"seconds":S}`.
 *
 * Usage: dataplane_pktgen.ts IFNAME DST_MAC SRC_NET(a.b.c) VIP PORT SECONDS [RATE_PPS] [FLOWS]
 *
 * @module
 */
import { ipv4ToInt } from "../core/addr.ts";
import { ETHERTYPE_IPV4, parseMac, writeEthernetHeader } from "../packet/ethernet.ts";
import { IPPROTO_TCP, writeIpv4Header } from "../packet/ipv4.ts";
import { TCP_ACK } from "../packet/tcp.ts";
import { PacketBatch, PacketSocket } from "../netctl/packet_socket.ts";

const [ifname, dstMac, srcNet, vip, portText, secondsText, rateText = "0", flowsText = "1000"] = Deno.args;
const sock = PacketSocket.open(ifname, { bufferBytes: 4 << 20, qdiscBypass: true });
const FRAME = 60;
const BATCH = 256;
const flows = Number(flowsText);
const batch = new PacketBatch(flows, FRAME);
for (let i = 0; i < flows; i++) {
  const off = i * FRAME;
  writeEthernetHeader(batch.buffer, off, { dst: parseMac(dstMac), src: sock.iface.mac, etherType: ETHERTYPE_IPV4 });
  writeIpv4Header(batch.buffer, off + 14, {
    totalLength: 40,
    id: i,
    df: true,
    ttl: 64,
    protocol: IPPROTO_TCP,
    src: ipv4ToInt(`${srcNet}.${10 + (i % 200)}`),
    dst: ipv4ToInt(vip),
  });
  const t = off + 34;
  batch.view.setUint16(t, 20000 + i);
  batch.view.setUint16(t + 2, Number(portText));
  batch.view.setUint32(t + 4, 1);
  batch.view.setUint32(t + 8, 1);
  batch.buffer[t + 12] = 0x50;
  batch.buffer[t + 13] = TCP_ACK;
  batch.view.setUint16(t + 14, 512);
}
const seconds = Number(secondsText);
const rate = Number(rateText);
const start = performance.now();
const end = start + seconds * 1000;
let sent = 0;
let next = 0;
for (;;) {
  const now = performance.now();
  if (now >= end) break;
  if (rate > 0) {
    const due = ((now - start) / 1000) * rate;
    if (sent >= due) {
      // Sleep-free pacing would burn the CPU we are measuring next to; block briefly instead.
      Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 1);
      continue;
    }
  }
  for (let k = 0; k < BATCH; k++) {
    batch.queue(next * FRAME, FRAME);
    next = (next + 1) % flows;
  }
  sent += batch.flush(sock);
}
sock.close();
console.log(JSON.stringify({ sent, seconds: (performance.now() - start) / 1000 }));
