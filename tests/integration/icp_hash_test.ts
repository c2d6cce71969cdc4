/**
 * URL-hash ownership (cache.peering.mode: hash) with three caches on loopback: every URL is stored
 * exactly once across the array, and stopping one cache moves only its share.
 */
import assert from "node:assert/strict";
import { CacheNode, curlIn, randomPort } from "./_icp_nodes.ts";

const HOST = "www.icp-hash.test";
const URLS = Array.from({ length: 30 }, (_, i) => `/h/${i}`);

Deno.test("hash peering: three caches store each URL once; stopping one moves only its share", async () => {
  const seen = new Map<string, number>();
  const origin = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const p = new URL(req.url).pathname;
    seen.set(p, (seen.get(p) ?? 0) + 1);
    return new Response(`body ${p}\n`, { headers: { "cache-control": "max-age=600" } });
  });
  const ports = [0, 1, 2].map(() => ({ http: randomPort(), icp: randomPort(), admin: randomPort() }));
  const peers = ports.map((p) => ({ host: "127.0.0.1", httpPort: p.http, icpPort: p.icp, type: "sibling" }));
  const nodes: (CacheNode | undefined)[] = [];
  const holders = async (path: string, which: number[]) => {
    const out: number[] = [];
    for (const i of which) {
      const r = await curlIn(undefined, `http://127.0.0.1:${ports[i].http}${path}`, {
        host: HOST,
        "cache-control": "only-if-cached",
      });
      if (r.status === 200) out.push(i);
    }
    return out;
  };
  try {
    for (let i = 0; i < 3; i++) {
      nodes.push(
        await CacheNode.start(`hash${i}`, {
          cluster: { nodeName: `hash${i}` },
          admin: { listen: `127.0.0.1:${ports[i].admin}` },
          cache: {
            listen: [{ address: `127.0.0.1:${ports[i].http}`, mode: "accel" }],
            defaultOrigin: `http://127.0.0.1:${origin.addr.port}`,
            workers: 2,
            peers, // the same list on every cache; each finds itself in it
            peering: { mode: "hash" },
          },
          icp: { port: ports[i].icp, listen: "127.0.0.1", timeoutMs: 300, deadPeerMs: 3000 },
        }),
      );
    }
    // Wait until every cache sees the other two alive (they started one after the other).
    for (let k = 0; k < 100; k++) {
      const alive = await Promise.all(ports.map(async (p) => {
        const st = await (await fetch(`http://127.0.0.1:${p.admin}/status`)).json();
        return (st.peering.members as { alive: boolean }[]).filter((m) => m.alive).length;
      }));
      if (alive.every((n) => n === 3)) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    // Each URL asked twice, through two different caches.
    for (const [k, path] of URLS.entries()) {
      for (const via of [k % 3, (k + 1) % 3]) {
        const r = await curlIn(undefined, `http://127.0.0.1:${ports[via].http}${path}`, { host: HOST });
        assert.equal(r.status, 200);
        assert.equal(r.body, `body ${path}\n`);
      }
    }
    assert.deepEqual([...seen].filter(([, n]) => n !== 1), [], "each URL came from the origin once");
    const owner = new Map<string, number>();
    for (const path of URLS) {
      const h = await holders(path, [0, 1, 2]);
      assert.equal(h.length, 1, `${path} stored on caches ${h}`);
      owner.set(path, h[0]);
    }
    const share = [0, 1, 2].map((i) => [...owner.values()].filter((o) => o === i).length);
    assert.ok(share.every((n) => n > 0), `shares ${share}`);

    // Stop cache 2; after icp.deadPeerMs the others take over its URLs and only those.
    await nodes[2]!.stop();
    nodes[2] = undefined;
    await new Promise((r) => setTimeout(r, 6500));
    for (const [k, path] of URLS.entries()) {
      const r = await curlIn(undefined, `http://127.0.0.1:${ports[k % 2].http}${path}`, { host: HOST });
      assert.equal(r.status, 200);
    }
    for (const path of URLS) {
      const expected = owner.get(path) === 2 ? 2 : 1;
      assert.equal(seen.get(path), expected, `${path} (owner ${owner.get(path)}) origin fetches`);
      const h = await holders(path, [0, 1]);
      assert.equal(h.length, 1, `${path} stored on ${h}`);
      if (owner.get(path) !== 2) assert.equal(h[0], owner.get(path), `${path} moved`);
    }
  } finally {
    for (const n of nodes) await n?.stop();
    await origin.shutdown();
  }
});

