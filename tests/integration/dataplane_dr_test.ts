/**
 * LVS/DR through the user-space data plane, over real TCP in network namespaces: correct
 * responses, a director that only ever sees client-to-VIP packets, persistence, a director
 * restart that keeps established flows, failover within the health-check bound while other
 * connections survive, the nftables VIP mode, and clean-up of every host change.
 */
import { assert, assertEquals, assertStringIncludes } from "../_assert.ts";
import { BUNDLE } from "../_bin.ts";
import {
  buildLab,
  cachesThroughVip,
  capture,
  curl,
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
import { requires } from "../_requires.ts";

const HEALTH = FAST_HEALTH;

function directorSection(lab: Lab, extra: Record<string, unknown> = {}) {
  const reals = lab.caches.map((c) => ({ address: c.ip }));
  return {
    interface: "eth0",
    services: [
      { vip: VIP, port: 80, method: "dr", scheduler: "rr", health: HEALTH, reals },
      { vip: VIP, port: 81, method: "dr", scheduler: "wlc", persistence: { timeoutS: 300 }, health: HEALTH, reals },
      { vip: VIP, port: 82, method: "dr", scheduler: "mh", health: HEALTH, reals },
    ],
    ...extra,
  };
}

Deno.test({
  ...await requires("DR forwarding: responses, capture, persistence, restart, failover, nft VIP mode and clean-up", {
    netns: true,
  }),
  async fn(t) {
    const lab = await buildLab();
    try {
      const caches: Proc[] = [];
      for (const c of lab.caches) caches.push(await startCache(lab, c, "dr", { ports: "80,81,82" }));
      let director = await startDirector(lab, directorSection(lab));

      await t.step("responses through the VIP come from every cache in turn (rr)", async () => {
        const names = await cachesThroughVip(lab, 6);
        assertEquals(new Set(names), new Set(["rs1", "rs2", "rs3"]));
      });

      await t.step("the director captures client-to-VIP packets only, no server-to-client packet", async () => {
        // Everything but the director's own health checks (from its address 10.77.0.2).
        const cap = await capture(lab, lab.director, `tcp and not host ${lab.director.ip}`);
        for (let i = 0; i < 3; i++) assertEquals((await curl(lab, lab.client, `http://${VIP}/`)).code, 0);
        const lines = (await cap.stop()).filter((l) => / > \d+\.\d+\.\d+\.\d+\.\d+: Flags/.test(l));
        assert(lines.length >= 3 * 5, `expected client packets, got ${lines.length}: ${lines.join("\n")}`);
        for (const l of lines) assertStringIncludes(l, `10.77.0.10.`, `not from the client: ${l}`);
        for (const l of lines) assertStringIncludes(l, `> ${VIP}.80:`, `not to the VIP: ${l}`);
        assertEquals(lines.filter((l) => l.includes(`${VIP}.80 >`)).length, 0);
      });

      await t.step("director status and metrics show the data plane's counters", async () => {
        // Frames through the user-space loop plus packets of established flows forwarded by the in-kernel
        // fast path (folded into the counters once a second).
        let m = { stdout: "" }, frames = 0;
        for (let i = 0; i < 30 && frames < 9 * 5; i++) {
          if (i) await new Promise((r) => setTimeout(r, 200));
          m = await lab.topo.exec(lab.director.ns, ["curl", "-s", "http://127.0.0.1:9090/metrics"]);
          const rx = /webcache_dataplane_frames_total\{direction="rx"\} (\d+)/.exec(m.stdout);
          const fast = /webcache_dataplane_fast_path_packets_total (\d+)/.exec(m.stdout);
          frames = Number(rx?.[1] ?? 0) + Number(fast?.[1] ?? 0);
        }
        assert(frames >= 9 * 5, `frames: ${frames}`);
        assertStringIncludes(m.stdout, 'webcache_dataplane_drops_total{reason="no_mac"}');
        // The director mirrors the Worker's counters once a second.
        let text = "";
        for (let i = 0; i < 30; i++) {
          const st = await lab.topo.exec(lab.director.ns, [
            Deno.execPath(),
            "run",
            "-A",
            "--unstable-kv",
            "--unstable-net",
            BUNDLE,
            "director",
            "status",
            "--stats",
          ]);
          text = st.stdout;
          const ok = lab.caches.every((c) => new RegExp(`-> ${c.ip.replaceAll(".", "\\.")}:80 +[1-9]`).test(text));
          if (ok) break;
          await new Promise((r) => setTimeout(r, 200));
        }
        for (const c of lab.caches) assert(new RegExp(`-> ${c.ip.replaceAll(".", "\\.")}:80 +[1-9]`).test(text), text);
      });

      await t.step("persistence keeps each client on one cache", async () => {
        for (const client of [lab.client, lab.client2]) {
          const names = new Set<string>();
          for (let i = 0; i < 5; i++) names.add((await curl(lab, client, `http://${VIP}:81/`)).body.split(" ")[0]);
          assertEquals(names.size, 1, `client ${client.ip} saw ${[...names]}`);
        }
      });

      await t.step("restarting the director keeps an established connection working", async () => {
        const conn = keepAlive(lab, lab.client, 82);
        const first = await conn.request();
        assert(/^rs\d$/.test(first.split(" ")[0]), first);
        await stopProc(lab, director);
        director = await startDirector(lab, directorSection(lab));
        const second = await conn.request();
        assertEquals(second.split(" ")[0], first.split(" ")[0]);
        await conn.close();
      });

      await t.step("killing a cache moves new connections within the health-check bound; others survive", async () => {
        // An established connection to a surviving cache (rs1 or rs2).
        let conn;
        for (let i = 0; i < 6; i++) {
          const c = keepAlive(lab, lab.client2, 80);
          const name = (await c.request()).split(" ")[0];
          if (name !== "rs3") {
            conn = { c, name };
            break;
          }
          await c.close();
        }
        assert(conn, "never got a connection to rs1 or rs2");
        await stopProc(lab, caches[2]);
        const killedAt = Date.now();
        // Bound: fall × interval + timeout = 900 ms; allow scheduling slack.
        await new Promise((r) => setTimeout(r, 2 * 300 + 300 + 700));
        const names = await cachesThroughVip(lab, 6, ` ${Date.now() - killedAt} ms after the kill`);
        assertEquals(new Set(names), new Set(["rs1", "rs2"]));
        assertEquals((await conn.c.request()).split(" ")[0], conn.name);
        await conn.c.close();
        caches[2] = await startCache(lab, lab.caches[2], "dr", { ports: "80,81,82" });
        // The next steps count on three healthy caches: wait until rs3 passes its rise checks.
        let back = false;
        for (let i = 0; i < 60 && !back; i++) {
          back = (await curl(lab, lab.client, `http://${VIP}/`)).body.startsWith("rs3");
          if (!back) await new Promise((r) => setTimeout(r, 200));
        }
        assert(back, "rs3 never came back after its restart");
      });

      await t.step("SIGHUP reload sets a weight to 0: no new connections there, established ones stay", async () => {
        const conn = keepAlive(lab, lab.client2, 80);
        const before = (await conn.request()).split(" ")[0];
        const section = directorSection(lab);
        const target = lab.caches.find((c) => c.name === before)!;
        for (const svc of section.services) {
          svc.reals = svc.reals.map((r) => r.address === target.ip ? { ...r, weight: 0 } : r) as typeof svc.reals;
        }
        await Deno.writeTextFile(director.file, JSON.stringify({ director: section }));
        director.p.kill("SIGHUP");
        await director.out.waitFor((l) => l.includes('"Director reloaded"'), 10_000);
        const names = new Set<string>();
        for (let i = 0; i < 6; i++) names.add((await curl(lab, lab.client, `http://${VIP}/`)).body.split(" ")[0]);
        assertEquals(names.has(before), false, `${before} still got new connections: ${[...names]}`);
        assertEquals(names.size, 2);
        assertEquals((await conn.request()).split(" ")[0], before);
        await conn.close();
      });

      await t.step("vipMode nft: VIP on the interface plus a prerouting drop rule, both removed on stop", async () => {
        await stopProc(lab, director);
        director = await startDirector(lab, directorSection(lab, { vipMode: "nft" }));
        const tables = await lab.topo.exec(lab.director.ns, ["nft", "list", "tables"]);
        assertStringIncludes(tables.stdout, "webcache_dp_eth0");
        const r = await curl(lab, lab.client, `http://${VIP}/`);
        assertEquals(r.code, 0);
        await stopProc(lab, director);
        assertEquals((await lab.topo.exec(lab.director.ns, ["nft", "list", "tables"])).stdout.trim(), "");
        const addrs = await lab.topo.exec(lab.director.ns, ["ip", "-4", "addr", "show", "dev", "eth0"]);
        assertEquals(addrs.stdout.includes(VIP), false);
      });

      await t.step("stopping a cache undoes its VIP and sysctls", async () => {
        const ns = lab.caches[0].ns;
        assertEquals((await lab.topo.exec(ns, ["sysctl", "-n", "net.ipv4.conf.all.arp_ignore"])).stdout.trim(), "1");
        await stopProc(lab, caches[0]);
        assertEquals((await lab.topo.exec(ns, ["sysctl", "-n", "net.ipv4.conf.all.arp_ignore"])).stdout.trim(), "0");
        assertEquals((await lab.topo.exec(ns, ["sysctl", "-n", "net.ipv4.conf.all.arp_announce"])).stdout.trim(), "0");
        assertEquals((await lab.topo.exec(ns, ["ip", "addr", "show", "dev", "lo"])).stdout.includes(VIP), false);
      });
    } finally {
      await destroyLab(lab);
    }
  },
});
