/**
 * The director in proxy mode (the bundle, as a process) in front of three HTTP backends standing
 * in for caches, all on loopback. Clients connect from distinct 127/8 source addresses.
 *
 * Tolerances: rr and wrr are exact (every connection counted, sequence known); wlc gives each backend
 * 15-60 % of its 1,200 connections (wlc balances load, not counts: a backend that answers more slowly holds more
 * active connections and rightly gets fewer new ones, and all three share one busy test process); sh, mh and persistence keep every connection of a client address on one backend,
 * and each backend gets at least 15 % of the clients (sh, mh: fixed addresses, deterministic) or
 * 30 % (persistence over rr: each new client's first connection is scheduled round robin, then its
 * template holds it, so the split of clients is even whatever the machine's load).
 */
import { assert, assertEquals, assertGreater, assertLess } from "../_assert.ts";
import { runWebcache, spawnWebcache } from "../_bin.ts";
import {
  type Backend,
  freePort,
  KeepAlive,
  pool,
  requestFrom,
  startBackend,
  startDirector,
  tally,
} from "./_director_harness.ts";

interface StatusServer {
  key: string;
  weight: number;
  up: boolean;
  activeConns: number;
  totals: { conns: number; inBytes: number; outBytes: number };
}
interface Status {
  services: { key: string; name: string; servers: StatusServer[] }[];
}

// A generous timeout: on a loaded machine a live backend must never look dead. A killed one refuses at once.
const HEALTH = "{ type: tcp, intervalMs: 200, timeoutMs: 2000, rise: 1, fall: 3 }";
/** fall × interval + timeout. */
const FAILOVER_BOUND_MS = 3 * 200 + 2000;

/** Ports where nothing listens (the sorry service's real servers) and the sorry backend, fixed per run. */
const sorry = { dead: [0, 0], port: 0 };

function config(admin: number, ports: Record<string, number>, b: Backend[], proxyBackend: number, extra = ""): string {
  const reals = (weights = [1, 1, 1]) =>
    "\n" + b.map((x, i) => `        - { address: 127.0.0.1, port: ${x.port}, weight: ${weights[i]} }`).join("\n");
  const svc = (name: string, sched: string, more = "", weights?: number[]) =>
    `    - name: ${name}\n      vip: 127.0.0.1\n      port: ${ports[name]}\n      scheduler: ${sched}\n` +
    `      health: ${HEALTH}\n${more}      reals:${reals(weights)}${name === "rr" ? extra : ""}\n`;
  return `admin: { listen: "127.0.0.1:${admin}" }
log: { level: warn }
director:
  proxy: { connectTimeoutMs: 1000, idleTimeoutMs: 30000 }
  services:
${svc("rr", "rr")}${svc("wrr", "wrr", "", [1, 2, 3])}${svc("wlc", "wlc")}${svc("sh", "sh")}${svc("mh", "mh")}${
    svc("persist", "rr", "      persistence: { timeoutS: 300, netmask: 32 }\n")
  }    - name: pp
      vip: 127.0.0.1
      port: ${ports.pp}
      scheduler: rr
      proxyProtocol: true
      health: { type: none }
      reals:
        - { address: 127.0.0.1, port: ${proxyBackend} }
    - name: sorry
      vip: 127.0.0.1
      port: ${ports.sorry}
      scheduler: wlc
      health: ${HEALTH}
      sorryServer: 127.0.0.1:${sorry.port}
      reals:
        - { address: 127.0.0.1, port: ${sorry.dead[0]} }
        - { address: 127.0.0.1, port: ${sorry.dead[1]} }
`;
}

/** A raw TCP backend that reads a PROXY v2 header and answers with the source address it carries. */
function proxyProtocolBackend(): { port: number; stop: () => Promise<void> } {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Promise<void>>();
  const loop = (async () => {
    for await (const c of l) {
      const p = (async () => {
        try {
          const buf = new Uint8Array(28);
          let n = 0;
          while (n < 28) {
            const r = await c.read(buf.subarray(n));
            if (r === null) break;
            n += r;
          }
          const sig = [...buf.subarray(0, 12)].map((x) => x.toString(16).padStart(2, "0")).join("");
          const src = n === 28 && sig === "0d0a0d0a000d0a515549540a" && buf[13] === 0x11
            ? `${buf[16]}.${buf[17]}.${buf[18]}.${buf[19]}:${(buf[24] << 8) | buf[25]}`
            : "bad-header";
          await c.write(new TextEncoder().encode(`HTTP/1.0 200 OK\r\n\r\n${src}\n`));
        } catch {
          // client went away
        } finally {
          c.close();
        }
      })();
      conns.add(p);
      p.finally(() => conns.delete(p));
    }
  })();
  return {
    port: (l.addr as Deno.NetAddr).port,
    stop: async () => {
      l.close();
      await loop.catch(() => {});
      await Promise.all([...conns]);
    },
  };
}