Deno.test("hash+icp peering: a returning cache takes its objects back from their stand-in owners, not the origin", async () => {
  const seen = new Map<string, number>();
  const origin = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen() {} }, (req) => {
    const p = new URL(req.url).pathname;
    seen.set(p, (seen.get(p) ?? 0) + 1);
    return new Response(`body ${p}\n`, { headers: { "cache-control": "max-age=600" } });
  });
  const ports = [0, 1, 2].map(() => ({ http: randomPort(), icp: randomPort(), admin: randomPort() }));
  const peers = ports.map((p) => ({ host: "127.0.0.1", httpPort: p.http, icpPort: p.icp, type: "sibling" }));
  const config = (i: number) => ({
    cluster: { nodeName: `hi${i}` },
    admin: { listen: `127.0.0.1:${ports[i].admin}` },
    cache: {
      listen: [{ address: `127.0.0.1:${ports[i].http}`, mode: "accel" }],
      defaultOrigin: `http://127.0.0.1:${origin.addr.port}`,
      workers: 2,
      peers,
      peering: { mode: "hash+icp", warmupMs: 20000 },
    },
    // minTimeoutMs: on a loaded test machine an ICP answer takes 1-5 ms at times; the adaptive
    // 2 × RTT timeout (5 ms floor) would send the returning cache to the origin instead.
    icp: { port: ports[i].icp, listen: "127.0.0.1", timeoutMs: 1000, minTimeoutMs: 300, deadPeerMs: 3000 },
  });
  const get = (i: number, path: string, extra: Record<string, string> = {}) =>
    curlIn(undefined, `http://127.0.0.1:${ports[i].http}${path}`, { host: HOST, ...extra });
  const aliveCounts = () =>
    Promise.all(ports.map(async (p) => {
      try {
        const st = await (await fetch(`http://127.0.0.1:${p.admin}/status`)).json();
        return (st.peering.members as { alive: boolean }[]).filter((m) => m.alive).length;
      } catch {
        return 0;
      }
    }));
  const waitAlive = async (want: number[]) => {
    for (let k = 0; k < 150; k++) {
      const a = await aliveCounts();
      if (want.every((i) => a[i] === 3)) return;
      await new Promise((r) => setTimeout(r, 100));
    }
    throw new Error(`caches ${want} never saw three live members: ${await aliveCounts()}`);
  };
  const nodes: (CacheNode | undefined)[] = [];
  try {
    for (let i = 0; i < 3; i++) nodes.push(await CacheNode.start(`hi${i}`, config(i)));
    await waitAlive([0, 1, 2]);
    for (const [k, path] of URLS.entries()) assert.equal((await get(k % 3, path)).status, 200);
    const owner = new Map<string, number>();
    for (const path of URLS) {
      for (const i of [0, 1, 2]) {
        if ((await get(i, path, { "cache-control": "only-if-cached" })).status === 200) owner.set(path, i);
      }
    }
    const share2 = URLS.filter((p) => owner.get(p) === 2);
    assert.ok(share2.length > 0);

    // Cache 2 leaves: its URLs get stand-in owners among 0 and 1, which fetch them once.
    await nodes[2]!.stop();
    nodes[2] = undefined;
    await new Promise((r) => setTimeout(r, 6500));
    for (const [k, path] of share2.entries()) assert.equal((await get(k % 2, path)).status, 200);
    for (const path of share2) assert.equal(seen.get(path), 2, path);

    // Cache 2 returns (empty). It owns its share again and, while warming up, asks ICP before the origin.
    nodes[2] = await CacheNode.start("hi2", config(2));
    await waitAlive([0, 1, 2]);
    for (const path of share2) {
      const r = await get(2, path);
      assert.equal(r.status, 200);
      assert.equal(r.body, `body ${path}\n`);
    }
    for (const path of share2) assert.equal(seen.get(path), 2, `${path}: taken from a stand-in, not the origin`);
    for (const path of share2) assert.equal((await get(2, path, { "cache-control": "only-if-cached" })).status, 200);
  } finally {
    for (const n of nodes) await n?.stop();
    await origin.shutdown();
  }
});
