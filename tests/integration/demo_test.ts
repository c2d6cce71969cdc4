/**
 * `webcache demo` (the bundle) end to end, in proxy mode on loopback and, as root, with DR and TUN in
 * network namespaces: it starts the cluster, loads it, prints the summary as
 * JSON and stays up; the test then checks every summary figure against the nodes' own counters
 * (`/status`, `/metrics`, `/director/status`, the origin's `/_origin/stats`), looks at the live
 * dashboard in headless Chromium (member count and hit ratio as the nodes report them; a cache
 * stopped shows up), stops the demo with SIGINT and checks that nothing is left.
 */
import { assert, assertEquals } from "../_assert.ts";
import { spawnWebcache } from "../_bin.ts";
import type { DemoJson } from "../../demo/run_demo.ts";
import { haveChromium, launchBrowser } from "./dashboard_browser.ts";
import { requires } from "../_requires.ts";

async function namespacesWith(prefix: string): Promise<string[]> {
  const out = await new Deno.Command("ip", { args: ["netns", "list"], stdout: "piped", stderr: "null" }).output();
  return new TextDecoder().decode(out.stdout).split("\n").map((l) => l.split(" ")[0]).filter((n) =>
    n.startsWith(prefix)
  );
}

async function processAlive(pid: number): Promise<boolean> {
  try {
    const stat = await Deno.readTextFile(`/proc/${pid}/stat`);
    return !/^\d+ \(.*\) Z/.test(stat); // a zombie has exited
  } catch {
    return false;
  }
}

async function json<T>(url: string): Promise<T> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
  assertEquals(res.status, 200, url);
  return await res.json() as T;
}

async function metrics(admin: string): Promise<string> {
  const res = await fetch(`http://${admin}/metrics`, { signal: AbortSignal.timeout(5000) });
  return await res.text();
}

function metricSum(text: string, name: string, label?: string): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name)) continue;
    if (line[name.length] !== "{" && line[name.length] !== " ") continue;
    if (label && !line.includes(label)) continue;
    sum += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return sum;
}

async function readFirstLine(stream: ReadableStream<Uint8Array>): Promise<{ line: string; rest: Promise<void> }> {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let buf = "";
  while (!buf.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    buf += value;
  }
  // Keep draining so the child never blocks on a full pipe.
  const rest = (async () => {
    for (;;) if ((await reader.read()).done) return;
  })();
  return { line: buf.split("\n")[0], rest };
}

async function gone(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return false;
  } catch {
    return true;
  }
}

