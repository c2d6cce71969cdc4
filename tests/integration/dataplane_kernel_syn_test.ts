/**
 * New connections scheduled in the kernel (issue 16 item 6) over real TCP in network namespaces with the
 * bundle: for a DR service with scheduler mh, the fast path's eBPF program picks the cache of a SYN from the
 * service's Maglev table and forwards it, and user space enters the connection afterwards from the kernel's
 * ring buffer. Each request is a new connection (curl), from two clients.
 *
 * - mh: every request is answered, each client always by the same cache, and the cache is the one user space
 *   itself picks for that client (new connections with the fast path off reach the same caches); the kernel
 *   scheduled every connection and forwarded its FIN, both recorded and applied to the table (metrics), the table
 *   counts every connection, and the user-space loop saw fewer than 0.5 frames per connection.
 * - sh (stateless, but not Maglev): the kernel schedules nothing (the metric stays 0).
 * - SYN_RECV: connections the kernel scheduled enter as SYN_RECV; one whose SYN stays alone (refused by the
 *   cache) goes with SYN_RECV's timeout, from the table and the kernel; an idle established one outlives that
 *   timeout (promoted to ESTABLISHED, counted active).
 * - Active counts: an established kernel-scheduled connection counts as active within about a second (looked at
 *   once after the kernel reported it), not at SYN_RECV's timeout.
 * - TUN with mh: the same, and every SYN arrives at the caches IP-in-IP from the director (the program
 *   encapsulates it, as user space does), at the cache user space picks.
 *
 * Every namespace is removed in `finally`.
 */
import { assert, assertEquals } from "../_assert.ts";
import { requires } from "../_requires.ts";
import type { Host } from "./_topology.ts";
import {
  buildLab,
  capture,
  curl,
  destroyLab,
  FAST_HEALTH,
  keepAlive,
  type Lab,
  startCache,
  startDirector,
  stopProc,
  VIP,
} from "./_dataplane_lab.ts";

function section(lab: Lab, scheduler: string, fastPath = "auto", method: "dr" | "tun" = "dr") {
  return {
    interface: "eth0",
    fastPath,
    maxConnections: 4096,
    services: [{
      vip: VIP,
      port: 80,
      method,
      scheduler,
      health: FAST_HEALTH,
      reals: lab.caches.map((c) => ({ address: c.ip })),
    }],
  };
}

async function metrics(lab: Lab) {
  const m = (await lab.topo.exec(lab.director.ns, ["curl", "-s", "http://127.0.0.1:9090/metrics"])).stdout;
  const get = (re: RegExp) => Number(re.exec(m)?.[1] ?? NaN);
  return {
    rx: get(/^webcache_dataplane_frames_total\{direction="rx"\} (\d+)/m),
    kernel: get(/^webcache_dataplane_kernel_scheduled_total\{result="ok"\} (\d+)/m),
    rejected: get(/^webcache_dataplane_kernel_scheduled_total\{result="rejected"\} (\d+)/m),
    ended: get(/^webcache_dataplane_kernel_scheduled_total\{result="ended"\} (\d+)/m),
  };
}

/** Connections the data plane made for the service (ipvsadm Conns: entered in its connection table). */
async function serviceConns(lab: Lab): Promise<number> {
  const r = await lab.topo.exec(lab.director.ns, ["curl", "-s", "http://127.0.0.1:9090/director/status"]);
  return JSON.parse(r.stdout).services[0].totals.conns;
}

/** `n` requests, each on a new connection, from `host`; the caches that answered, in order. */
async function newConnections(lab: Lab, host: Host, n: number): Promise<string[]> {
  const out: string[] = [];
  for (let i = 0; i < n; i++) {
    const r = await curl(lab, host, `http://${VIP}/`, ["-H", "Connection: close"]);
    assertEquals(r.code, 0, `request ${i} from ${host.name}: ${r.body}`);
    out.push(r.body.split(" ")[0]);
  }
  return out;
}

