/**
 * The in-kernel DR fast path (`director.fastPath`) over real TCP in network namespaces with the
 * bundle: established flows are forwarded by the eBPF program at tcx ingress of the director's
 * interface and never reach the user-space loop (which also shows that the loop's ETH_P_IP packet
 * socket is served after tcx ingress); an active connection outlives its established timeout
 * because the kernel's last-seen time extends it, while an idle one still expires; a restart with
 * the state file re-installs established flows; kill -9 leaves no program behind; without CAP_BPF
 * the director logs why and forwards in user space; and with `fastPath: off` every packet takes
 * the user-space loop as before. TUN flows are encapsulated by the same program.
 */
import { assert, assertEquals, assertStringIncludes } from "../_assert.ts";
import { BUNDLE } from "../_bin.ts";
import {
  buildLab,
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

const ROOT = new URL("../../", import.meta.url).pathname;

function section(lab: Lab, extra: Record<string, unknown> = {}) {
  return {
    interface: "eth0",
    services: [{
      vip: VIP,
      port: 80,
      method: "dr",
      scheduler: "rr",
      health: FAST_HEALTH,
      reals: lab.caches.map((c) => ({ address: c.ip })),
    }],
    ...extra,
  };
}

interface Counters {
  /** Frames the user-space loop received. */
  rx: number;
  /** Packets forwarded in the kernel. */
  fast: number;
  /** Flows installed now. */
  flows: number;
  /** Installs so far. */
  installs: number;
  active: number;
}

async function counters(lab: Lab): Promise<Counters> {
  const m = (await lab.topo.exec(lab.director.ns, ["curl", "-s", "http://127.0.0.1:9090/metrics"])).stdout;
  const get = (re: RegExp) => Number(re.exec(m)?.[1] ?? NaN);
  return {
    rx: get(/^webcache_dataplane_frames_total\{direction="rx"\} (\d+)/m),
    fast: get(/^webcache_dataplane_fast_path_packets_total (\d+)/m),
    flows: get(/^webcache_dataplane_fast_path_flows (\d+)/m),
    installs: get(/^webcache_dataplane_fast_path_installs_total\{result="ok"\} (\d+)/m),
    active: get(/^webcache_dataplane_fast_path_active (\d+)/m),
  };
}

/** Waits past the Worker's once-a-second housekeeping, which folds the kernel's counters in. */
const folded = () => new Promise((r) => setTimeout(r, 1300));

async function statusStats(lab: Lab): Promise<string> {
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
  return st.stdout;
}

/** Programs at tcx ingress of the director's eth0, counted with BPF_PROG_QUERY in its namespace. */
async function tcxPrograms(lab: Lab): Promise<number> {
  const code = `import { tcxIngressProgramCount } from "${ROOT}netctl/ebpf.ts";
import { interfaceInfo } from "${ROOT}netctl/interface_info.ts";
console.log(tcxIngressProgramCount(interfaceInfo("eth0").index));`;
  const r = await lab.topo.exec(lab.director.ns, [Deno.execPath(), "eval", code]);
  return Number(r.stdout.trim());
}

/** Sends `n` requests on a keep-alive connection; returns the caches that answered. */
async function requests(conn: ReturnType<typeof keepAlive>, n: number, gapMs = 0): Promise<Set<string>> {
  const names = new Set<string>();
  for (let i = 0; i < n; i++) {
    if (gapMs) await new Promise((r) => setTimeout(r, gapMs));
    names.add((await conn.request()).split(" ")[0]);
  }
  return names;
}

/**
 * Opens a keep-alive connection through the VIP and checks that, once established, 20 requests
 * on it are forwarded in the kernel: the flow is installed, the fast-path counter rises by at least
 * 20 and the user-space loop sees at most 2 frames (redirected at tcx ingress, they never reach
 * its ETH_P_IP socket, which is served after tcx). Returns the cache that answered.
 */
async function kernelForwards(lab: Lab, conns: ReturnType<typeof keepAlive>[]): Promise<string> {
  const conn = keepAlive(lab, lab.client, 80);
  conns.push(conn);
  const first = (await conn.request()).split(" ")[0];
  assert(/^rs\d$/.test(first), first);
  await folded();
  const c0 = await counters(lab);
  assertEquals(c0.active, 1);
  assertEquals(c0.flows, 1);
  assertEquals(await requests(conn, 20), new Set([first]));
  await folded();
  const c1 = await counters(lab);
  assert(c1.fast - c0.fast >= 20, `kernel packets: ${c0.fast} → ${c1.fast}`);
  assert(c1.rx - c0.rx <= 2, `user-space frames: ${c0.rx} → ${c1.rx}`);
  return first;
}

Deno.test({
  ...await requires(
    "DR fast path: kernel forwarding of established flows, timeouts, restart, kill -9, fallback and off",
    { netns: true },
  ),
  async fn(t) {
    const lab = await buildLab("wffp");
    const dir = await Deno.makeTempDir({ prefix: "wffp-state-" });
    lab.files.push(dir);
    const stateFile = `${dir}/director.state`;
    const conns: ReturnType<typeof keepAlive>[] = [];
    try {
      for (const c of lab.caches) await startCache(lab, c, "dr");
      let director: Proc = await startDirector(lab, section(lab, { timeouts: { establishedS: 3 } }));

      await t.step("an established flow's packets bypass the user-space loop; status says so", async () => {
        const first = await kernelForwards(lab, conns);
        const text = await statusStats(lab);
        assertStringIncludes(text, "Data plane: fast path active");
        const target = lab.caches.find((c) => c.name === first)!;
        const inPkts = new RegExp(`-> ${target.ip.replaceAll(".", "\\.")}:80 +\\d+ +(\\d+)`).exec(text);
        assert(inPkts && Number(inPkts[1]) >= 22, `InPkts of ${first} must include the kernel's: ${text}`);
      });

      await t.step("an active connection outlives its established timeout (3 s); an idle one expires", async () => {
        const conn = conns[0];
        const c0 = await counters(lab);
        const before = (await conn.request()).split(" ")[0];
        // 6 s of requests every 500 ms: only the kernel sees them, its last-seen time keeps the entry.
        assertEquals(await requests(conn, 12, 500), new Set([before]));
        await folded();
        const c1 = await counters(lab);
        assertEquals(c1.installs, c0.installs, "the flow was expired and scheduled again");
        assertEquals(c1.flows, 1);
        assert(c1.rx - c0.rx <= 2, `user-space frames: ${c0.rx} → ${c1.rx}`);
        // Idle past the timeout: the entry expires as in LVS and leaves the kernel's flow table.
        let flows = 1;
        for (let i = 0; i < 40 && flows !== 0; i++) {
          await new Promise((r) => setTimeout(r, 200));
          flows = (await counters(lab)).flows;
        }
        assertEquals(flows, 0);
        await conn.close();
        conns.length = 0;
      });

      await t.step("a restart with the state file re-installs established flows in the kernel", async () => {
        const cfg = section(lab, { stateFile, stateSaveIntervalMs: 1000 });
        await stopProc(lab, director);
        director = await startDirector(lab, cfg);
        const conn = keepAlive(lab, lab.client2, 80);
        conns.push(conn);
        const first = (await conn.request()).split(" ")[0];
        await stopProc(lab, director);
        director = await startDirector(lab, cfg);
        await director.out.waitFor((l) => l.includes('"Restored the saved connection state"'), 10_000);
        // The first request may wait for the real server's MAC; after it the slot is valid.
        assertEquals(await requests(conn, 1), new Set([first]));
        await folded();
        const c0 = await counters(lab);
        assertEquals(c0.flows, 1);
        assertEquals(c0.installs, 1); // from the restore, not from a new schedule
        assertEquals(await requests(conn, 10), new Set([first]));
        await folded();
        const c1 = await counters(lab);
        assert(c1.fast - c0.fast >= 10, `kernel packets: ${c0.fast} → ${c1.fast}`);
        assert(c1.rx - c0.rx <= 2, `user-space frames: ${c0.rx} → ${c1.rx}`);
      });

      await t.step("kill -9 of the director leaves no program at tcx ingress", async () => {
        assertEquals(await tcxPrograms(lab), 1);
        director.p.kill("SIGKILL");
        await director.p.status;
        assertEquals(await tcxPrograms(lab), 0);
      });

      await t.step("fastPath auto without CAP_BPF: the director logs why and forwards in user space", async () => {
        director = await startDirector(lab, section(lab), {}, {
          wrap: ["setpriv", "--inh-caps=-all", "--bounding-set=-bpf,-sys_admin,-perfmon"],
        });
        const warn = await director.out.waitFor((l) => l.includes('"DR fast path unavailable'), 10_000);
        assertStringIncludes(warn, "BPF");
        const conn = conns.at(-1)!;
        const first = (await conn.request()).split(" ")[0]; // sloppy: rescheduled without state
        const c0 = await counters(lab);
        assertEquals(c0.active, 0);
        assertEquals(await requests(conn, 10), new Set([first]));
        const c1 = await counters(lab);
        assert(c1.rx - c0.rx >= 10, `user-space frames: ${c0.rx} → ${c1.rx}`);
        assertEquals(await tcxPrograms(lab), 0, "programs");
        assertStringIncludes(await statusStats(lab), "Data plane: fast path unavailable");
        await stopProc(lab, director);
      });

      await t.step("fastPath off: every packet takes the user-space loop, as before", async () => {
        director = await startDirector(lab, section(lab, { fastPath: "off" }));
        const conn = conns.at(-1)!;
        const first = (await conn.request()).split(" ")[0]; // sloppy: rescheduled without state
        const c0 = await counters(lab);
        assertEquals(c0.active, 0, director.out.lines.join("\n"));
        assertEquals(await requests(conn, 10), new Set([first]));
        const c1 = await counters(lab);
        assert(c1.rx - c0.rx >= 10, `user-space frames: ${c0.rx} → ${c1.rx}`);
        assertEquals(c1.fast, 0, "kernel packets");
        assertEquals(await tcxPrograms(lab), 0, "programs");
        assertStringIncludes(await statusStats(lab), "Data plane: fast path off");
        await stopProc(lab, director);
      });
    } finally {
      await Promise.all(conns.map((c) => c.close().catch(() => {})));
      await destroyLab(lab);
    }
  },
});

Deno.test({
  ...await requires(
    "TUN fast path: established flows are encapsulated in the kernel (oversize packets: dataplane_tun_test.ts)",
    { netns: true },
  ),
  async fn() {
    const lab = await buildLab("wffq");
    const conns: ReturnType<typeof keepAlive>[] = [];
    try {
      for (const c of lab.caches) await startCache(lab, c, "tun");
      const cfg = section(lab);
      cfg.services[0].method = "tun";
      await startDirector(lab, cfg);
      await kernelForwards(lab, conns);
    } finally {
      await Promise.all(conns.map((c) => c.close().catch(() => {})));
      await destroyLab(lab);
    }
  },
});