async function waitFor(cond: () => Promise<boolean>, what: string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

async function checkDemo(method: "proxy" | "dr" | "tun", requests: number, withBrowser: boolean): Promise<void> {
  const child = await spawnWebcache(
    [
      "demo",
      "--method",
      method,
      "--requests",
      String(requests),
      "--concurrency",
      "4",
      "--objects",
      "400",
      "--json",
      "--duration",
      "300",
    ],
    { stdout: "piped" },
  );
  const stderr = (async () => new TextDecoder().decode(await new Response(child.stderr).arrayBuffer()))();
  let doc: DemoJson | undefined;
  let drained: Promise<void> | undefined;
  let browser: Awaited<ReturnType<typeof launchBrowser>> | undefined;
  try {
    const first = await readFirstLine(child.stdout);
    drained = first.rest;
    if (!first.line.startsWith("{")) {
      child.kill("SIGKILL");
      throw new Error(`no JSON summary; stderr:\n${await stderr}`);
    }
    doc = JSON.parse(first.line) as DemoJson;
    const s = doc.summary;
    assertEquals([s.mode.method, s.mode.network], [method, method === "proxy" ? "loopback" : "netns"]);
    assertEquals(s.load.requests, requests);
    assert(s.load.responses >= requests * 0.98, `answered ${s.load.responses} of ${requests}`);

    // Each cache's own counters equal the summary's (they were zero before the load).
    const caches = doc.nodes.filter((n) => n.role === "cache");
    assertEquals(caches.length, 3);
    let sumReq = 0, sumHits = 0, sumSib = 0, answered = 0;
    for (const node of caches) {
      const st = await json<{ cache: { requests: Record<string, number>; hits: number; misses: number } }>(
        `http://${node.admin}/status`,
      );
      const c = s.caches.find((x) => x.name === node.name)!;
      const req = Object.values(st.cache.requests).reduce((a, b) => a + b, 0);
      assertEquals([c.requests, c.hits, c.misses], [req, st.cache.hits, st.cache.misses], node.name);
      const m = await metrics(node.admin);
      assertEquals(c.siblingHits, metricSum(m, "webcache_cache_peering_choices_total", 'choice="hit"'), node.name);
      assertEquals(c.ownerFetches, metricSum(m, "webcache_cache_peering_choices_total", 'choice="owner"'), node.name);
      assertEquals(c.icpQueries, metricSum(m, "webcache_icp_queries_sent_total"), node.name);
      sumReq += req;
      sumHits += st.cache.hits;
      sumSib += c.siblingHits;
      answered += c.responses;
    }
    assertEquals(s.array.counters.requests, sumReq);
    assertEquals(s.array.counters.hits, sumHits);
    assertEquals(s.array.siblingHits, sumSib);
    assertEquals(answered, s.load.responses, "every response names the cache that answered");
    assert(sumSib > 0, "ICP siblings served some misses");
    assertEquals(s.array.localHits, s.load.hits);

    // The director's per-cache connection counts are the summary's split.
    const director = doc.nodes.find((n) => n.role === "director")!;
    const ds = await json<
      { services: { servers: { address: string; port: number; totals: { conns: number; outBytes: number } }[] }[] }
    >(`http://${director.admin}/director/status`);
    let conns = 0, outBytes = 0;
    for (const server of ds.services[0].servers) {
      const node = caches.find((n) => n.http === `${server.address}:${server.port}`)!;
      assertEquals(s.caches.find((c) => c.name === node.name)!.connections, server.totals.conns, node.name);
      conns += server.totals.conns;
      outBytes += server.totals.outBytes;
    }
    assertEquals(s.director?.connections, conns);
    const sent = s.load.requests - (s.load.errorsByReason.refused ?? 0);
    if (method === "proxy") assertEquals(conns, sent, "one connection per request");
    else {
      // The packet director may fold a new SYN on a just-closed 4-tuple into its old entry (IPVS
      // does the same without conn_reuse_mode): allow 1%.
      assert(conns <= sent && conns >= sent * 0.99 - 1, `${conns} connections for ${sent} requests`);
    }
    if (method === "proxy") {
      assertEquals(s.directReturn, null);
      assert(outBytes > s.load.bytes, "in proxy mode responses pass through the director");
    } else {
      // Direct return: the director forwarded client->cache packets only.
      assertEquals(outBytes, 0);
      assertEquals(s.directReturn, { proven: true, responseBytesAtClient: s.load.bytes, directorBytesOut: 0 });
    }

    // The nodes found each other by gossip: any node's /cluster/status shows the whole cluster.
    const view = await json<{ totals: { members: number; healthy: number; requests: number } }>(
      `http://${director.admin}/cluster/status`,
    );
    assertEquals([view.totals.members, view.totals.healthy, view.totals.requests], [4, 4, sumReq]);

    // The origin's own counter.
    const origin = await json<{ requests: number; distinctObjects: number }>(`${doc.originUrl}/_origin/stats`);
    assertEquals([s.origin.requests, s.origin.distinctObjects], [origin.requests, origin.distinctObjects]);
    assert(origin.requests < s.load.responses, "the array absorbed part of the load");
    assertEquals(s.array.hitRatio, 1 - origin.requests / s.load.responses);

    // The live dashboard (served by the demo) shows what the nodes report, and a stopped cache.
    if (withBrowser && await haveChromium()) {
      browser = await launchBrowser();
      const { page, errors } = browser;
      await page.goto(doc.dashboard);
      await page.waitForSelector("body[data-updated]", { timeout: 20_000 });
      assertEquals(await page.getAttribute("#members-count", "data-value"), "4");
      let h = 0, t = 0;
      for (const node of caches) {
        const st = await json<{ cache: { hits: number; misses: number } }>(`http://${node.admin}/status`);
        h += st.cache.hits;
        t += st.cache.hits + st.cache.misses;
      }
      assertEquals(Number(await page.getAttribute("#hit-ratio", "data-value")), h / t);
      if (Deno.env.get("WEBCACHE_SCREENSHOT")) {
        await page.screenshot({ path: Deno.env.get("WEBCACHE_SCREENSHOT")!, fullPage: true });
      }
      Deno.kill(caches[2].pid, "SIGTERM");
      await waitFor(
        async () => (await page.getAttribute("#healthy-count", "data-value")) === "3",
        "the dashboard to show 3 healthy members",
      );
      const row = await page.textContent(`#members tr[data-node="${caches[2].name}"]`);
      assert(row?.includes("dead") || row?.includes("down"), `row of the stopped cache: ${row}`);
      assertEquals(errors, [], "no console errors");
      await browser.close();
      browser = undefined;
    }

    child.kill("SIGINT");
    const status = await child.status;
    assertEquals(status.code, 0, await stderr);
    assert(await gone(doc.workDir), `${doc.workDir} was not removed`);
    for (const n of doc.nodes) {
      assertEquals(await processAlive(n.pid), false, `${n.name} (pid ${n.pid}) outlived the demo`);
    }
    if (!doc.netnsPrefix) {
      // Loopback only: in namespaced mode the nodes' addresses are gone, and a request to them
      // would leave through the default route, so it must not be sent.
      for (const n of doc.nodes) {
        const alive = await fetch(`http://${n.admin}/healthz`).then(
          (r) => r.body?.cancel().then(() => true),
          () => false,
        );
        assertEquals(alive, false, `${n.name} still answers after the demo ended`);
      }
      assertEquals(await fetch(`${doc.originUrl}/_origin/stats`).then(() => true, () => false), false);
    }
    const err = await stderr;
    assert(err.includes("Removed ") && err.includes("stopped 4 nodes"), err);
    if (doc.netnsPrefix) assertEquals(await namespacesWith(doc.netnsPrefix), [], "namespaces left behind");
  } finally {
    await browser?.close();
    try {
      child.kill("SIGKILL");
    } catch { /* exited */ }
    await child.status;
    await drained;
    await stderr;
    // If the demo was killed, its nodes may remain: stop them by pid, remove its folder.
    for (const n of doc?.nodes ?? []) {
      try {
        Deno.kill(n.pid, "SIGKILL");
      } catch { /* gone */ }
    }
    if (doc) await Deno.remove(doc.workDir, { recursive: true }).catch(() => {});
    for (const ns of doc?.netnsPrefix ? await namespacesWith(doc.netnsPrefix) : []) {
      await new Deno.Command("ip", { args: ["netns", "del", ns] }).output();
    }
  }
}

Deno.test({
  name: "webcache demo (proxy, loopback): summary equals the nodes' counters; dashboard live; Ctrl-C removes all",
  // playwright-core's pipes to Chromium are closed in finally; the browser part owns them.
  sanitizeResources: false,
  sanitizeOps: false,
  fn: () => checkDemo("proxy", 400, true),
});

for (const method of ["dr", "tun"] as const) {
  Deno.test({
    ...await requires(
      `webcache demo --method ${method} (root, namespaces): summary equals the nodes' counters, direct return`,
      { netns: true },
    ),
    fn: () => checkDemo(method, 300, false),
  });
}

Deno.test("webcache demo rejects bad flags with status 2 and names the flag", async () => {
  const { runWebcache } = await import("../_bin.ts");
  const cases: [string[], string][] = [
    [["--requests", "0"], `--requests: "0" is not a positive integer`],
    [["--concurrency", "2.5"], `--concurrency: "2.5" is not a positive integer`],
    [["--zipf", "-1"], `--zipf: "-1" is not a positive number`],
    [["--method", "nat"], "argument 'nat' is invalid"],
  ];
  for (const [args, msg] of cases) {
    const r = await runWebcache(["demo", ...args]);
    assertEquals(r.code, 2, args.join(" "));
    assert(r.stderr.includes(msg), `${args.join(" ")}: ${r.stderr}`);
  }
});