const settle = () => new Promise((r) => setTimeout(r, 1300)); // housekeeping folds counters once a second

Deno.test({
  ...await requires(
    "DR fast path: the kernel schedules new connections of an mh service, user space enters them after",
    { netns: true, commands: ["curl"] },
  ),
  async fn(t) {
    const lab = await buildLab("ks");
    try {
      for (const c of lab.caches) await startCache(lab, c, "dr");
      const N = 40;
      // The caches user space picks for each client (the kernel path off).
      let expected: string[] = [];
      await t.step("reference: user space alone (fastPath off) picks one cache per client", async () => {
        const d = await startDirector(lab, section(lab, "mh", "off"));
        try {
          expected = [(await newConnections(lab, lab.client, 3))[0], (await newConnections(lab, lab.client2, 3))[0]];
        } finally {
          await stopProc(lab, d);
        }
      });

      await t.step("mh: every SYN scheduled in the kernel, to the same caches, entered in the table", async () => {
        const d = await startDirector(lab, section(lab, "mh"));
        try {
          await settle();
          const m0 = await metrics(lab);
          const c0 = await serviceConns(lab);
          const a = await newConnections(lab, lab.client, N);
          const b = await newConnections(lab, lab.client2, N);
          assertEquals(new Set(a), new Set([expected[0]]), `client: ${a}`);
          assertEquals(new Set(b), new Set([expected[1]]), `client2: ${b}`);
          await settle();
          const m1 = await metrics(lab);
          const conns = await serviceConns(lab) - c0;
          const rxPerConn = (m1.rx - m0.rx) / (2 * N);
          console.log(
            `kernel-scheduled ${m1.kernel - m0.kernel} of ${2 * N} connections; user-space frames per connection ` +
              `${rxPerConn.toFixed(2)}; connections entered ${conns}`,
          );
          assertEquals(m1.kernel - m0.kernel, 2 * N, "connections scheduled in the kernel");
          assertEquals(m1.rejected, 0);
          assertEquals(m1.ended - m0.ended, 2 * N, "ends (FIN/RST) passed in the kernel and applied to the table");
          assertEquals(conns, 2 * N, "connections entered in the table");
          // The SYN and the client's FIN pass in the kernel too: (almost) nothing of these connections reaches the loop.
          assert(rxPerConn < 0.5, `user-space frames per connection ${rxPerConn}`);
        } finally {
          await stopProc(lab, d);
        }
      });

      await t.step("sh: SYNs keep the user-space path", async () => {
        const d = await startDirector(lab, section(lab, "sh"));
        try {
          await settle();
          const m0 = await metrics(lab);
          await newConnections(lab, lab.client, 10);
          await settle();
          const m1 = await metrics(lab);
          assertEquals(m1.kernel - m0.kernel, 0);
          assert((m1.rx - m0.rx) / 10 >= 2, `user-space frames per connection ${(m1.rx - m0.rx) / 10}`);
        } finally {
          await stopProc(lab, d);
        }
      });
    } finally {
      await destroyLab(lab);
    }
  },
});

