/**
 * End to end with the real cache: `webcache cache --vip VIP --forwarding dr|tun` prepares each
 * cache host, `webcache director --method dr|tun` forwards to them, and curl through the VIP gets
 * the origin's content with `X-Cache` naming the cache that served it. Also `--check-vip` on a
 * prepared and an unprepared host, and the transparent cluster (port 80 to any address) ending in
 * caches that intercept port 80.
 */
import { assert, assertEquals, assertStringIncludes } from "../_assert.ts";
import { BUNDLE, DENO_FLAGS, ensureBundle } from "../_bin.ts";
import { redirectRuleset } from "../../netctl/nft.ts";
import type { Host } from "./_topology.ts";
import { buildLab, curl, destroyLab, type Lab, Lines, type Proc, startDirector, VIP } from "./_dataplane_lab.ts";
import { requires } from "../_requires.ts";

const HERE = new URL(".", import.meta.url).pathname;
const HEALTH = { type: "http", intervalMs: 500, timeoutMs: 1000, fall: 3, rise: 1 };

function spawnIn(lab: Lab, host: Host, args: string[]): Proc {
  const p = new Deno.Command("ip", {
    args: ["netns", "exec", host.ns, ...args],
    stdout: "piped",
    stderr: "null",
  }).spawn();
  lab.topo.adopt(p);
  const proc = { p, out: new Lines(p.stdout) };
  lab.procs.push(proc);
  return proc;
}

async function startOrigin(lab: Lab): Promise<Host> {
  const origin = await lab.topo.addHost("orig", "10.77.0.5");
  const p = spawnIn(lab, origin, [Deno.execPath(), "run", "-A", `${HERE}_name_server.ts`, "80", "origin"]);
  await p.out.waitFor((l) => l === "ready", 20_000);
  return origin;
}

async function startRealCache(
  lab: Lab,
  host: Host,
  args: string[],
  cache: Record<string, unknown> = {},
): Promise<Proc> {
  await ensureBundle();
  // Each cache names itself (X-Cache: ... from rsN); namespaces share the host name.
  const cfgFile = await Deno.makeTempFile({ prefix: "wcdp-cache-", suffix: ".yaml" });
  lab.files.push(cfgFile);
  await Deno.writeTextFile(cfgFile, JSON.stringify({ cluster: { nodeName: host.name }, cache }));
  const p = new Deno.Command("ip", {
    args: [
      "netns",
      "exec",
      host.ns,
      Deno.execPath(),
      ...DENO_FLAGS.slice(1),
      BUNDLE,
      "cache",
      "--workers",
      "1",
      "--config",
      cfgFile,
      ...args,
    ],
    stdout: "null",
    stderr: "piped",
  }).spawn();
  lab.topo.adopt(p);
  const proc = { p, out: new Lines(p.stderr) };
  lab.procs.push(proc);
  await proc.out.waitFor((l) => l.includes('"Cache started"'), 30_000);
  return proc;
}

async function checkVip(lab: Lab, host: Host, forwarding: string) {
  const r = await lab.topo.exec(host.ns, [
    Deno.execPath(),
    ...DENO_FLAGS.slice(1),
    BUNDLE,
    "cache",
    "--check-vip",
    "--vip",
    VIP,
    "--forwarding",
    forwarding,
  ], false);
  return r;
}

for (const method of ["dr", "tun"] as const) {
  Deno.test({
    ...await requires(
      `webcache cache --forwarding ${method} behind webcache director --method ${method} serves the origin`,
      { netns: true },
    ),
    async fn() {
      const lab = await buildLab();
      try {
        const origin = await startOrigin(lab);
        const before = await checkVip(lab, lab.caches[0], method);
        assertEquals(before.code, 1, before.stdout);
        assertStringIncludes(before.stdout, `FAIL  VIP ${VIP}/32 on lo`);
        assertStringIncludes(before.stdout, "arp_ignore");
        for (const c of lab.caches) {
          const extra = method === "tun" ? ["--director", lab.director.ip] : [];
          await startRealCache(lab, c, [
            "--vip",
            VIP,
            "--forwarding",
            method,
            ...extra,
            "--listen",
            "0.0.0.0:80",
            "--origin",
            `http://${origin.ip}:80`,
          ]);
        }
        const after = await checkVip(lab, lab.caches[0], method);
        assertEquals(after.code, 0, after.stdout);
        await startDirector(lab, {
          interface: "eth0",
          services: [{
            vip: VIP,
            port: 80,
            method,
            scheduler: "rr",
            health: HEALTH,
            reals: lab.caches.map((c) => ({ address: c.ip })),
          }],
        });
        const servedBy = new Set<string>();
        for (let i = 0; i < 6; i++) {
          const r = await curl(lab, lab.client, `http://${VIP}/obj${i}`, ["-D", "-"]);
          assertEquals(r.code, 0, r.body);
          assertStringIncludes(r.body, "origin ");
          const xcache = /x-cache: *(.*)/i.exec(r.body)?.[1] ?? "";
          const name = /rs\d/.exec(xcache)?.[0];
          assert(name, `no cache name in X-Cache: ${r.body}`);
          servedBy.add(name);
        }
        assertEquals(servedBy, new Set(["rs1", "rs2", "rs3"]));
      } finally {
        await destroyLab(lab);
      }
    },
  });
}

Deno.test({
  ...await requires(
    "transparent cluster: client port-80 traffic to any site goes by DR to intercepting webcache caches",
    { netns: true },
  ),
  async fn() {
    const lab = await buildLab();
    try {
      const origin = await startOrigin(lab);
      // The "internet": the origin also answers as 198.51.100.7, routed via the caches' default route.
      await lab.topo.exec(origin.ns, ["ip", "addr", "add", "198.51.100.7/32", "dev", "lo"]);
      const transparent = {
        listen: [{ address: "0.0.0.0:3128", mode: "transparent" }],
        acl: { forward: ["10.77.0.0/24"] },
      };
      for (const c of lab.caches) {
        await lab.topo.exec(c.ns, ["ip", "route", "add", "198.51.100.0/24", "via", origin.ip]);
        await lab.topo.exec(c.ns, ["sh", "-c", `printf '%s' '${redirectRuleset("intercept", 80, 3128)}' | nft -f -`]);
        await startRealCache(lab, c, [], transparent);
      }
      await lab.topo.exec(lab.client.ns, ["ip", "route", "add", "default", "via", lab.director.ip]);
      await startDirector(lab, {
        interface: "eth0",
        services: [{
          transparent: true,
          port: 80,
          method: "dr",
          scheduler: "rr",
          health: { type: "tcp", intervalMs: 500 },
          reals: lab.caches.map((c) => ({ address: c.ip })),
        }],
      });
      const servedBy = new Set<string>();
      for (let i = 0; i < 6; i++) {
        const r = await curl(lab, lab.client, `http://198.51.100.7/t${i}`, ["-D", "-"]);
        assertEquals(r.code, 0, r.body);
        assertStringIncludes(r.body, "origin 198.51.100.7");
        const name = /x-cache: *.*?(rs\d)/i.exec(r.body)?.[1];
        assert(name, r.body);
        servedBy.add(name);
      }
      assertEquals(servedBy, new Set(["rs1", "rs2", "rs3"]));
    } finally {
      await destroyLab(lab);
    }
  },
});
