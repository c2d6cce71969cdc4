/**
 * `webcache demo --directors 2` (the bundle, as root, in network namespaces; DR and TUN): two directors in HA active-backup;
 * a third of the way through the load the demo kills the MASTER (SIGKILL) and reports the takeover. The test
 * checks the JSON summary (director-1 killed, director-2 MASTER within a second, the load answered), that the
 * demo's dashboard data (`/cluster/status`) shows director-2 holding the VIP and director-1 unreachable, and
 * that Ctrl-C removes every namespace.
 */
import { assert, assertEquals } from "../_assert.ts";
import { requires } from "../_requires.ts";
import { spawnWebcache } from "../_bin.ts";
import type { DemoJson } from "../../demo/run_demo.ts";
import type { ClusterStatus } from "../../status/cluster_status.ts";

async function namespacesWith(prefix: string): Promise<string[]> {
  const out = await new Deno.Command("ip", { args: ["netns", "list"], stdout: "piped", stderr: "null" }).output();
  return new TextDecoder().decode(out.stdout).split("\n").map((l) => l.split(" ")[0]).filter((n) =>
    n.startsWith(prefix)
  );
}

/** Reads stdout up to its first newline; the rest is drained in the background. */
async function firstLine(stream: ReadableStream<Uint8Array>): Promise<{ line: string; rest: Promise<void> }> {
  const reader = stream.getReader();
  const dec = new TextDecoder();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += dec.decode(value, { stream: true });
  }
  const rest = (async () => {
    while (!(await reader.read()).done) { /* drain */ }
  })();
  return { line: text.split("\n")[0], rest };
}

for (const method of ["dr", "tun"] as const) {
  Deno.test({
    ...await requires(
      `webcache demo --directors 2 --method ${method}: the MASTER is killed mid-load, the BACKUP takes the VIP`,
      { netns: true },
    ),
    async fn() {
      const requests = 1500;
      const child = await spawnWebcache(
        ["demo", "--method", method, "--directors", "2", "--requests", String(requests), "--concurrency", "4"]
          .concat(["--objects", "400", "--json", "--duration", "300"]),
        { stdout: "piped" },
      );
      const stderr = (async () => new TextDecoder().decode(await new Response(child.stderr).arrayBuffer()))();
      let doc: DemoJson | undefined;
      let drained: Promise<void> | undefined;
      try {
        const first = await firstLine(child.stdout);
        drained = first.rest;
        if (!first.line.startsWith("{")) {
          child.kill("SIGKILL");
          throw new Error(`no JSON summary; stderr:\n${await stderr}`);
        }
        doc = JSON.parse(first.line) as DemoJson;
        const t = doc.takeover;
        assert(t, "no takeover in the summary");
        assertEquals([t.killed, t.master], ["director-1", "director-2"]);
        assert(t.takeoverMs < 1500, `takeover took ${t.takeoverMs} ms`);
        assert(t.atRequest >= requests / 3 && t.atRequest < requests, `killed at request ${t.atRequest}`);
        assert(doc.summary.load.responses >= requests * 0.99, `answered ${doc.summary.load.responses} of ${requests}`);
        assertEquals(doc.nodes.filter((n) => n.role === "director").map((n) => n.name), ["director-1", "director-2"]);

        // What the dashboard draws: every director, director-2 MASTER holding the VIP, director-1 gone.
        const base = doc.dashboard.replace(/\/dashboard$/, "");
        const vip = doc.vip.split(":")[0];
        let st: ClusterStatus | undefined;
        for (let i = 0; i < 20; i++) {
          st = await (await fetch(`${base}/cluster/status`)).json() as ClusterStatus;
          if (st.members.find((m) => m.name === "director-2")?.director?.ha?.role === "MASTER") break;
          await new Promise((r) => setTimeout(r, 500));
        }
        const d1 = st!.members.find((m) => m.name === "director-1")!;
        const d2 = st!.members.find((m) => m.name === "director-2")!;
        assertEquals(d1.reachable, false);
        assertEquals(d2.director?.ha, {
          mode: "active-backup",
          role: "MASTER",
          group: "demo",
          master: "director-2",
          vips: [vip],
        });

        child.kill("SIGINT");
        assertEquals((await child.status).code, 0);
        const err = await stderr;
        assert(err.includes("takeover: director-1 (MASTER) killed"), err);
        assertEquals(await namespacesWith(doc.netnsPrefix!), [], "namespaces left behind");
      } finally {
        try {
          child.kill("SIGKILL");
        } catch { /* exited */ }
        await child.status;
        await drained;
        await stderr;
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
    },
  });
}

Deno.test("webcache demo --directors 2 refuses the loopback (proxy) mode with status 2", async () => {
  const { runWebcache } = await import("../_bin.ts");
  const r = await runWebcache(["demo", "--method", "proxy", "--directors", "2"]);
  assertEquals(r.code, 2);
  assert(r.stderr.includes("--directors 2"), r.stderr);
});