Deno.test({
  ...await requires(
    "TUN fast path: the kernel schedules and encapsulates new connections of an mh service, user space enters them",
    { netns: true, commands: ["curl", "tcpdump"] },
  ),
  async fn(t) {
    const lab = await buildLab("kst");
    try {
      for (const c of lab.caches) await startCache(lab, c, "tun");
      const N = 30;
      let expected: string[] = [];
      await t.step("reference: user space alone (fastPath off) picks one cache per client", async () => {
        const d = await startDirector(lab, section(lab, "mh", "off", "tun"));
        try {
          expected = [(await newConnections(lab, lab.client, 3))[0], (await newConnections(lab, lab.client2, 3))[0]];
        } finally {
          await stopProc(lab, d);
        }
      });

      await t.step("mh: every SYN scheduled and encapsulated in the kernel, entered in the table", async () => {
        const d = await startDirector(lab, section(lab, "mh", "auto", "tun"));
        try {
          await settle();
          const m0 = await metrics(lab);
          const c0 = await serviceConns(lab);
          // SYNs (no ACK) inside IP-in-IP from the director, where they arrive (the director's own capture
          // does not see what its fast path hands to the veth peer): inner TCP flags at outer 20 + inner 20 + 13.
          const caps = await Promise.all(
            lab.caches.map((c) =>
              capture(lab, c, `ip proto 4 and src host ${lab.director.ip} and (ip[53] & 0x12) == 2`)
            ),
          );
          const a = await newConnections(lab, lab.client, N);
          const b = await newConnections(lab, lab.client2, N);
          const syns = (await Promise.all(caps.map((c) => c.stop()))).flat().filter((l) => l.includes(`> ${VIP}.80:`));
          assertEquals(new Set(a), new Set([expected[0]]), `client: ${a}`);
          assertEquals(new Set(b), new Set([expected[1]]), `client2: ${b}`);
          await settle();
          const m1 = await metrics(lab);
          const conns = await serviceConns(lab) - c0;
          const rxPerConn = (m1.rx - m0.rx) / (2 * N);
          console.log(
            `kernel-scheduled ${m1.kernel - m0.kernel} of ${2 * N} TUN connections; encapsulated SYNs seen ` +
              `${syns.length}; user-space frames per connection ${rxPerConn.toFixed(2)}; entered ${conns}`,
          );
          assertEquals(m1.kernel - m0.kernel, 2 * N, "connections scheduled in the kernel");
          assertEquals(m1.rejected, 0);
          assertEquals(m1.ended - m0.ended, 2 * N, "ends (FIN/RST) passed in the kernel and applied to the table");
          assertEquals(conns, 2 * N, "connections entered in the table");
          assertEquals(syns.length, 2 * N, `SYNs leaving IP-in-IP: ${syns.slice(0, 4).join(" | ")}`);
          assert(rxPerConn < 0.5, `user-space frames per connection ${rxPerConn}`);
        } finally {
          await stopProc(lab, d);
        }
      });
    } finally {
      await destroyLab(lab);
    }
  },
});

/** The real servers' active and inactive connection counts of service `i` (director status). */
async function activeInactive(lab: Lab, i: number): Promise<[number, number]> {
  const r = await lab.topo.exec(lab.director.ns, ["curl", "-s", "http://127.0.0.1:9090/director/status"]);
  const servers = JSON.parse(r.stdout).services[i].servers as { activeConns: number; inactConns: number }[];
  return [servers.reduce((a, s) => a + s.activeConns, 0), servers.reduce((a, s) => a + s.inactConns, 0)];
}

async function kernelFlows(lab: Lab): Promise<number> {
  const m = (await lab.topo.exec(lab.director.ns, ["curl", "-s", "http://127.0.0.1:9090/metrics"])).stdout;
  return Number(/^webcache_dataplane_fast_path_flows (\d+)/m.exec(m)?.[1] ?? NaN);
}

/**
 * Runs `fn` on a DR lab whose caches run and whose director serves the VIP's `ports` with mh (port 80 health
 * checked, others not), `maxConnections` 4096 and the given SYN_RECV timeout; stops and removes both afterwards.
 */
async function withMhDirector(
  prefix: string,
  o: { synRecvS: number; ports: number[] },
  fn: (lab: Lab) => Promise<void>,
): Promise<void> {
  const lab = await buildLab(prefix);
  try {
    for (const c of lab.caches) await startCache(lab, c, "dr");
    const d = await startDirector(lab, {
      interface: "eth0",
      maxConnections: 4096,
      timeouts: { synRecvS: o.synRecvS },
      services: o.ports.map((port) => ({
        vip: VIP,
        port,
        method: "dr",
        scheduler: "mh",
        health: port === 80 ? FAST_HEALTH : { type: "none" },
        reals: lab.caches.map((c) => ({ address: c.ip })),
      })),
    });
    try {
      await fn(lab);
    } finally {
      await stopProc(lab, d);
    }
  } finally {
    await destroyLab(lab);
  }
}

