/**
 * LVS/TUN with the directors taken from membership: `webcache cache --forwarding tun` with cluster
 * peers and no `--director` accepts IP-in-IP only from the live director members (the tunnel source
 * each director advertises), in the kernel (eBPF at tcx ingress, its director map updated from
 * membership) and in user space. Over real TCP in network namespaces: responses through the VIP,
 * `decap: "ebpf"` with packets counted in the kernel, and crafted IP-in-IP datagrams (AF_PACKET,
 * `_ipip_sender.ts`) that reach the cache's UDP socket only when their outer source is a live
 * director: not before the director joins, not from the client, not after the director left; whole
 * packets in the kernel, fragmented ones (reassembled by the kernel) by the user-space decapsulator.
 */
import { assert, assertEquals, assertStringIncludes } from "../_assert.ts";
import { BUNDLE, DENO_FLAGS, ensureBundle } from "../_bin.ts";
import type { Host } from "./_topology.ts";
import {
  buildLab,
  curl,
  destroyLab,
  type Lab,
  Lines,
  type Proc,
  startDirector,
  stopProc,
  VIP,
} from "./_dataplane_lab.ts";
import { FAST, randomKey } from "./_cluster_harness.ts";
import { requires } from "../_requires.ts";

const HERE = new URL(".", import.meta.url).pathname;
const DENO = [Deno.execPath(), ...DENO_FLAGS.slice(1)];
const UDP_PORT = 5999;

function spawn(lab: Lab, ns: string, cmd: string[], out: "stdout" | "stderr" = "stdout"): Proc {
  const p = new Deno.Command("ip", {
    args: ["netns", "exec", ns, ...cmd],
    stdin: "null",
    stdout: out === "stdout" ? "piped" : "null",
    stderr: out === "stderr" ? "piped" : "null",
  }).spawn();
  const proc = { p, out: new Lines(out === "stdout" ? p.stdout : p.stderr) };
  lab.procs.push(proc);
  lab.topo.adopt(p);
  return proc;
}

interface RealServerStatus {
  decap: string;
  directors: string[] | "any";
  directorsFrom: string;
  ebpf?: { packets: number; bytes: number };
  userSpace?: { packets: number; dropSource: number };
}

async function realServerStatus(lab: Lab, host: Host): Promise<RealServerStatus> {
  const r = await lab.topo.exec(host.ns, ["curl", "-s", "-m", "3", "http://127.0.0.1:9090/status"], false);
  return JSON.parse(r.stdout).realServer;
}

async function waitStatus(
  lab: Lab,
  host: Host,
  pred: (s: RealServerStatus) => boolean,
  timeoutMs = 15_000,
): Promise<RealServerStatus> {
  let s: RealServerStatus | undefined;
  for (const end = Date.now() + timeoutMs; Date.now() < end;) {
    s = await realServerStatus(lab, host).catch(() => undefined);
    if (s && pred(s)) return s;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`realServer status never matched: ${JSON.stringify(s)}`);
}

/** Sends one IP-in-IP datagram from `from` (outer source = its address) to the cache's VIP:UDP_PORT. */
async function sendIpip(lab: Lab, from: Host, to: Host, payload: string, fragment = false): Promise<void> {
  const r = await lab.topo.exec(from.ns, [
    ...DENO,
    `${HERE}_ipip_sender.ts`,
    "eth0",
    to.mac,
    from.ip,
    to.ip,
    lab.client.ip,
    VIP,
    String(UDP_PORT),
    payload,
    ...(fragment ? ["fragment"] : []),
  ], false);
  assertEquals(r.stdout.trim(), "sent", r.stderr);
}

