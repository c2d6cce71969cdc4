/**
 * `webcache cache` (the bundle) with cluster membership: each cache advertises its HTTP and ICP
 * addresses, service and weight; a cache joined by seed takes the other live caches as peering
 * siblings; SIGTERM announces `left` and the sibling is dropped at once.
 */
import assert from "node:assert/strict";
import { spawnWebcache } from "../_bin.ts";
import { FAST, randomKey } from "./_cluster_harness.ts";

function freePort(udp = false): number {
  if (udp) {
    const c = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
    const p = (c.addr as Deno.NetAddr).port;
    c.close();
    return p;
  }
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = (l.addr as Deno.NetAddr).port;
  l.close();
  return p;
}

interface Cache {
  proc: Deno.ChildProcess;
  admin: number;
  http: number;
}

async function json(port: number, path: string): Promise<Record<string, unknown>> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`);
  return await res.json();
}

Deno.test("cache: caches advertise themselves, take each other as siblings, and leave on SIGTERM", async () => {
  const key = randomKey();
  const dir = await Deno.makeTempDir({ prefix: "wccl-cache-" });
  const caches: Cache[] = [];
  const start = async (name: string, peers: string[]): Promise<Cache> => {
    const c = { admin: freePort(), http: freePort() };
    const cfg = {
      cluster: { name: "cc", gossipListen: "127.0.0.1:0", nodeName: name, peers, ...FAST },
      admin: { listen: `127.0.0.1:${c.admin}` },
      log: { level: "warn" },
      cache: {
        listen: [{ address: `127.0.0.1:${c.http}`, mode: "accel" }],
        workers: 2,
        service: "web",
        weight: 7,
        peering: { mode: "hash" },
      },
      icp: { enabled: true, listen: "127.0.0.1", port: freePort(true) },
    };
    await Deno.writeTextFile(`${dir}/${name}.yaml`, JSON.stringify(cfg));
    const proc = await spawnWebcache(["cache", "--config", `${dir}/${name}.yaml`], {
      env: { WEBCACHE_CLUSTER_KEY: key },
      stdout: "null",
    });
    const cache = { ...c, proc };
    caches.push(cache);
    const end = Date.now() + 30_000;
    for (;;) {
      try {
        await json(c.admin, "/members");
        return cache;
      } catch {
        if (Date.now() > end) throw new Error(`${name} did not start`);
        await new Promise((r) => setTimeout(r, 200));
      }
    }
  };
  try {
    const a = await start("cache-a", []);
    const aDoc = await json(a.admin, "/members") as { members: { addrs: { gossip: string } }[] };
    const seed = aDoc.members[0].addrs.gossip;
    const b = await start("cache-b", [seed]);
    type Doc = {
      members: { name: string; state: string; weight: number; service: string; addrs: Record<string, string> }[];
    };
    let doc: Doc = { members: [] };
    const end = Date.now() + 15_000;
    while (Date.now() < end) {
      doc = await json(b.admin, "/members") as Doc;
      if (doc.members.filter((m) => m.state === "alive").length === 2) break;
      await new Promise((r) => setTimeout(r, 200));
    }
    const aRec = doc.members.find((m) => m.name === "cache-a");
    assert.ok(aRec, JSON.stringify(doc));
    assert.equal(aRec.addrs.http, `127.0.0.1:${a.http}`);
    assert.match(aRec.addrs.icp, /^127\.0\.0\.1:\d+$/);
    assert.equal(aRec.weight, 7);
    assert.equal(aRec.service, "web");
    // b's peering knows a as a sibling (within a second of the change).
    const sibling = new RegExp(`127\\.0\\.0\\.1:${a.http}`);
    let peering = "";
    for (const until = Date.now() + 1000; Date.now() < until;) {
      peering = JSON.stringify((await json(b.admin, "/status")).peering);
      if (sibling.test(peering)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.match(peering, sibling, peering);

    a.proc.kill("SIGTERM");
    assert.equal((await a.proc.status).code, 0);
    await a.proc.stderr.cancel();
    caches.shift();
    const end2 = Date.now() + 3_000;
    let state = "";
    while (Date.now() < end2) {
      state = ((await json(b.admin, "/members")) as Doc).members.find((m) => m.name === "cache-a")?.state ?? "";
      if (state === "left") break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(state, "left");
    let after = "";
    for (const until = Date.now() + 1000; Date.now() < until;) {
      after = JSON.stringify((await json(b.admin, "/status")).peering);
      if (!sibling.test(after)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.doesNotMatch(after, sibling, after);
  } finally {
    for (const c of caches) {
      try {
        c.proc.kill("SIGKILL");
      } catch { /* gone */ }
      await c.proc.status;
      await c.proc.stderr.cancel();
    }
    await Deno.remove(dir, { recursive: true });
  }
});
