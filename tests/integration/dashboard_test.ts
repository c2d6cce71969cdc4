/**
 * The dashboard in a real headless Chromium against a cluster of admin endpoints on loopback: a
 * director (which aggregates and serves the page), its HA BACKUP, and three caches whose `/status` counters move.
 * The page loads with no console errors, shows the member count and hit ratio that
 * `/cluster/status` and the nodes' own `/status` give, works from outside admin.allow only with
 * `#token=`, shows each member's config version and a refusal with its reason, lists both directors with their HA
 * roles and which one holds the VIP (and follows a takeover), and changes when a cache is stopped.
 */
import { assert, assertEquals } from "../_assert.ts";
import { registerDashboard } from "../../admin/dashboard.ts";
import { configureLogging } from "../../core/log.ts";
import { type FakeNode, recordOf, serveMembers, startFakeNode } from "../../status/_fake_nodes.ts";
import { haveChromium, launchBrowser } from "./dashboard_browser.ts";

configureLogging({ level: "error" });

const TOKEN = "dashboard-test-token-0123456789";

function cacheSection(requests: number, hits: number) {
  return { requests, hits, misses: requests - hits, objects: requests - hits, bytes: (requests - hits) * 1000 };
}

async function fetchJson(url: string, token?: string): Promise<Record<string, unknown>> {
  const res = await fetch(url, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  assertEquals(res.status, 200, url);
  return await res.json();
}

/** Polls `cond` (the page's CSP forbids eval, so no waitForFunction) until true or 10 s pass. */
async function waitFor(cond: () => Promise<boolean>, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

Deno.test({
  name: "dashboard in headless Chromium matches /status and changes when a cache stops",
  ignore: !(await haveChromium()),
  fn: async () => {
    // Loopback is NOT in admin.allow, so the page and its fetches need the token.
    const access = { allow: ["10.255.255.0/24"], token: TOKEN };
    const caches: FakeNode[] = [
      startFakeNode("cache-1", "cache", { ...access, section: cacheSection(120, 90) }),
      startFakeNode("cache-2", "cache", { ...access, section: cacheSection(80, 40) }),
      startFakeNode("cache-3", "cache", { ...access, section: cacheSection(50, 20) }),
    ];
    const haOf = (role: string) => ({ mode: "active-backup", group: "lab", role, node: "x", peers: [] });
    const director = startFakeNode("director-1", "director", {
      ...access,
      section: {
        connections: 3,
        ha: haOf("MASTER"),
        services: [{
          name: "web",
          address: "127.0.0.1:8080",
          scheduler: "wlc",
          persistence: { timeoutS: 300, entries: 5 },
          servers: caches.map((c, i) => ({
            address: `127.0.0.1:${3128 + i}`,
            node: c.name,
            method: "proxy",
            weight: 1,
            health: "up",
            connections: 10 * (i + 1),
          })),
        }],
      },
    });
    // A second director, the BACKUP of the same VIP group: it holds no VIP.
    const backup = startFakeNode("director-2", "director", {
      ...access,
      section: { ...director.section, ha: haOf("BACKUP") },
    });
    const nodes = [director, backup, ...caches];
    // cache-2 refused config version 2 (cluster.configSync); the others run it.
    const refusal = { version: 2, hash: "fedcba9876543210", reason: "director.ha.mode: needs director.vipMode arp" };
    serveMembers(
      director,
      () =>
        nodes.map((n) =>
          n.name === "cache-2"
            ? { ...recordOf(n), configVersion: 1, configRefused: refusal }
            : { ...recordOf(n), configVersion: 2 }
        ),
    );
    registerDashboard(director.admin, { node: "director-1", token: TOKEN });
    const base = `http://${director.addr}`;
    let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;
    try {
      const refused = await fetch(`${base}/cluster/status`);
      assertEquals(refused.status, 403, "strangers are refused without the token");
      await refused.body?.cancel();
      const byQuery = await fetch(`${base}/cluster/status?token=${TOKEN}`);
      assertEquals(byQuery.status, 403, "a token in the query string is not accepted");
      await byQuery.body?.cancel();

      browser = await launchBrowser();
      const { page, errors } = browser;
      await page.goto(`${base}/dashboard#token=${TOKEN}`);
      await page.waitForSelector("body[data-updated]", { timeout: 15_000 });

      // What the page shows equals what the cluster and each node report.
      const doc = await fetchJson(`${base}/cluster/status`, TOKEN) as {
        totals: { members: number; hitRatio: number; healthy: number };
      };
      let hits = 0, total = 0;
      for (const c of caches) {
        const s = await fetchJson(`http://${c.addr}/status`, TOKEN) as { cache: { hits: number; misses: number } };
        hits += s.cache.hits;
        total += s.cache.hits + s.cache.misses;
      }
      assertEquals(Number(await page.getAttribute("#members-count", "data-value")), doc.totals.members);
      assertEquals(await page.textContent("#members-count"), "5");
      const shownRatio = Number(await page.getAttribute("#hit-ratio", "data-value"));
      assertEquals(shownRatio, doc.totals.hitRatio);
      assertEquals(shownRatio, hits / total);
      assertEquals(await page.textContent("#hit-ratio"), `${(hits / total * 100).toFixed(1)}%`);
      assertEquals(await page.locator("#members tbody tr").count(), 5);
      // Every director with its role, and which one holds the VIP.
      assertEquals(await page.locator("#director-ha tbody tr").count(), 2);
      assert((await page.textContent('#director-ha tr[data-director="director-2"]'))?.includes("BACKUP"));
      assertEquals(await page.textContent("#vip-holders"), "VIP 127.0.0.1 held by director-1");
      // A takeover: the BACKUP becomes MASTER, the old MASTER BACKUP; the page follows.
      backup.section = { ...backup.section, ha: haOf("MASTER") };
      director.section = { ...director.section, ha: haOf("BACKUP") };
      await waitFor(
        async () => (await page.textContent("#vip-holders")) === "VIP 127.0.0.1 held by director-2",
        "the VIP holder to follow a takeover",
      );
      const refuser = await page.textContent('#members tr[data-node="cache-2"]');
      assert(refuser?.includes("v1 01234567") && refuser.includes("refused v2"), `cache-2 row: ${refuser}`);
      assert(refuser?.includes(refusal.reason), `cache-2 row shows why: ${refuser}`);
      const runner = await page.textContent('#members tr[data-node="cache-1"]');
      assert(runner?.includes("v2 01234567") && !runner.includes("refused"), `cache-1 row: ${runner}`);
      assertEquals(await page.textContent(".svc .persist"), "5");
      assertEquals(await page.locator("#map-svg svg").count(), 1);

      // Traffic moves the counters: the page follows.
      caches[0].section = cacheSection(420, 390);
      const want = String((hits + 300) / (total + 300));
      await waitFor(async () => (await page.getAttribute("#hit-ratio", "data-value")) === want, "hit ratio to follow");

      // Stop a cache: the page shows it down and counts one healthy member less.
      await caches[2].stop();
      await waitFor(async () => (await page.getAttribute("#healthy-count", "data-value")) === "4", "4 healthy members");
      const row = await page.textContent('#members tr[data-node="cache-3"]');
      assert(row?.includes("down"), `cache-3 row: ${row}`);
      assertEquals(errors, [], "no console errors");
    } finally {
      await browser?.close();
      for (const n of nodes) await n.stop().catch(() => {});
    }
  },
});
