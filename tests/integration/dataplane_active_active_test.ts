/**
 * Director HA active-active (`director.ha.mode: active-active`) over real TCP in network namespaces with the
 * bundle. One bridge holds a router (10.77.0.1), two clients, three DR directors (d1 .2, d2 .3, d3 .4) and
 * three caches. The clients route the VIP via the router; the router (ip_forward, no redirects, L4 multipath
 * hash `fib_multipath_hash_policy=1`) routes it with `nexthop via d1 nexthop via d2 ...` to the directors.
 * Every director runs service VIP:80 with scheduler mh and lists the caches in its own order (the table
 * depends on the set of servers only; `lb/scheduler/mh_test.ts` checks that slot by slot).
 *
 * - No director answers ARP for the VIP (a probe host with an on-link route to the VIP gets no entry).
 * - Keep-alive sessions from both clients and two rate-limited 4 MiB downloads run while d3 joins the route
 *   and d1 leaves it (route replaced, then d1 stopped): every session's next request reaches its cache, every
 *   download gets all its bytes, no cache sends an RST to a client, and d2/d3 forwarded packets of flows
 *   that began on another director (mid-flow packets scheduled by the table instead of dropped).
 *
 * Every namespace is removed in `finally`.
 */
import { assert, assertEquals } from "../_assert.ts";
import { requires } from "../_requires.ts";
import type { Host } from "./_topology.ts";
import {
  buildLab,
  capture,
  destroyLab,
  FAST_HEALTH,
  keepAlive,
  type Lab,
  type Proc,
  startCache,
  startDirector,
  stopProc,
  VIP,
} from "./_dataplane_lab.ts";

const ROUTER_IP = "10.77.0.1";

type Conn = ReturnType<typeof keepAlive> & { cache: string };
type Director = Proc & { host: Host; name: string };

async function startAa(lab: Lab, host: Host, name: string, order: number[]): Promise<Director> {
  const section = {
    interface: "eth0",
    ha: { mode: "active-active" },
    services: [{
      vip: VIP,
      port: 80,
      method: "dr",
      scheduler: "mh",
      health: FAST_HEALTH,
      reals: order.map((i) => ({ address: lab.caches[i].ip })),
    }],
  };
  const p = await startDirector({ ...lab, director: host }, section, { cluster: { nodeName: name } });
  return { ...p, host, name };
}

async function sysctl(lab: Lab, ns: string, kv: string): Promise<void> {
  await lab.topo.exec(ns, ["sysctl", "-qw", kv]);
}

/** Points the router's VIP route at these directors (ECMP). */
async function routeTo(lab: Lab, router: Host, directors: Host[]): Promise<void> {
  const hops = directors.flatMap((d) => ["nexthop", "via", d.ip, "dev", "eth0"]);
  await lab.topo.exec(router.ns, ["ip", "route", "replace", `${VIP}/32`, ...hops]);
}

/** IP packets a director forwarded for the VIP service so far (user space and fast path). */
async function forwarded(lab: Lab, d: Director): Promise<number> {
  const r = await lab.topo.exec(d.host.ns, ["curl", "-s", "http://127.0.0.1:9090/director/status"]);
  const st = JSON.parse(r.stdout);
  return st.services.reduce((n: number, s: { totals: { inPkts: number } }) => n + s.totals.inPkts, 0);
}

async function openConns(lab: Lab, clients: Host[], n: number): Promise<Conn[]> {
  const out: Conn[] = [];
  for (let i = 0; i < n; i++) {
    const c = keepAlive(lab, clients[i % clients.length]);
    const first = await c.request();
    const cache = first.split(" ")[0];
    assert(/^rs\d$/.test(cache), `session ${i}: ${first}`);
    out.push({ ...c, cache });
  }
  return out;
}

async function assertSameCaches(conns: Conn[], why: string): Promise<void> {
  const got: string[] = [];
  for (const c of conns) {
    const line = await c.request();
    got.push((line.startsWith("error") ? line.replaceAll("/", " ") : line.split(" ")[0]) + "/" + c.cache);
  }
  const moved = got.filter((g) => g.split("/")[0] !== g.split("/")[1]);
  assertEquals(moved, [], `${why}: sessions that lost their cache (got/expected): ${got.join(" ")}`);
}