const addr = (block: number, i: number) => `127.${block}.${Math.floor(i / 250)}.${(i % 250) + 1}`;

Deno.test("director (proxy mode): schedulers spread 10,000 connections, persistence, failover, drain, reload", async (t) => {
  const backends = [startBackend("cache1"), startBackend("cache2"), startBackend("cache3")];
  const ppBackend = proxyProtocolBackend();
  const names = ["rr", "wrr", "wlc", "sh", "mh", "persist", "pp", "sorry"];
  const sorryBackend = startBackend("sorry");
  sorry.port = sorryBackend.port;
  sorry.dead = [freePort(), freePort()];
  const ports: Record<string, number> = Object.fromEntries(names.map((n) => [n, freePort()]));
  const adminPort = freePort();
  const admin = `127.0.0.1:${adminPort}`;
  const dir = await Deno.makeTempDir({ prefix: "wc-director-" });
  const file = `${dir}/appliance.yaml`;
  await Deno.writeTextFile(file, config(adminPort, ports, backends, ppBackend.port));
  const director = await startDirector(["--config", file], admin);
  const held: KeepAlive[] = [];
  let owners: string[] = [];
  try {
    await t.step("10,000 connections from many client addresses spread as each scheduler promises", async () => {
      const jobs: { svc: string; from: string }[] = [];
      for (let i = 0; i < 1800; i++) jobs.push({ svc: "rr", from: addr(11, i) });
      for (let i = 0; i < 1800; i++) jobs.push({ svc: "wrr", from: addr(12, i) });
      for (let i = 0; i < 1200; i++) jobs.push({ svc: "wlc", from: addr(13, i) });
      for (let i = 0; i < 1800; i++) jobs.push({ svc: "sh", from: addr(14, i % 300) });
      for (let i = 0; i < 1800; i++) jobs.push({ svc: "mh", from: addr(15, i % 300) });
      for (let i = 0; i < 1600; i++) jobs.push({ svc: "persist", from: addr(16, i % 200) });
      assertEquals(jobs.length, 10_000);
      const results = await pool(jobs, 64, (j) => requestFrom(j.from, ports[j.svc]));
      const by = (svc: string) => jobs.map((j, i) => [j, results[i]] as const).filter(([j]) => j.svc === svc);
      assertEquals(results.filter((r) => !r.startsWith("cache")).length, 0, "every connection answered");

      assertEquals(tally(by("rr").map(([, r]) => r)), { cache1: 600, cache2: 600, cache3: 600 });
      assertEquals(tally(by("wrr").map(([, r]) => r)), { cache1: 300, cache2: 600, cache3: 900 });
      const wlc = tally(by("wlc").map(([, r]) => r));
      for (const n of ["cache1", "cache2", "cache3"]) {
        assertGreater(wlc[n] ?? 0, 180, `wlc ${JSON.stringify(wlc)}`);
        assertLess(wlc[n] ?? 0, 720, `wlc ${JSON.stringify(wlc)}`);
      }
      for (const svc of ["sh", "mh", "persist"]) {
        const perClient = new Map<string, Set<string>>();
        for (const [j, r] of by(svc)) perClient.set(j.from, (perClient.get(j.from) ?? new Set()).add(r));
        for (const [client, set] of perClient) assertEquals(set.size, 1, `${svc}: ${client} saw ${[...set]}`);
        const clients = tally([...perClient.values()].map((s) => [...s][0]));
        for (const n of ["cache1", "cache2", "cache3"]) {
          assertGreater(
            clients[n] ?? 0,
            perClient.size * (svc === "persist" ? 0.3 : 0.15),
            `${svc} clients per backend ${JSON.stringify(clients)}`,
          );
        }
      }
      const st = await director.get<Status>("/director/status");
      const rr = st.services.find((s) => s.name === "rr")!;
      assertEquals(rr.servers.map((s) => s.totals.conns), [600, 600, 600]);
      assert(rr.servers.every((s) => s.totals.inBytes > 0 && s.totals.outBytes > 0), "bytes counted");
      const metrics = await (await fetch(`http://${admin}/metrics`)).text();
      const line = `webcache_director_connections_total{service="127.0.0.1:${ports.rr}",server="127.0.0.1:${
        backends[0].port
      }"} 600`;
      assert(metrics.includes(line), `metrics lack ${line}`);
    });

    await t.step("PROXY v2 header carries the real client address to the server", async () => {
      const got = await requestFrom("127.77.1.2", ports.pp);
      assert(/^127\.77\.1\.2:\d+$/.test(got), `backend saw ${got}`);
    });

    await t.step("the sorry server answers while every real server is down", async () => {
      const deadline = Date.now() + 10_000;
      let got = "";
      while (got !== "sorry") {
        assert(Date.now() < deadline, `no sorry server answer, last: "${got}"`);
        got = await requestFrom("127.78.0.1", ports.sorry);
        if (got !== "sorry") await new Promise((r) => setTimeout(r, 100));
      }
      const st = await director.get<Status>("/director/status");
      const svc = st.services.find((s) => s.name === "sorry")!;
      assertEquals(svc.servers.map((s) => s.up), [false, false, true]);
    });

    await t.step(
      "killing a backend moves new connections within the health-check bound and keeps the others",
      async () => {
        for (let i = 0; i < 3; i++) held.push(await KeepAlive.open(addr(20, i), ports.rr));
        owners = await Promise.all(held.map((k) => k.get()));
        assertEquals(new Set(owners).size, 3, `held connections on every backend: ${owners}`);
        const killedAt = Date.now();
        await backends[2].stop();
        let downAfter = -1;
        while (Date.now() - killedAt < 10_000) {
          const st = await director.get<Status>("/director/status");
          const s = st.services.find((x) => x.name === "rr")!.servers.find((x) =>
            x.key.endsWith(`:${backends[2].port}`)
          )!;
          if (!s.up) {
            downAfter = Date.now() - killedAt;
            break;
          }
          await new Promise((r) => setTimeout(r, 20));
        }
        assert(downAfter >= 0, "backend never marked down");
        // The bound plus scheduling slack on a loaded 2-core machine.
        assertLess(downAfter, FAILOVER_BOUND_MS + 1500, `marked down after ${downAfter} ms`);
        const after = await pool(
          Array.from({ length: 300 }, (_, i) => addr(21, i)),
          32,
          (a) => requestFrom(a, ports.rr),
        );
        assertEquals(tally(after), { cache1: 150, cache2: 150 });
        for (let i = 0; i < 3; i++) {
          if (owners[i] === "cache3") {
            continue;
          }
          assertEquals(await held[i].get(), owners[i], "established connection to a live backend survives");
        }
      },
    );

    await t.step("a drained backend gets nothing new; drain --wait reports its connections counting down", async () => {
      const onB2 = owners.indexOf("cache2");
      assert(onB2 >= 0, `a held connection on cache2: ${owners}`);
      // Close the held connection only once the CLI reported it (the CLI may start slowly on a busy machine).
      const child = await spawnWebcache([
        "director",
        "drain",
        `127.0.0.1:${backends[1].port}`,
        "--wait",
        "20",
        "--admin",
        admin,
      ]);
      let out = "";
      const dec = new TextDecoder();
      const errText = new Response(child.stderr).text();
      let closed = false;
      for await (const chunk of child.stdout) {
        out += dec.decode(chunk);
        if (!closed && out.includes("\n")) {
          closed = true;
          await held[onB2].close();
        }
      }
      const code = (await child.status).code;
      assertEquals(code, 0, await errText);
      const lines = out.trim().split("\n");
      assert(/^drained 127\.0\.0\.1:\d+: weight 0, active 1,/.test(lines[0]), out);
      assert(/active 0,/.test(lines[lines.length - 1]), out);
      const got = await pool(Array.from({ length: 300 }, (_, i) => addr(22, i)), 32, (a) => requestFrom(a, ports.wrr));
      assertEquals(tally(got), { cache1: 300 });
      const status = await runWebcache(["director", "status", "--admin", admin]);
      assertEquals(status.code, 0, status.stderr);
      assert(status.stdout.includes("TCP  127.0.0.1:" + ports.wrr + " wrr"), status.stdout);
    });

    await t.step("SIGHUP reload adds a server and keeps established connections", async () => {
      const b4 = startBackend("cache4");
      backends.push(b4);
      const extra = `\n        - { address: 127.0.0.1, port: ${b4.port}, weight: 1 }`;
      await Deno.writeTextFile(file, config(adminPort, ports, backends.slice(0, 3), ppBackend.port, extra));
      director.child.kill("SIGHUP");
      const deadline = Date.now() + 10_000;
      while (true) {
        const st = await director.get<Status>("/director/status");
        if (st.services.find((s) => s.name === "rr")!.servers.length === 4) break;
        assert(Date.now() < deadline, "reload not applied");
        await new Promise((r) => setTimeout(r, 50));
      }
      const keep = owners.indexOf("cache1");
      assertEquals(await held[keep].get(), "cache1", "held connection survives the reload");
      const got = tally(
        await pool(Array.from({ length: 90 }, (_, i) => addr(23, i)), 16, (a) => requestFrom(a, ports.rr)),
      );
      assertGreater(got.cache4 ?? 0, 0, JSON.stringify(got));
      assertEquals(got.cache3, undefined, "the dead backend stays out");
    });
  } finally {
    for (const k of held) await k.close();
    await director.stop();
    for (const b of backends) await b.stop().catch(() => {});
    await ppBackend.stop();
    await sorryBackend.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