Deno.test({
  ...await requires(
    "DR fast path: kernel-scheduled connections start SYN_RECV; a lone SYN goes after its timeout, an idle one stays",
    { netns: true, commands: ["curl"] },
  ),
  async fn() {
    // Port 81: nobody listens on the caches, so each connection is its SYN alone (the cache answers RST).
    await withMhDirector("ksr", { synRecvS: 6, ports: [80, 81] }, async (lab) => {
      await settle();
      const idle = keepAlive(lab, lab.client, 80);
      try {
        assert((await idle.request()).startsWith("rs"), "first request on the kept-alive connection");
        for (let i = 0; i < 10; i++) {
          const r = await curl(lab, lab.client, `http://${VIP}:81/`);
          assertEquals(r.code, 7, `a refused connection (${i})`);
        }
        await settle();
        const m = await metrics(lab);
        assertEquals(m.kernel, 11, "all scheduled in the kernel");
        // The lone SYNs: SYN_RECV (inactive). The counts reach the status once per housekeeping pass (a second),
        // so they are polled, well inside SYN_RECV's timeout.
        let refused = await activeInactive(lab, 1);
        for (const until = Date.now() + 2500; refused[1] !== 10 && Date.now() < until;) {
          await new Promise((r) => setTimeout(r, 100));
          refused = await activeInactive(lab, 1);
        }
        assertEquals(refused[0], 0, "no refused connection counts as active");
        assertEquals(refused[1], 10, "refused connections in the table as SYN_RECV");
        const flowsBefore = await kernelFlows(lab);
        assert(flowsBefore >= 11, `kernel flows ${flowsBefore}`);
        // Past SYN_RECV's 6 s (and a housekeeping pass): the lone SYNs are gone from the table and the kernel; the idle connection is
        // ESTABLISHED (its ACK and request passed in the kernel), still in the table, still on its cache.
        await new Promise((r) => setTimeout(r, 7500));
        assertEquals(await activeInactive(lab, 1), [0, 0], "lone SYNs expired with SYN_RECV's timeout");
        assertEquals(await activeInactive(lab, 0), [1, 0], "the idle connection promoted, not expired");
        assertEquals(await kernelFlows(lab), flowsBefore - 10, "the lone SYNs' kernel flows removed");
        assert((await idle.request()).startsWith("rs"), "the idle connection still works");
      } finally {
        await idle.close();
      }
    });
  },
});

Deno.test({
  ...await requires(
    "DR fast path: a kernel-scheduled connection counts as active within about a second, not at SYN_RECV's timeout",
    { netns: true, commands: ["curl"] },
  ),
  async fn() {
    await withMhDirector("ksa", { synRecvS: 20, ports: [80] }, async (lab) => {
      await settle();
      const opened = Date.now();
      const idle = keepAlive(lab, lab.client, 80);
      try {
        assert((await idle.request()).startsWith("rs"), "first request on the kept-alive connection");
        let counts = await activeInactive(lab, 0);
        while (counts[0] !== 1 && Date.now() - opened < 15000) {
          await new Promise((r) => setTimeout(r, 100));
          counts = await activeInactive(lab, 0);
        }
        const promotedMs = Date.now() - opened;
        console.log(`kernel-scheduled connection counted active after ${promotedMs} ms`);
        assertEquals((await metrics(lab)).kernel, 1, "scheduled in the kernel");
        assertEquals(counts, [1, 0], "the kept-alive connection counts as active");
        assert(promotedMs < 6000, `counted active after ${promotedMs} ms (SYN_RECV's timeout is 20 s)`);
      } finally {
        await idle.close();
      }
    });
  },
});