function download(lab: Lab, host: Host): Promise<{ code: number; bytes: number }> {
  return lab.topo.exec(host.ns, [
    "curl",
    "-s",
    "-m",
    "40",
    "--limit-rate",
    "512K",
    "-o",
    "/dev/null",
    "-w",
    "%{size_download}",
    `http://${VIP}/big`,
  ], false).then((r) => ({ code: r.code, bytes: Number(r.stdout.trim()) }));
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

Deno.test({
  ...await requires("Director HA active-active: directors joining and leaving an ECMP route break no connection", {
    netns: true,
    commands: ["tcpdump", "curl"],
  }),
  async fn(t) {
    const lab = await buildLab("aa");
    const conns: Conn[] = [];
    try {
      const router = await lab.topo.addHost("rtr", ROUTER_IP);
      const d2Host = await lab.topo.addHost("dir2", "10.77.0.3");
      const d3Host = await lab.topo.addHost("dir3", "10.77.0.4");
      const probe = await lab.topo.addHost("probe", "10.77.0.30");
      // Four client addresses: mh picks a cache by source address.
      const clients = [
        lab.client,
        lab.client2,
        await lab.topo.addHost("cli3", "10.77.0.21", { txChecksumOffload: false }),
        await lab.topo.addHost("cli4", "10.77.0.22", { txChecksumOffload: false }),
      ];
      for (const k of ["all", "default", "eth0"]) await sysctl(lab, router.ns, `net.ipv4.conf.${k}.send_redirects=0`);
      await sysctl(lab, router.ns, "net.ipv4.ip_forward=1");
      await sysctl(lab, router.ns, "net.ipv4.fib_multipath_hash_policy=1");
      for (const c of clients) {
        await lab.topo.exec(c.ns, ["ip", "route", "add", `${VIP}/32`, "via", ROUTER_IP]);
      }
      for (const c of lab.caches) await startCache(lab, c, "dr");
      const d1 = await startAa(lab, lab.director, "d1", [0, 1, 2]);
      const d2 = await startAa(lab, d2Host, "d2", [2, 1, 0]);
      await routeTo(lab, router, [lab.director, d2Host]);

      await t.step("no director answers ARP for the VIP", async () => {
        await lab.topo.exec(probe.ns, ["ip", "route", "add", `${VIP}/32`, "dev", "eth0"]);
        // A connection attempt makes the probe's kernel ask ARP for the VIP (on-link route).
        const probeTry = await lab.topo.exec(probe.ns, ["curl", "-s", "-m", "2", `http://${VIP}/`], false);
        const neigh = (await lab.topo.exec(probe.ns, ["ip", "neigh", "show", VIP])).stdout;
        // The probe asked (an entry exists) and nobody answered (no MAC).
        assert(/INCOMPLETE|FAILED/.test(neigh), `no ARP attempt for the VIP: ${neigh} (curl exit ${probeTry.code})`);
        assert(!/lladdr/.test(neigh), `a director answered ARP for the VIP: ${neigh}`);
        const st = JSON.parse(
          (await lab.topo.exec(d2Host.ns, ["curl", "-s", "http://127.0.0.1:9090/director/status"]))
            .stdout,
        );
        assertEquals(st.activeActive, { group: "default", node: "d2" }, "director status shows active-active");
      });

      await t.step("sessions and downloads survive d3 joining and d1 leaving: no RST, every byte", async () => {
        conns.push(...await openConns(lab, clients, 16));
        const filter = `tcp[tcpflags] & tcp-rst != 0 and (${clients.map((c) => `dst host ${c.ip}`).join(" or ")})`;
        const caps = await Promise.all(lab.caches.map((c) => capture(lab, c, filter)));
        const downloads = [download(lab, lab.client), download(lab, lab.client2)];
        await sleep(1500);
        await assertSameCaches(conns, "before any change");

        const d3 = await startAa(lab, d3Host, "d3", [1, 0, 2]);
        await routeTo(lab, router, [lab.director, d2Host, d3Host]);
        await sleep(1500);
        await assertSameCaches(conns, "after d3 joined");

        const d1Packets = await forwarded(lab, d1);
        assert(d1Packets > 0, "d1 forwarded nothing: no flow to move");
        const before = { d2: await forwarded(lab, d2), d3: await forwarded(lab, d3) };
        await routeTo(lab, router, [d2Host, d3Host]);
        await sleep(500);
        await stopProc(lab, d1);
        await assertSameCaches(conns, "after d1 left");
        const results = await Promise.all(downloads);
        assertEquals(results, [{ code: 0, bytes: 4 << 20 }, { code: 0, bytes: 4 << 20 }], "downloads across changes");
        await assertSameCaches(conns, "at the end");
        const resets = (await Promise.all(caps.map((c) => c.stop()))).flat().filter((l) => l.includes(" > "));
        assertEquals(resets, [], "RSTs from caches to clients (wrong-cache packets)");
        await sleep(1200); // fast-path counters fold in once a second
        const after = { d2: await forwarded(lab, d2), d3: await forwarded(lab, d3) };
        console.log(`packets forwarded after d1 left: d2 ${after.d2 - before.d2}, d3 ${after.d3 - before.d3}`);
        // d1's flows (and the downloads' ACKs) now cross d2 and d3, which never saw their SYN.
        assert(after.d2 + after.d3 - before.d2 - before.d3 > 16, `d2/d3 took over: ${JSON.stringify(after)}`);
        await stopProc(lab, d3);
      });
      await stopProc(lab, d2);
    } finally {
      await Promise.all(conns.map((c) => c.close().catch(() => {})));
      await destroyLab(lab);
    }
  },
});
