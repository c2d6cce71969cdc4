/**
 * DR with real servers from membership: `webcache cache --forwarding dr` advertises the MAC of the
 * interface holding its address, and `webcache director` forwards to it from that record alone.
 * The proof that the MAC came from membership and not from ARP: the cache drops every ARP request
 * from the director (nftables `arp` table in its namespace), the director's kernel never talks to
 * the cache's address (gossip runs over a second link, health checks are off), and the cache never
 * broadcasts an ARP request the data plane could snoop (static neighbour entries for the clients).
 */
import { assert, assertEquals } from "../_assert.ts";
import { BUNDLE, DENO_FLAGS, ensureBundle } from "../_bin.ts";
import { buildLab, curl, destroyLab, Lines, startDirector, VIP } from "./_dataplane_lab.ts";
import { FAST, randomKey } from "./_cluster_harness.ts";
import { requires } from "../_requires.ts";

Deno.test({
  ...await requires(
    "DR: the director forwards to a member cache by the MAC in its membership record, with its ARP blocked",
    { netns: true },
  ),
  async fn() {
    const lab = await buildLab("wcmac");
    try {
      const [rs1] = lab.caches;
      const { topo, director, client } = lab;
      // The gossip link between director and cache: 10.78.0.0/24, off the DR subnet.
      const ga = `${topo.prefix.slice(0, 10)}ga`, gb = `${topo.prefix.slice(0, 10)}gb`;
      await topo.exec(director.ns, ["ip", "link", "add", ga, "type", "veth", "peer", "name", gb, "netns", rs1.ns]);
      await topo.exec(director.ns, ["ip", "addr", "add", "10.78.0.2/24", "dev", ga]);
      await topo.exec(director.ns, ["ip", "link", "set", ga, "up"]);
      await topo.exec(rs1.ns, ["ip", "addr", "add", "10.78.0.11/24", "dev", gb]);
      await topo.exec(rs1.ns, ["ip", "link", "set", gb, "up"]);
      // The cache answers no ARP request from the director and sends none on the DR subnet.
      const nft = async (...args: string[]) => assertEquals((await topo.exec(rs1.ns, ["nft", ...args])).code, 0);
      await nft("add", "table", "arp", "wcmac");
      await nft("add", "chain", "arp", "wcmac", "in", "{ type filter hook input priority 0; }");
      await nft("add", "rule", "arp", "wcmac", "in", "arp", "saddr", "ip", director.ip, "counter", "drop");
      for (const c of [lab.client, lab.client2]) {
        await topo.exec(rs1.ns, ["ip", "neigh", "replace", c.ip, "lladdr", c.mac, "dev", "eth0", "nud", "permanent"]);
      }

      const key = randomKey();
      const cluster = { secretKey: key, ...FAST };
      await ensureBundle();
      const cacheCfg = await Deno.makeTempFile({ prefix: "wcmac-cache-", suffix: ".yaml" });
      lab.files.push(cacheCfg);
      await Deno.writeTextFile(
        cacheCfg,
        JSON.stringify({
          cluster: { ...cluster, nodeName: "rs1", gossipListen: "10.78.0.11:7946", peers: ["10.78.0.2:7946"] },
          // The first listen address is advertised (on eth0, so its MAC is); the VIP one takes DR traffic.
          cache: { service: "web", listen: [{ address: `${rs1.ip}:80` }, { address: `${VIP}:80` }] },
        }),
      );
      const p = new Deno.Command("ip", {
        args: ["netns", "exec", rs1.ns, Deno.execPath(), ...DENO_FLAGS.slice(1), BUNDLE, "cache", "--workers", "1"]
          .concat(["--config", cacheCfg, "--vip", VIP, "--forwarding", "dr", "--origin", "http://127.0.0.1:9"]),
        stdout: "null",
        stderr: "piped",
      }).spawn();
      topo.adopt(p);
      const cache = { p, out: new Lines(p.stderr) };
      lab.procs.push(cache);
      await cache.out.waitFor((l) => l.includes('"Cache started"'), 30_000);

      await startDirector(lab, {
        interface: "eth0",
        services: [{ name: "web", vip: VIP, port: 80, method: "dr", fromMembership: true, health: { type: "none" } }],
      }, { cluster: { ...cluster, nodeName: "lb", gossipListen: "10.78.0.2:7946", peers: ["10.78.0.11:7946"] } });

      // The director's view of the cache carries eth0's MAC.
      let members = "";
      for (const end = Date.now() + 15_000; Date.now() < end;) {
        members = (await topo.exec(director.ns, ["curl", "-s", "http://127.0.0.1:9090/members"])).stdout;
        if (members.includes(rs1.mac)) break;
        await new Promise((r) => setTimeout(r, 200));
      }
      assert(members.includes(`"mac":"${rs1.mac}"`) && members.includes('"iface":"eth0"'), members);

      // Through the VIP, answered by the cache directly (its origin is down: a 502 from the cache is fine).
      let r = { code: -1, body: "" };
      for (const end = Date.now() + 15_000; Date.now() < end;) {
        r = await curl(lab, client, `http://${VIP}/`);
        if (r.code === 0) break;
        await new Promise((res) => setTimeout(res, 300));
      }
      assertEquals(r.code, 0, `curl through the VIP failed: ${r.body}`);
      // The data plane did try ARP (its refresher runs in the once-a-second housekeeping, so it may come just
      // after the first forwarded request) and the cache dropped it: the MAC came from membership.
      let rules = "";
      for (const end = Date.now() + 5_000; Date.now() < end;) {
        rules = (await topo.exec(rs1.ns, ["nft", "list", "table", "arp", "wcmac"])).stdout;
        if (Number(/counter packets (\d+)/.exec(rules)?.[1] ?? 0) > 0) break;
        await new Promise((res) => setTimeout(res, 200));
      }
      const dropped = /counter packets (\d+)/.exec(rules);
      assert(dropped && Number(dropped[1]) > 0, rules);
      const neigh = (await topo.exec(director.ns, ["ip", "neigh", "show", rs1.ip])).stdout;
      assertEquals(neigh.trim(), "", `the director's kernel resolved the cache: ${neigh}`);
    } finally {
      await destroyLab(lab);
    }
  },
});
