import { assert, assertEquals, assertThrows } from "../tests/_assert.ts";
import { ipv4ToInt } from "../core/addr.ts";
import { vipFilterProgram } from "../packet/bpf.ts";
import { ETHERTYPE_IPV4, writeEthernetHeader } from "../packet/ethernet.ts";
import { IPPROTO_TCP, writeIpv4Header } from "../packet/ipv4.ts";
import { decodeVnetHeader, VNET_HEADER_BYTES } from "../packet/vnet_header.ts";
import { interfaceInfo, interfaceMac } from "./interface_info.ts";
import { PacketBatch, PacketSocket, Poller } from "./packet_socket.ts";
import { missingNetCapabilities } from "./privileges.ts";
import { requires } from "../tests/_requires.ts";

const missingCaps = missingNetCapabilities();
const CAPS_MISSING = missingCaps.length ? `needs ${missingCaps.join(", ")}` : undefined;
// An address nothing else on this shared machine talks to.
const VIP = "127.77.0.100";

function tcpFrame(dstPort: number): Uint8Array {
  const f = new Uint8Array(54);
  writeEthernetHeader(f, 0, { dst: new Uint8Array(6), src: new Uint8Array(6), etherType: ETHERTYPE_IPV4 });
  writeIpv4Header(f, 14, {
    totalLength: 40,
    protocol: IPPROTO_TCP,
    src: ipv4ToInt("127.0.0.1"),
    dst: ipv4ToInt(VIP),
    df: true,
  });
  new DataView(f.buffer).setUint16(34, 40000);
  new DataView(f.buffer).setUint16(36, dstPort);
  f[46] = 0x50;
  f[47] = 0x10;
  return f;
}

function receiveAll(sock: PacketSocket, batch: PacketBatch): { ports: number[]; lengths: number[] } {
  const poller = new Poller([sock.fd]);
  const ports: number[] = [];
  const lengths: number[] = [];
  const deadline = Date.now() + 1000;
  while (Date.now() < deadline) {
    poller.wait(50);
    const n = batch.recv(sock);
    for (let i = 0; i < n; i++) {
      const base = batch.dataOffset(i) + (sock.vnetHeader ? VNET_HEADER_BYTES : 0);
      ports.push(batch.view.getUint16(base + 36));
      lengths.push(batch.lengths[i]);
    }
    if (n === 0 && ports.length > 0) break;
  }
  return { ports, lengths };
}

Deno.test("interfaceInfo() reads the loopback's index, MTU and address", () => {
  const lo = interfaceInfo("lo");
  assert(lo.index > 0);
  assertEquals(lo.address, ipv4ToInt("127.0.0.1"));
  assertEquals(interfaceMac("lo"), "00:00:00:00:00:00");
  assertThrows(() => interfaceInfo("wcdpnone0"), Error, "Cannot find interface");
  assertThrows(() => interfaceInfo(""), RangeError);
});

Deno.test({
  ...await requires("PacketSocket with a generated BPF filter receives only VIP:port frames from the kernel", {
    root: true,
    unless: CAPS_MISSING,
  }),
  fn() {
    const rx = PacketSocket.open("lo", {
      filter: vipFilterProgram([{ vip: ipv4ToInt(VIP), port: 7 }]),
      ignoreOutgoing: true,
      bufferBytes: 1 << 20,
    });
    const tx = PacketSocket.open("lo", { bufferBytes: 1 << 20 });
    try {
      for (const port of [8, 7, 9, 7]) assertEquals(tx.send(tcpFrame(port)), 54);
      const got = receiveAll(rx, new PacketBatch(16, 2048, 20));
      assertEquals(got.ports, [7, 7]);
    } finally {
      rx.close();
      tx.close();
    }
  },
});

Deno.test({
  ...await requires("PacketSocket with PACKET_VNET_HDR prefixes each frame with a virtio_net_hdr", {
    root: true,
    unless: CAPS_MISSING,
  }),
  fn() {
    const rx = PacketSocket.open("lo", {
      filter: vipFilterProgram([{ vip: ipv4ToInt(VIP), port: 11 }]),
      vnetHeader: true,
      ignoreOutgoing: true,
      bufferBytes: 1 << 20,
    });
    const tx = PacketSocket.open("lo", { bufferBytes: 1 << 20 });
    const batch = new PacketBatch(4, 2048);
    try {
      tx.send(tcpFrame(11));
      const got = receiveAll(rx, batch);
      assertEquals(got.ports, [11]);
      assertEquals(got.lengths, [VNET_HEADER_BYTES + 54]);
      assertEquals(decodeVnetHeader(batch.buffer, 0).gsoType, 0);
    } finally {
      rx.close();
      tx.close();
    }
  },
});

Deno.test({
  ...await requires("PacketBatch.flush() sends queued frames with one sendmmsg", { root: true, unless: CAPS_MISSING }),
  fn() {
    const rx = PacketSocket.open("lo", {
      filter: vipFilterProgram([{ vip: ipv4ToInt(VIP), port: 13 }]),
      ignoreOutgoing: true,
      bufferBytes: 1 << 20,
    });
    const tx = PacketSocket.open("lo", { bufferBytes: 1 << 20 });
    try {
      const out = new PacketBatch(8, 64);
      for (let i = 0; i < 5; i++) {
        out.buffer.set(tcpFrame(13), i * 64);
        assert(out.queue(i * 64, 54));
      }
      assertEquals(out.queued, 5);
      assertEquals(out.flush(tx), 5);
      assertEquals(out.queued, 0);
      assertEquals(receiveAll(rx, new PacketBatch(16, 2048)).ports, [13, 13, 13, 13, 13]);
    } finally {
      rx.close();
      tx.close();
    }
  },
});
