/**
 * `director.stateFile` over real TCP in network namespaces with the bundle: a DR director with the
 * rr scheduler (which, unlike sh/dh/mh, cannot re-derive a flow's server after a restart) and three
 * caches. Several long-lived keep-alive connections each learn which cache serves them; the
 * director is restarted (SIGTERM, then kill -9 after its periodic save), and every connection's next
 * request must reach the same cache (a wrong cache would answer RST). New connections are still
 * scheduled round-robin, and a damaged state file is ignored with a warning.
 */
import { assert, assertEquals, assertStringIncludes } from "../_assert.ts";
import { decodeConnState } from "../../lb/conn_state_codec.ts";
import {
  buildLab,
  cachesThroughVip,
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

type Conn = ReturnType<typeof keepAlive> & { cache: string };

function section(lab: Lab, stateFile: string) {
  return {
    interface: "eth0",
    stateFile,
    stateSaveIntervalMs: 1000,
    services: [{
      vip: VIP,
      port: 80,
      method: "dr",
      scheduler: "rr",
      health: HEALTH,
      reals: lab.caches.map((c) => ({ address: c.ip })),
    }],
  };
}

/** Opens `n` keep-alive connections (alternating clients) and records the cache of each. */
async function openConns(lab: Lab, n: number): Promise<Conn[]> {
  const out: Conn[] = [];
  for (let i = 0; i < n; i++) {
    const c = keepAlive(lab, i % 2 ? lab.client2 : lab.client, 80);
    const first = await c.request();
    const cache = first.split(" ")[0];
    assert(/^rs\d$/.test(cache), `connection ${i}: ${first}`);
    out.push({ ...c, cache });
  }
  return out;
}

/** Waits until the state file holds at least `n` ESTABLISHED flows to the VIP. */
async function waitForSaved(file: string, n: number): Promise<void> {
  let seen = -1;
  for (let i = 0; i < 100; i++) {
    try {
      const s = decodeConnState(await Deno.readFile(file));
      seen = s.conns.state.filter((st) => st === 1).length;
      if (seen >= n) return;
    } catch { /* not written yet */ }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`The state file never held ${n} established flows (last seen ${seen})`);
}

/** Each connection's next request, newest first (a fresh rr would place them differently). */
async function assertSameCaches(conns: Conn[]): Promise<void> {
  const got: string[] = [];
  for (const c of [...conns].reverse()) got.push((await c.request()).split(" ")[0] + "/" + c.cache);
  const moved = got.filter((g) => g.split("/")[0] !== g.split("/")[1]);
  assertEquals(moved, [], `connections that lost their cache (got/expected): ${got.join(" ")}`);
}

async function restoredLine(director: Proc): Promise<Record<string, number>> {
  const line = await director.out.waitFor((l) => l.includes('"Restored the saved connection state"'), 10_000);
  return JSON.parse(line);
}

Deno.test({
  ...await requires("DR director restart with rr: established flows stay on their caches (SIGTERM and kill -9)", {
    netns: true,
  }),
  async fn(t) {
    const lab = await buildLab("ds");
    const dir = await Deno.makeTempDir({ prefix: "ds-state-" });
    lab.files.push(dir);
    const stateFile = `${dir}/director.state`;
    const conns: Conn[] = [];
    try {
      for (const c of lab.caches) await startCache(lab, c, "dr");
      let director = await startDirector(lab, section(lab, stateFile));
      conns.push(...await openConns(lab, 6));
      assertEquals(new Set(conns.map((c) => c.cache)).size, 3, `rr spread: ${conns.map((c) => c.cache)}`);

      await t.step("SIGTERM: the director saves at stop, the new one restores before forwarding", async () => {
        await stopProc(lab, director);
        assert(director.out.lines.some((l) => l.includes('"Saving the connection state"')), "no save at stop");
        director = await startDirector(lab, section(lab, stateFile));
        const r = await restoredLine(director);
        assertEquals(r.conns, 6, JSON.stringify(r));
        assertEquals(r.unknownServer, 0);
        await assertSameCaches(conns);
        const m = (await lab.topo.exec(lab.director.ns, ["curl", "-s", "http://127.0.0.1:9090/metrics"])).stdout;
        assertStringIncludes(m, 'webcache_director_state_restored_total{result="connection"} 6');
        assertStringIncludes(m, 'webcache_director_state_restored_total{result="unknown-server"} 0');
      });

      await t.step("new connections after the restart are still spread round-robin", async () => {
        const names = await cachesThroughVip(lab, 6);
        assertEquals(new Set(names), new Set(["rs1", "rs2", "rs3"]));
      });

      await t.step("kill -9: the periodic save keeps every flow older than one save interval", async () => {
        conns.push(...await openConns(lab, 4));
        await waitForSaved(stateFile, conns.length);
        director.p.kill("SIGKILL");
        await director.p.status;
        director = await startDirector(lab, section(lab, stateFile));
        const r = await restoredLine(director);
        assert(r.conns >= conns.length, JSON.stringify(r));
        await assertSameCaches(conns);
        // The new director saves on its own once its table changes: the file is newer than the restart. A new
        // connection changes it (the restored flows' packets bypass the table in the kernel's DR fast path).
        const before = Date.now() / 1000;
        assertEquals((await curl(lab, lab.client, `http://${VIP}/`)).code, 0);
        let saved = 0;
        for (let i = 0; i < 40 && saved < before; i++) {
          await new Promise((r) => setTimeout(r, 100));
          const m = (await lab.topo.exec(lab.director.ns, ["curl", "-s", "http://127.0.0.1:9090/metrics"])).stdout;
          saved = Number(/webcache_director_state_last_save_timestamp_seconds ([\d.e+]+)/.exec(m)?.[1] ?? 0);
        }
        assert(saved >= before - 1, `no save since the restart (last ${saved}, restart ${before})`);
      });

      await t.step("a damaged state file is ignored with a warning; the director forwards new flows", async () => {
        await stopProc(lab, director);
        const bytes = await Deno.readFile(stateFile);
        bytes[bytes.length >> 1] ^= 0xff;
        await Deno.writeFile(stateFile, bytes);
        director = await startDirector(lab, section(lab, stateFile));
        const warn = await director.out.waitFor((l) => l.includes('"Ignoring the saved connection state'), 10_000);
        assertStringIncludes(warn, "checksum");
        assertStringIncludes(warn, stateFile);
        assertEquals((await curl(lab, lab.client, `http://${VIP}/`)).code, 0);
        await stopProc(lab, director);
      });
    } finally {
      await Promise.all(conns.map((c) => c.close().catch(() => {})));
      await destroyLab(lab);
    }
  },
});
