/**
 * LVS/TUN through the user-space data plane and the user-space decapsulator (this kernel has no
 * ipip module), over real TCP in network namespaces: responses, a director that sees only
 * client-to-VIP packets and sends them IP-in-IP, path MTU by ICMP fragmentation-needed (DF) or
 * fragmentation of the outer packet (no DF), MSS
 * clamping on the caches, and clean-up of the decapsulator, sysctls and nftables table.
 */
import { assert, assertEquals, assertStringIncludes } from "../_assert.ts";
import {
  buildLab,
  cachesThroughVip,
  capture,
  curl,
  destroyLab,
  type Proc,
  startCache,
  startDirector,
  stopProc,
  VIP,
} from "./_dataplane_lab.ts";
import { requires } from "../_requires.ts";

const HEALTH = { type: "http", intervalMs: 500, timeoutMs: 400, fall: 2, rise: 1 };

Deno.test({
  ...await requires("TUN forwarding: responses, capture, frag-needed, fragmentation, MSS clamp and clean-up", {
    netns: true,
  }),
  async fn(t) {
    const lab = await buildLab();
    try {
      const [rs1, rs2, rs3] = lab.caches;
      const caches: Proc[] = [
        await startCache(lab, rs1, "tun", { ports: "80,83", noMssClamp: true }),
        await startCache(lab, rs2, "tun", { ports: "80,84" }),
        await startCache(lab, rs3, "tun", { ports: "80" }),
      ];
      await startDirector(lab, {
        interface: "eth0",
        services: [
          {
            vip: VIP,
            port: 80,
            method: "tun",
            scheduler: "rr",
            health: HEALTH,
            reals: lab.caches.map((c) => ({ address: c.ip })),
          },
          { vip: VIP, port: 83, method: "tun", scheduler: "rr", health: HEALTH, reals: [{ address: rs1.ip }] },
          { vip: VIP, port: 84, method: "tun", scheduler: "rr", health: HEALTH, reals: [{ address: rs2.ip }] },
        ],
      });

      await t.step("responses through the VIP come from every cache", async () => {
        const names = await cachesThroughVip(lab, 6);
        assertEquals(new Set(names), new Set(["rs1", "rs2", "rs3"]));
      });

      await t.step("the director sees client-to-VIP packets only and sends them IP-in-IP", async () => {
        const cap = await capture(lab, lab.director, `(tcp and not host ${lab.director.ip}) or ip proto 4`);
        // What leaves the director is seen where it arrives: the fast path on this veth hands frames to the
        // peer's receive path (bpf_redirect_peer), past the director's own capture.
        const atCaches = await Promise.all(lab.caches.map((c) => capture(lab, c, "ip proto 4")));
        for (let i = 0; i < 3; i++) assertEquals((await curl(lab, lab.client, `http://${VIP}/`)).code, 0);
        const lines = await cap.stop();
        const tcp = lines.filter((l) => /: Flags \[/.test(l));
        assert(tcp.length >= 3 * 5, `expected client-to-VIP packets, got ${tcp.length}`);
        for (const l of tcp) assertStringIncludes(l, `> ${VIP}.80:`, `not client-to-VIP: ${l}`);
        assertEquals(lines.filter((l) => l.includes(`${VIP}.80 >`)).length, 0, "a server-to-client packet");
        const arrived = (await Promise.all(atCaches.map((c) => c.stop()))).flat();
        const outer = arrived.filter((l) => l.includes("proto IPIP (4)"));
        assert(outer.length >= 3 * 5, `expected IP-in-IP packets, got ${outer.length}`);
        // tcpdump -v prints the outer addresses on their own line: director > cache, then the inner packet.
        const tunnel = arrived.filter((l) => /^\s+10\.77\.0\.2 > 10\.77\.0\.1[123]: IP /.test(l));
        assert(tunnel.length >= 3 * 5, arrived.slice(0, 8).join("\n"));
        const inner = arrived.filter((l) => /: Flags \[/.test(l));
        for (const l of inner) assertStringIncludes(l, `> ${VIP}.80:`, `not client-to-VIP inside: ${l}`);
        assertEquals(inner.filter((l) => l.includes("incorrect")).length, 0, "a bad inner checksum");
      });

      await t.step("an upload through a cache without MSS clamp gets ICMP frag-needed and completes", async () => {
        const r = await lab.topo.exec(lab.client.ns, [
          "sh",
          "-c",
          `head -c 2000000 /dev/zero > /tmp/wcdp_up.bin && curl -s -m 20 --data-binary @/tmp/wcdp_up.bin http://${VIP}:83/; rm -f /tmp/wcdp_up.bin`,
        ], false);
        assertEquals(r.stdout.trim(), `rs1 ${VIP}:83 2000000`);
        const route = await lab.topo.exec(lab.client.ns, ["ip", "route", "get", VIP]);
        assertStringIncludes(route.stdout, "mtu 1480");
      });

      await t.step("an upload without DF through a cache without MSS clamp is fragmented and completes", async () => {
        // client2 sends full-size segments without DF: the director fragments the outer packet (as IPVS lets
        // the IP layer do) instead of answering frag-needed, and rs1's kernel reassembles it.
        const c2 = lab.client2.ns;
        await lab.topo.exec(c2, ["sysctl", "-qw", "net.ipv4.ip_no_pmtu_disc=1"]);
        const cap = await capture(lab, lab.director, `ip proto 4 and (ip[6:2] & 0x3fff) != 0`);
        const r = await lab.topo.exec(c2, [
          "sh",
          "-c",
          `head -c 300000 /dev/zero > /tmp/wcdp_up2.bin && curl -s -m 20 --data-binary @/tmp/wcdp_up2.bin http://${VIP}:83/; rm -f /tmp/wcdp_up2.bin`,
        ], false);
        const frags = await cap.stop();
        assertEquals(r.stdout.trim(), `rs1 ${VIP}:83 300000`);
        assert(frags.filter((l) => l.includes("proto IPIP (4)")).length >= 20, frags.slice(0, 6).join("\n"));
        // Full-size client segments (1500 bytes) never fit once encapsulated, so they all crossed as fragments.
        assert(frags.some((l) => l.includes("flags [+]")), "no first fragment with MF");
        const route = await lab.topo.exec(c2, ["ip", "route", "get", VIP]);
        assertEquals(route.stdout.includes("mtu 1480"), false, route.stdout);
        const metrics = await lab.topo.exec(lab.director.ns, ["curl", "-s", "http://127.0.0.1:9090/metrics"], false);
        const packets = Number(
          /webcache_dataplane_tun_fragmented_total\{what="packets"\} (\d+)/.exec(metrics.stdout)?.[1],
        );
        assert(packets >= 150, `fragmented packets: ${packets}`);
      });

      await t.step("a cache with MSS clamp answers SYNs with MSS 1440", async () => {
        const cap = await capture(lab, lab.client, `tcp and src host ${VIP} and tcp[tcpflags] & tcp-syn != 0`);
        assertEquals((await curl(lab, lab.client, `http://${VIP}:84/`)).body, `rs2 ${VIP}:84 0`);
        const lines = (await cap.stop()).join("\n");
        assertStringIncludes(lines, "mss 1440");
      });

      await t.step("stopping a cache removes its TUN device, nft table and restores rp_filter", async () => {
        const ns = rs2.ns;
        assertStringIncludes((await lab.topo.exec(ns, ["ip", "link"])).stdout, "wctun0");
        await stopProc(lab, caches[1]);
        const report = JSON.parse(caches[1].out.lines.at(-1)!);
        // Whole packets were decapsulated in the kernel by the eBPF program, fragments by the user-space one.
        assertEquals(report.decap, "ebpf");
        assert(report.ebpf.packets >= 5, JSON.stringify(report.ebpf));
        assert(report.report.every((i: { ok: boolean }) => i.ok), JSON.stringify(report.report));
        assertEquals((await lab.topo.exec(ns, ["ip", "link"])).stdout.includes("wctun0"), false);
        assertEquals((await lab.topo.exec(ns, ["nft", "list", "tables"])).stdout.trim(), "");
        assertEquals((await lab.topo.exec(ns, ["sysctl", "-n", "net.ipv4.conf.all.arp_ignore"])).stdout.trim(), "0");
      });
    } finally {
      await destroyLab(lab);
    }
  },
});
