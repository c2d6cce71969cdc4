/**
 * Decodes the golden frames captured from a real run (tests/fixtures/dataplane.md) with the
 * codecs, and checks what the data plane promises about them.
 */
import { assert, assertEquals } from "../tests/_assert.ts";
import { ipv4ToInt } from "../core/addr.ts";
import { fromHex, toHex } from "./_hex.ts";
import { ARP_REPLY, ARP_REQUEST, decodeArp } from "./arp.ts";
import { ACCEPT_SNAPLEN, runBpf, vipFilterProgram } from "./bpf.ts";
import { internetChecksum } from "./checksum.ts";
import { decodeEthernet, ETHERTYPE_ARP, ETHERTYPE_IPV4, formatMac } from "./ethernet.ts";
import { FLOW_OK, newTcpFlow, parseTcpFlow } from "./flow.ts";
import { decodeIcmp, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED } from "./icmp.ts";
import { decapsulateIpip } from "./ipip.ts";
import { decodeIpv4Header, IPPROTO_ICMP } from "./ipv4.ts";
import { decodeTcpHeader, TCP_SYN } from "./tcp.ts";

const DIR = new URL("../tests/fixtures/", import.meta.url);
const load = (name: string) => fromHex(Deno.readTextFileSync(new URL(`${name}.hex`, DIR)));
const VIP = ipv4ToInt("10.77.0.100");
const CLIENT = ipv4ToInt("10.77.0.10");

/** TCP checksum over the pseudo-header (RFC 9293 §3.1). */
function tcpChecksumOk(ip: Uint8Array): boolean {
  const h = decodeIpv4Header(ip);
  const seg = ip.subarray(h.headerBytes, h.totalLength);
  const pseudo = new Uint8Array(12);
  const v = new DataView(pseudo.buffer);
  v.setUint32(0, h.src);
  v.setUint32(4, h.dst);
  v.setUint16(8, h.protocol);
  v.setUint16(10, seg.length);
  let sum = 0;
  for (let i = 0; i < 12; i += 2) sum += v.getUint16(i);
  return internetChecksum(seg, 0, seg.length, sum % 0xffff) === 0;
}

Deno.test("golden client SYN: decodes, passes the VIP filter, and has correct checksums", () => {
  const f = load("client_syn_to_vip");
  assertEquals(decodeEthernet(f).etherType, ETHERTYPE_IPV4);
  const ip = f.subarray(14);
  const h = decodeIpv4Header(ip);
  assertEquals([h.src, h.dst, h.df], [CLIENT, VIP, true]);
  assertEquals(decodeTcpHeader(ip, h.headerBytes).flags, TCP_SYN);
  assert(tcpChecksumOk(ip));
  const flow = newTcpFlow();
  assertEquals(parseTcpFlow(new DataView(f.buffer), 14, f.length - 14, flow), FLOW_OK);
  assertEquals(flow.dstPort, 80);
  assertEquals(runBpf(vipFilterProgram([{ vip: VIP, port: 80 }]), f), ACCEPT_SNAPLEN);
  assertEquals(runBpf(vipFilterProgram([{ vip: VIP, port: 81 }]), f), 0);
});

Deno.test("golden DR frame: only the MACs differ from the client's frame; source MAC is the old destination", () => {
  const inFrame = load("client_syn_to_vip");
  const out = load("dr_forwarded_syn");
  assertEquals(toHex(out.subarray(14)), toHex(inFrame.subarray(14)));
  assertEquals(formatMac(out, 6), formatMac(inFrame, 0));
  assert(formatMac(out, 0) !== formatMac(inFrame, 0));
});

Deno.test("golden TUN frame: outer proto 4 director to rs2, DF and TOS copied, inner intact", () => {
  const f = load("tun_encapsulated_syn");
  const d = decapsulateIpip(f.subarray(14));
  assertEquals([d.outer.src, d.outer.dst], [ipv4ToInt("10.77.0.2"), ipv4ToInt("10.77.0.12")]);
  const inner = decodeIpv4Header(d.inner);
  assertEquals([inner.src, inner.dst], [CLIENT, VIP]);
  assertEquals(d.outer.df, inner.df);
  assertEquals(d.outer.tos, inner.tos);
  assertEquals(d.outer.totalLength, inner.totalLength + 20);
  assert(tcpChecksumOk(d.inner));
});

Deno.test("golden ARP exchange: the client's who-has VIP and the director's user-space reply", () => {
  const req = load("arp_request_vip");
  const rep = load("arp_reply_vip");
  assertEquals(decodeEthernet(req).etherType, ETHERTYPE_ARP);
  const q = decodeArp(req, 14);
  const a = decodeArp(rep, 14);
  assertEquals([q.op, q.senderIp, q.targetIp], [ARP_REQUEST, CLIENT, VIP]);
  assertEquals([a.op, a.senderIp, a.targetIp], [ARP_REPLY, VIP, CLIENT]);
  assertEquals(formatMac(a.targetMac), formatMac(q.senderMac));
  assertEquals(formatMac(rep, 6), formatMac(a.senderMac));
  const g = decodeArp(load("gratuitous_arp_vip"), 14);
  assertEquals([g.op, g.senderIp, g.targetIp, formatMac(g.senderMac)], [ARP_REQUEST, VIP, VIP, formatMac(a.senderMac)]);
});

Deno.test("golden frag-needed: ICMP 3/4 from the director with MTU 1480 quoting the client's segment", () => {
  const f = load("icmp_frag_needed");
  const ip = decodeIpv4Header(f.subarray(14));
  assertEquals([ip.protocol, ip.src, ip.dst], [IPPROTO_ICMP, ipv4ToInt("10.77.0.2"), CLIENT]);
  const icmp = decodeIcmp(f.subarray(14 + ip.headerBytes, 14 + ip.totalLength));
  assertEquals([icmp.type, icmp.code, icmp.nextHopMtu], [ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, 1480]);
  const quoted = decodeIpv4Header(icmp.data, 0, { verifyChecksum: true });
  assertEquals([quoted.src, quoted.dst, quoted.df], [CLIENT, VIP, true]);
  assert(quoted.totalLength + 20 > 1500);
});
