/**
 * HTTPS through the layer-4 director: a DR VIP on port 443, TLS terminated on the real caches
 * (`webcache cache --listen 0.0.0.0:443,cert=…,key=…`), curl with the test CA against the VIP.
 * The director never sees plaintext nor any cache-to-client packet: the encrypted responses go
 * straight from each cache to the client.
 */
import { assert, assertEquals, assertStringIncludes } from "../_assert.ts";
import { BUNDLE, DENO_FLAGS, ensureBundle } from "../_bin.ts";
import { canBuildTopology, type Host } from "./_topology.ts";
import { buildLab, capture, destroyLab, type Lab, Lines, type Proc, startDirector, VIP } from "./_dataplane_lab.ts";
import { makeTestCa } from "./_tls_ca.ts";

const root = await canBuildTopology();
const HERE = new URL(".", import.meta.url).pathname;
const HEALTH = { type: "tcp", intervalMs: 500, timeoutMs: 1000, fall: 3, rise: 1 };

function spawnIn(lab: Lab, host: Host, args: string[], stdout: "stdout" | "stderr"): Proc {
  const p = new Deno.Command("ip", {
    args: ["netns", "exec", host.ns, ...args],
    stdout: stdout === "stdout" ? "piped" : "null",
    stderr: stdout === "stderr" ? "piped" : "null",
  }).spawn();
  lab.topo.adopt(p);
  const proc = { p, out: new Lines(stdout === "stdout" ? p.stdout : p.stderr) };
  lab.procs.push(proc);
  return proc;
}

Deno.test({
  name: "DR VIP on 443: TLS ends on the caches, responses go straight from the caches to the client",
  ignore: !root,
  async fn() {
    const lab = await buildLab("wctls");
    const ca = await makeTestCa();
    try {
      await ensureBundle();
      // One certificate for the site, naming the VIP, on every cache (as a web site's would be).
      const site = await ca.issue("site", [`IP:${VIP}`, "DNS:www.example"]);
      const origin = await lab.topo.addHost("orig", "10.77.0.5");
      const o = spawnIn(
        lab,
        origin,
        [Deno.execPath(), "run", "-A", `${HERE}_name_server.ts`, "80", "origin"],
        "stdout",
      );
      await o.out.waitFor((l) => l === "ready", 20_000);
      for (const c of lab.caches) {
        const cfgFile = await Deno.makeTempFile({ prefix: "wctls-cache-", suffix: ".yaml" });
        lab.files.push(cfgFile);
        await Deno.writeTextFile(cfgFile, JSON.stringify({ cluster: { nodeName: c.name } }));
        const p = spawnIn(lab, c, [
          Deno.execPath(),
          ...DENO_FLAGS.slice(1),
          BUNDLE,
          "cache",
          "--workers",
          "1",
          "--config",
          cfgFile,
          "--vip",
          VIP,
          "--forwarding",
          "dr",
          "--listen",
          `0.0.0.0:443,cert=${site.certFile},key=${site.keyFile}`,
          "--origin",
          `http://${origin.ip}:80`,
        ], "stderr");
        await p.out.waitFor((l) => l.includes('"Cache started"'), 30_000);
      }
      await startDirector(lab, {
        interface: "eth0",
        services: [{
          vip: VIP,
          port: 443,
          method: "dr",
          scheduler: "rr",
          health: HEALTH,
          reals: lab.caches.map((c) => ({ address: c.ip })),
        }],
      });
      const cap = await capture(lab, lab.director, `tcp port 443 and not host ${lab.director.ip}`);
      const servedBy = new Set<string>();
      for (let i = 0; i < 6; i++) {
        const r = await lab.topo.exec(lab.client.ns, [
          "curl",
          "-sS",
          "-m",
          "10",
          "--cacert",
          ca.caFile,
          "-D",
          "-",
          `https://${VIP}/obj${i}`,
        ], false);
        assertEquals(r.code, 0, r.stderr ?? r.stdout);
        assertStringIncludes(r.stdout, "origin ");
        const name = /rs\d/.exec(/x-cache: *(.*)/i.exec(r.stdout)?.[1] ?? "")?.[0];
        assert(name, `no cache name in X-Cache: ${r.stdout}`);
        servedBy.add(name);
      }
      assertEquals(servedBy, new Set(["rs1", "rs2", "rs3"]));
      // The director saw only client-to-VIP:443 packets; nothing from the VIP came its way.
      const lines = (await cap.stop()).filter((l) => / > \d+\.\d+\.\d+\.\d+\.\d+: Flags/.test(l));
      assert(lines.length >= 6 * 5, `expected client packets, got ${lines.length}: ${lines.join("\n")}`);
      for (const l of lines) assertStringIncludes(l, `> ${VIP}.443:`, `not to the VIP: ${l}`);
      assertEquals(lines.filter((l) => l.includes(`${VIP}.443 >`)).length, 0);
    } finally {
      await destroyLab(lab);
      await ca.remove();
    }
  },
});