Deno.test({
  ...await requires("TUN cache with directors from membership: eBPF decapsulation for live directors only", {
    netns: true,
  }),
  async fn(t) {
    const lab = await buildLab("wr");
    try {
      await ensureBundle();
      const [rs1] = lab.caches;
      const { director, client } = lab;
      const origin = spawn(lab, rs1.ns, [...DENO, `${HERE}_name_server.ts`, "8080", "origin"]);
      await origin.out.waitFor((l) => l === "ready", 20_000);
      const udp = spawn(lab, rs1.ns, [...DENO, `${HERE}_udp_listener.ts`, String(UDP_PORT)]);
      await udp.out.waitFor((l) => l === "ready", 20_000);

      const cluster = { secretKey: randomKey(), ...FAST };
      const cacheCfg = await Deno.makeTempFile({ prefix: "wr-cache-", suffix: ".yaml" });
      lab.files.push(cacheCfg);
      await Deno.writeTextFile(
        cacheCfg,
        JSON.stringify({
          cluster: { ...cluster, nodeName: "rs1", gossipListen: `${rs1.ip}:7946`, peers: [`${director.ip}:7946`] },
          cache: { service: "web", listen: [{ address: "0.0.0.0:80" }] },
        }),
      );
      const cache = spawn(
        lab,
        rs1.ns,
        [...DENO, BUNDLE, "cache", "--workers", "1", "--config", cacheCfg, "--vip", VIP, "--forwarding", "tun"]
          .concat(["--origin", "http://127.0.0.1:8080"]),
        "stderr",
      );
      await cache.out.waitFor((l) => l.includes('"Cache started"'), 30_000);

      await t.step("before any director is known nothing is decapsulated", async () => {
        const s = await realServerStatus(lab, rs1);
        assertEquals([s.decap, s.directors, s.directorsFrom], ["ebpf", [], "membership"]);
        await sendIpip(lab, director, rs1, "before-join");
        await new Promise((r) => setTimeout(r, 500));
        assertEquals(udp.out.lines.includes("before-join"), false, udp.out.lines.join("|"));
        const after = await realServerStatus(lab, rs1);
        assertEquals(after.ebpf?.packets, 0);
        assert((after.userSpace?.dropSource ?? 0) >= 1, JSON.stringify(after));
      });

      const dir = await startDirector(lab, {
        interface: "eth0",
        services: [{ name: "web", vip: VIP, port: 80, method: "tun", fromMembership: true, health: { type: "none" } }],
      }, { cluster: { ...cluster, nodeName: "lb", gossipListen: `${director.ip}:7946`, peers: [`${rs1.ip}:7946`] } });

      await t.step("the director's tunnel source comes from its membership record", async () => {
        const s = await waitStatus(lab, rs1, (x) => Array.isArray(x.directors) && x.directors.length > 0);
        assertEquals([s.directors, s.directorsFrom], [[director.ip], "membership"]);
        const members = (await lab.topo.exec(rs1.ns, ["curl", "-s", "http://127.0.0.1:9090/members"])).stdout;
        assertStringIncludes(members, `"tunnel":"${director.ip}"`);
        const check = await lab.topo.exec(rs1.ns, [
          ...DENO,
          BUNDLE,
          "cache",
          "--check-vip",
          "--config",
          cacheCfg,
          "--vip",
          VIP,
          "--forwarding",
          "tun",
        ], false);
        assert(
          /ok\s+IP-in-IP outer sources allowed \(running cache\)\s+10\.77\.0\.2 \(membership\)/.test(check.stdout),
          check.stdout,
        );
      });

      await t.step("requests through the VIP are answered, decapsulated in the kernel", async () => {
        let r = { code: -1, body: "" };
        for (const end = Date.now() + 15_000; Date.now() < end;) {
          r = await curl(lab, client, `http://${VIP}/`);
          if (r.code === 0 && r.body.startsWith("origin")) break;
          await new Promise((res) => setTimeout(res, 300));
        }
        assert(r.code === 0 && r.body.startsWith("origin"), `curl through the VIP: ${JSON.stringify(r)}`);
        for (let i = 0; i < 5; i++) {
          const x = await curl(lab, client, `http://${VIP}/n${i}`);
          assert(x.code === 0 && x.body.startsWith("origin"), JSON.stringify(x));
        }
        const s = await realServerStatus(lab, rs1);
        assertEquals(s.decap, "ebpf");
        assert((s.ebpf?.packets ?? 0) >= 5 * 4, JSON.stringify(s));
      });

      await t.step(
        "IP-in-IP from a host that is not a director is not decapsulated; from the director it is",
        async () => {
          const before = await realServerStatus(lab, rs1);
          await sendIpip(lab, client, rs1, "from-client");
          await sendIpip(lab, director, rs1, "from-director");
          await udp.out.waitFor((l) => l === "from-director", 5000);
          await new Promise((r) => setTimeout(r, 300));
          assertEquals(udp.out.lines.includes("from-client"), false, udp.out.lines.join("|"));
          const after = await realServerStatus(lab, rs1);
          assertEquals(after.ebpf!.packets - before.ebpf!.packets >= 1, true);
          assert(after.userSpace!.dropSource > before.userSpace!.dropSource, JSON.stringify([before, after]));
        },
      );

      await t.step("fragmented IP-in-IP is decapsulated in user space for the director only", async () => {
        const before = await realServerStatus(lab, rs1);
        await sendIpip(lab, client, rs1, "fragments-from-client", true);
        await sendIpip(lab, director, rs1, "fragments-from-director", true);
        await udp.out.waitFor((l) => l === "fragments-from-director", 5000);
        await new Promise((r) => setTimeout(r, 300));
        assertEquals(udp.out.lines.includes("fragments-from-client"), false, udp.out.lines.join("|"));
        const after = await realServerStatus(lab, rs1);
        const diff = JSON.stringify([before, after]);
        assertEquals(after.userSpace!.packets - before.userSpace!.packets, 1, diff);
        assertEquals(after.userSpace!.dropSource - before.userSpace!.dropSource, 1, diff);
        assertEquals(after.ebpf!.packets, before.ebpf!.packets, diff);
      });

      await t.step("when the director leaves, its tunnel is closed again", async () => {
        await stopProc(lab, dir);
        await waitStatus(lab, rs1, (x) => Array.isArray(x.directors) && x.directors.length === 0);
        await sendIpip(lab, director, rs1, "after-leave");
        await new Promise((r) => setTimeout(r, 500));
        assertEquals(udp.out.lines.includes("after-leave"), false, udp.out.lines.join("|"));
      });
    } finally {
      await destroyLab(lab);
    }
  },
});
