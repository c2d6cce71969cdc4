/**
 * `cluster.configSync` on a running `webcache director` (the bundle): a peer gossips a newer
 * config version (counter 1 against the director's unpublished 0) that quiesces one real server (weight 0), adds another and changes a restart-only
 * key. The director adopts it without a restart: new connections go to the added server, an
 * established proxied connection to the quiesced one keeps working, and the restart-only key is
 * logged once and listed as `cluster.restartNeeded` in `/status`; the file it rewrites keeps the
 * director's own node name, gossip and admin addresses. A synced config the director's reload
 * throws on is refused: nothing changes, and the refusal and its reason are gossiped.
 */
import assert from "node:assert/strict";
import { parseYaml } from "../../config/load.ts";
import { spawnWebcache } from "../_bin.ts";
import { FAST, type NodeProc, randomKey, startNode, stopAll } from "./_cluster_harness.ts";

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const p = (l.addr as Deno.NetAddr).port;
  l.close();
  return p;
}

/** A TCP server that greets with its name and a newline, then echoes. */
function echoServer(name: string): { port: number; close: () => Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.TcpConn>();
  const tasks: Promise<void>[] = [];
  const serve = async (c: Deno.TcpConn) => {
    conns.add(c);
    try {
      await c.write(new TextEncoder().encode(`${name}\n`));
      const buf = new Uint8Array(4096);
      for (let n; (n = await c.read(buf)) !== null;) await c.write(buf.subarray(0, n));
    } catch {
      /* peer gone */
    } finally {
      conns.delete(c);
      try {
        c.close();
      } catch { /* closed */ }
    }
  };
  const accepting = (async () => {
    try {
      for await (const c of listener) tasks.push(serve(c));
    } catch { /* closed */ }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    close: async () => {
      listener.close();
      for (const c of conns) {
        try {
          c.close();
        } catch { /* closed */ }
      }
      await accepting;
      await Promise.all(tasks);
    },
  };
}

/** Reads up to and including the next newline (or throws on timeout/EOF). */
async function readLine(c: Deno.TcpConn, ms = 3000): Promise<string> {
  let text = "";
  const buf = new Uint8Array(256);
  const timer = setTimeout(() => c.close(), ms);
  try {
    while (!text.includes("\n")) {
      const n = await c.read(buf);
      if (n === null) throw new Error(`connection closed after ${JSON.stringify(text)}`);
      text += new TextDecoder().decode(buf.subarray(0, n));
    }
  } finally {
    clearTimeout(timer);
  }
  return text.trimEnd();
}

/** Which backend a new connection through the director reaches ("error" when none). */
async function greet(port: number): Promise<string> {
  let c: Deno.TcpConn | undefined;
  try {
    c = await Deno.connect({ hostname: "127.0.0.1", port });
    return await readLine(c);
  } catch {
    return "error";
  } finally {
    try {
      c?.close();
    } catch { /* closed by the timeout */ }
  }
}

Deno.test("director: a newer synced config changes real servers in place and reports restart-only keys", async () => {
  const key = randomKey();
  const a = echoServer("A");
  const b = echoServer("B");
  const nodes: NodeProc[] = [];
  const dir = await Deno.makeTempDir({ prefix: "wccl-cfgsync-" });
  let director: Deno.ChildProcess | undefined;
  let stderr: Promise<string> | undefined;
  let held: Deno.TcpConn | undefined;
  let passed = false;
  try {
    const vport = freePort();
    const adminPort = freePort();
    const service = (reals: unknown[]) => ({
      name: "web",
      vip: "127.0.0.1",
      port: vport,
      method: "proxy",
      scheduler: "wrr",
      health: { type: "none" },
      reals,
    });
    const cfg = {
      cluster: { name: "s", gossipListen: "127.0.0.1:0", nodeName: "lb", configSync: true, ...FAST },
      admin: { listen: `127.0.0.1:${adminPort}` },
      log: { level: "warn" },
      director: { services: [service([{ address: "127.0.0.1", port: a.port, weight: 1 }])] },
    };
    const file = `${dir}/appliance.yaml`;
    await Deno.writeTextFile(file, JSON.stringify(cfg)); // JSON is YAML (no version file: version 0)
    director = await spawnWebcache(["director", "--config", file], {
      env: { WEBCACHE_CLUSTER_KEY: key },
      stdout: "null",
    });
    const errText = director.stderr.pipeThrough(new TextDecoderStream());
    stderr = (async () => {
      let all = "";
      for await (const t of errText) all += t;
      return all;
    })();
    const admin = `http://127.0.0.1:${adminPort}`;
    const getJson = async (path: string) => {
      try {
        const res = await fetch(admin + path, { signal: AbortSignal.timeout(2000) });
        return res.ok ? await res.json() : undefined;
      } catch {
        return undefined;
      }
    };

    // An established proxied connection to A, held across the sync.
    let first = "error";
    for (const end = Date.now() + 20_000; first !== "A" && Date.now() < end;) {
      held?.close();
      held = undefined;
      try {
        held = await Deno.connect({ hostname: "127.0.0.1", port: vport });
        first = await readLine(held);
      } catch {
        await new Promise((r) => setTimeout(r, 200));
      }
    }
    assert.equal(first, "A", "the director proxies to A before the sync");
    assert.ok(held);
    const established: Deno.TcpConn = held;

    const members = await getJson("/members");
    const gossip: string = members.members.find((m: { name: string }) => m.name === "lb").addrs.gossip;

    // The peer's newer config: A quiesced, B added, and a key that needs a restart.
    const peer = await startNode({
      name: "peer",
      cluster: { name: "s", configSync: true, peers: [gossip], ...FAST },
      key,
      config: {
        director: {
          maxConnections: 500_000,
          services: [service([
            { address: "127.0.0.1", port: a.port, weight: 0 },
            { address: "127.0.0.1", port: b.port, weight: 1 },
          ])],
        },
      },
      configFile: `${dir}/peer.yaml`,
      configVersion: 1, // the cluster published this version
    });
    nodes.push(peer);

    type Srv = { address: string; port: number; weight: number };
    let servers: Srv[] = [];
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline) {
      const st = await getJson("/director/status");
      servers = st?.services?.[0]?.servers ?? [];
      if (servers.length === 2) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.deepEqual(
      servers.map((s) => [s.port, s.weight]).sort(),
      [[a.port, 0], [b.port, 1]].sort(),
      "the director took the synced real servers and weights",
    );
    for (let i = 0; i < 4; i++) assert.equal(await greet(vport), "B", "new connections go to the added server");

    // The connection established before the sync still reaches A.
    await established.write(new TextEncoder().encode("still there?\n"));
    assert.equal(await readLine(established), "still there?");

    const status = await getJson("/status");
    assert.deepEqual(status.cluster.restartNeeded, ["director.maxConnections"]);

    // The file now holds the synced config with this node's own name, gossip and admin addresses,
    // so a restart comes back as the same node.
    const saved = parseYaml(await Deno.readTextFile(file), file) as typeof cfg & {
      director: { maxConnections?: number };
    };
    assert.equal(saved.director.maxConnections, 500_000);
    assert.equal(saved.cluster.nodeName, "lb");
    assert.equal(saved.cluster.gossipListen, "127.0.0.1:0");
    assert.deepEqual(saved.admin, { listen: `127.0.0.1:${adminPort}` });
    passed = true;
  } finally {
    try {
      held?.close();
    } catch { /* closed */ }
    if (director) {
      try {
        director.kill("SIGTERM");
      } catch { /* gone */ }
      await director.status;
    }
    const log = (await stderr) ?? "";
    await stopAll(nodes);
    await a.close();
    await b.close();
    await Deno.remove(dir, { recursive: true });
    if (passed) {
      const warns = log.split("\n").filter((l) => l.includes("Synced config changes keys that need a restart"));
      assert.equal(warns.length, 1, `one restart warning in the director's log:\n${log}`);
      assert.ok(warns[0].includes("director.maxConnections"), warns[0]);
    }
  }
});

Deno.test("director: a synced config the director cannot apply is refused, gossiped with the reason, and changes nothing", async () => {
  const key = randomKey();
  const a = echoServer("A");
  const nodes: NodeProc[] = [];
  const dir = await Deno.makeTempDir({ prefix: "wccl-cfgrefuse-" });
  let director: Deno.ChildProcess | undefined;
  let stderr: Promise<string> | undefined;
  try {
    const vport = freePort();
    const adminPort = freePort();
    const service = (reals: unknown[]) => ({
      name: "web",
      vip: "127.0.0.1",
      port: vport,
      method: "proxy",
      health: { type: "none" },
      reals,
    });
    const cfg = {
      cluster: { name: "r", gossipListen: "127.0.0.1:0", nodeName: "lb", configSync: true, ...FAST },
      admin: { listen: `127.0.0.1:${adminPort}` },
      log: { level: "warn" },
      director: { services: [service([{ address: "127.0.0.1", port: a.port, weight: 1 }])] },
    };
    const file = `${dir}/appliance.yaml`;
    const text = JSON.stringify(cfg);
    await Deno.writeTextFile(file, text);
    director = await spawnWebcache(["director", "--config", file], {
      env: { WEBCACHE_CLUSTER_KEY: key },
      stdout: "null",
    });
    stderr = (async () => {
      let all = "";
      for await (const t of director!.stderr.pipeThrough(new TextDecoderStream())) all += t;
      return all;
    })();
    const getJson = async (path: string) => {
      try {
        const res = await fetch(`http://127.0.0.1:${adminPort}${path}`, { signal: AbortSignal.timeout(2000) });
        return res.ok ? await res.json() : undefined;
      } catch {
        return undefined;
      }
    };
    let members;
    for (const end = Date.now() + 20_000; !members && Date.now() < end;) {
      members = await getJson("/members");
      if (!members) await new Promise((r) => setTimeout(r, 200));
    }
    const gossip: string = members.members[0].addrs.gossip;

    // Valid YAML for the schema, but a service cannot mix proxying with DR: the director's reload
    // throws, so it refuses the config (a gossip-only peer has no director and would run it).
    const peer = await startNode({
      name: "peer",
      cluster: { name: "r", configSync: true, peers: [gossip], ...FAST },
      key,
      config: {
        director: {
          services: [service([
            { address: "127.0.0.1", port: a.port, weight: 1 },
            { address: "127.0.0.2", port: a.port, weight: 1, method: "dr" },
          ])],
        },
      },
      configFile: `${dir}/peer.yaml`,
      configVersion: 1,
    });
    nodes.push(peer);

    type Rec = { name: string; configVersion?: number; configRefused?: { version: number; reason: string } };
    let lb: Rec | undefined;
    for (const end = Date.now() + 20_000; !lb?.configRefused && Date.now() < end;) {
      await new Promise((r) => setTimeout(r, 100));
      lb = (await getJson("/members"))?.members?.[0];
    }
    assert.equal(lb?.configRefused?.version, 1, JSON.stringify(lb));
    assert.match(lb!.configRefused!.reason, /this node cannot apply it: .*mixes the proxy method with dr/);
    assert.equal(lb!.configVersion, 0, "the director keeps its own version");
    const status = await getJson("/status");
    assert.equal(status.cluster.configRefused.version, 1);
    // The peer sees the refusal in gossip too.
    let lbSeen: Rec | undefined;
    for (const end = Date.now() + 10_000; !lbSeen?.configRefused && Date.now() < end;) {
      const seen = await fetch(`http://127.0.0.1:${peer.admin}/members`).then((r) => r.json());
      lbSeen = seen.members.find((m: Rec) => m.name === "lb");
      if (!lbSeen?.configRefused) await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(lbSeen?.configRefused?.version, 1, "the refusal is gossiped");
    // Nothing changed: one real server, still proxied to A, file untouched.
    const st = await getJson("/director/status");
    assert.deepEqual(st.services[0].servers.map((s: { port: number }) => s.port), [a.port]);
    assert.equal(await greet(vport), "A");
    assert.equal(await Deno.readTextFile(file), text);
  } finally {
    if (director) {
      try {
        director.kill("SIGTERM");
      } catch { /* gone */ }
      await director.status;
    }
    const log = (await stderr) ?? "";
    await stopAll(nodes);
    await a.close();
    await Deno.remove(dir, { recursive: true });
    assert.ok(!/Adopted a newer config/.test(log), log);
    const refusals = log.split("\n").filter((l) => l.includes("Refused a peer's config"));
    assert.equal(refusals.length, 1, `refused once, not retried in a loop:\n${log}`);
  }
});
