/**
 * The transparent proxy cluster: clients route port-80 traffic to any web server through the
 * director (their default gateway); a transparent service (every destination on port 80) sends it
 * by DR to caches that intercept port 80 with an nftables redirect to their proxy port, and the
 * caches answer the client directly from the origin's address.
 */
import { assert, assertEquals } from "../_assert.ts";
import { canBuildTopology } from "./_topology.ts";
import { buildLab, capture, curl, destroyLab, Lines, startDirector } from "./_dataplane_lab.ts";

const root = await canBuildTopology();
const HERE = new URL(".", import.meta.url).pathname;
const ORIGIN = "198.51.100.7";

Deno.test({
  name: "transparent service: any destination on port 80 reaches an intercepting cache by DR",
  ignore: !root,
  async fn() {
    const lab = await buildLab();
    try {
      for (const c of lab.caches) {
        // Intercepting caches: port 80 (any address) redirected to the proxy on 3128; no VIP.
        const p = new Deno.Command("ip", {
          args: [
            "netns",
            "exec",
            c.ns,
            Deno.execPath(),
            "run",
            "-A",
            `${HERE}_name_server.ts`,
            "3128",
            c.name,
            "--intercept",
            "80:3128",
          ],
          stdout: "piped",
          stderr: "null",
        }).spawn();
        lab.topo.adopt(p);
        const out = new Lines(p.stdout);
        lab.procs.push({ p, out });
        await out.waitFor((l) => l === "ready", 20_000);
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
      const cap = await capture(lab, lab.director, `tcp and not host ${lab.director.ip}`);
      const names = new Set<string>();
      for (let i = 0; i < 6; i++) {
        const r = await curl(lab, lab.client, `http://${ORIGIN}/page`);
        assertEquals(r.code, 0, `curl failed: ${r.body}`);
        const [name, host] = r.body.split(" ");
        assertEquals(host, ORIGIN);
        names.add(name);
      }
      assertEquals(names, new Set(["rs1", "rs2", "rs3"]));
      const lines = (await cap.stop()).filter((l) => /: Flags \[/.test(l));
      assert(lines.length >= 6 * 5, `captured ${lines.length}`);
      assertEquals(lines.filter((l) => l.includes(`${ORIGIN}.80 >`)).length, 0, "a reply crossed the director");
    } finally {
      await destroyLab(lab);
    }
  },
});
