/**
 * Rolling restart through a DR director, in network namespaces (root): three `webcache cache
 * --forwarding dr` real servers joined through gossip, a director forwarding the VIP by DR with the
 * default HTTP health check (the caches' own health endpoint), and a continuous keep-alive load
 * from a client namespace while each cache is restarted in turn with SIGTERM: 0 failed requests.
 */
import { assert, assertEquals } from "../_assert.ts";
import { BUNDLE, DENO_FLAGS, ensureBundle } from "../_bin.ts";
import { requires } from "../_requires.ts";
import { FAST, randomKey } from "./_cluster_harness.ts";
import { buildLab, destroyLab, type Lab, Lines, startDirector, VIP } from "./_dataplane_lab.ts";
import type { Host } from "./_topology.ts";

const HERE = new URL(".", import.meta.url).pathname;
const DENO = [Deno.execPath(), "run", "-A", "--unstable-kv", "--unstable-net"];

function spawnIn(lab: Lab, ns: string, args: string[], opts: { stdin?: boolean; stdout?: boolean } = {}) {
  const p = new Deno.Command("ip", {
    args: ["netns", "exec", ns, ...args],
    stdin: opts.stdin ? "piped" : "null",
    stdout: opts.stdout ? "piped" : "null",
    stderr: "piped",
  }).spawn();
  lab.topo.adopt(p);
  return p;
}

interface RunningCache {
  p: Deno.ChildProcess;
  err: Lines;
}

async function startDrCache(lab: Lab, host: Host, file: string): Promise<RunningCache> {
  const p = spawnIn(lab, host.ns, [
    Deno.execPath(),
    ...DENO_FLAGS.slice(1),
    BUNDLE,
    "cache",
    "--config",
    file,
    "--vip",
    VIP,
    "--forwarding",
    "dr",
  ]);
  const err = new Lines(p.stderr);
  await err.waitFor((l) => l.includes('"Cache started"'), 30_000);
  return { p, err };
}

type Server = { address: string; up: boolean; weight: number };

async function servers(lab: Lab): Promise<Server[]> {
  const r = await lab.topo.exec(lab.director.ns, ["curl", "-s", "-m", "2", "http://127.0.0.1:9090/director/status"]);
  const st = JSON.parse(r.stdout) as { services: { servers: (Server & { sorry: boolean; removed: boolean })[] }[] };
  return st.services.flatMap((s) => s.servers).filter((s) => !s.sorry && !s.removed);
}

async function waitServers(lab: Lab, ok: (s: Server[]) => boolean, what: string): Promise<void> {
  let last: unknown;
  for (const end = Date.now() + 30_000; Date.now() < end;) {
    try {
      const s = await servers(lab);
      last = s;
      if (ok(s)) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`Timed out waiting for ${what}: ${JSON.stringify(last)}`);
}

Deno.test({
  ...await requires("rolling restart of 3 DR caches under continuous load through the VIP: 0 failed requests", {
    netns: true,
    commands: ["curl"],
  }),
  async fn() {
    await ensureBundle();
    const lab = await buildLab("wcops");
    try {
      const key = randomKey();
      const cluster = { secretKey: key, ...FAST };
      // The origin, on the second client's address.
      const originCode = `Deno.serve({ hostname: "0.0.0.0", port: 8080, onListen() { console.log("ready"); } },
        async (req) => { await new Promise((r) => setTimeout(r, 200));
          return new Response("body of " + new URL(req.url).pathname, { headers: { "cache-control": "max-age=1" } }); });`;
      const origin = spawnIn(lab, lab.client2.ns, [Deno.execPath(), "eval", originCode], { stdout: true });
      await new Lines(origin.stdout).waitFor((l) => l === "ready", 20_000);

      await startDirector(lab, {
        interface: "eth0",
        services: [{
          name: "web",
          vip: VIP,
          port: 80,
          method: "dr",
          scheduler: "rr",
          fromMembership: true,
          health: { type: "http", intervalMs: 300, timeoutMs: 500, rise: 1, fall: 2 },
        }],
      }, { cluster: { ...cluster, nodeName: "lb", gossipListen: `${lab.director.ip}:7946`, peers: [] } });

      const files: string[] = [];
      for (const [i, host] of lab.caches.entries()) {
        const file = await Deno.makeTempFile({ prefix: "wcops-cache-", suffix: ".yaml" });
        lab.files.push(file);
        files.push(file);
        await Deno.writeTextFile(
          file,
          JSON.stringify({
            cluster: {
              ...cluster,
              nodeName: `rs${i + 1}`,
              gossipListen: `${host.ip}:7946`,
              peers: [`${lab.director.ip}:7946`],
            },
            icp: { enabled: false },
            log: { level: "info" },
            cache: {
              service: "web",
              listen: [{ address: `${host.ip}:80` }, { address: `${VIP}:80` }],
              workers: 1,
              defaultOrigin: `http://${lab.client2.ip}:8080`,
              peering: { mode: "none" },
              shutdownDelayMs: 1500,
              shutdownGraceMs: 10_000,
            },
          }),
        );
      }
      const caches = await Promise.all(lab.caches.map((h, i) => startDrCache(lab, h, files[i])));
      await waitServers(lab, (s) => s.length === 3 && s.every((x) => x.up && x.weight > 0), "3 caches up");

      const load = spawnIn(lab, lab.client.ns, [...DENO, `${HERE}_ops_load.ts`, VIP, "80", "6"], {
        stdin: true,
        stdout: true,
      });
      const loadOut = new Lines(load.stdout);
      await loadOut.waitFor((l) => l === "started", 20_000);
      await new Promise((r) => setTimeout(r, 1000));
      for (const [i, host] of lab.caches.entries()) {
        caches[i].p.kill("SIGTERM");
        await waitServers(lab, (s) => s.some((x) => x.address === host.ip && x.weight === 0), `rs${i + 1} at weight 0`)
          .catch(() => {}); // it may already be gone from the table
        const st = await caches[i].p.status;
        assertEquals(st.code, 0, caches[i].err.lines.slice(-20).join("\n"));
        caches[i] = await startDrCache(lab, host, files[i]);
        await waitServers(lab, (s) => s.length === 3 && s.every((x) => x.up && x.weight > 0), `rs${i + 1} back`);
        await new Promise((r) => setTimeout(r, 500));
      }
      await load.stdin.close();
      const summary = JSON.parse(await loadOut.waitFor((l) => l.startsWith("{"), 30_000)) as {
        sent: number;
        ok: number;
        failures: string[];
      };
      assertEquals(summary.failures, [], `${summary.sent - summary.ok} of ${summary.sent} failed`);
      assert(summary.sent > 100, `a real load: ${summary.sent} requests`);
    } finally {
      await destroyLab(lab);
    }
  },
});
