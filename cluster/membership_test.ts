import assert from "node:assert/strict";
import { AdminServer } from "../admin/server.ts";
import { validateConfig } from "../config/load.ts";
import { setLogSink } from "../core/log.ts";
import { registry } from "../core/metrics.ts";
import { Keyring } from "./keyring.ts";
import { Membership } from "./membership.ts";
import type { NodeRecord } from "./node.ts";

setLogSink(() => {});

const KEY = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));

function cfg(extra: Record<string, unknown> = {}) {
  return validateConfig({
    cluster: {
      name: "t",
      gossipListen: "127.0.0.1:0",
      secretKey: KEY,
      probeIntervalMs: 100,
      probeTimeoutMs: 50,
      gossipIntervalMs: 30,
      pushPullIntervalMs: 1000,
      ...extra,
    },
  });
}

async function until(what: string, fn: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

async function counter(name: string, labels: Record<string, string> = {}): Promise<number> {
  const m = (await registry.getMetricsAsJSON()).find((x) => x.name === name);
  const v = m?.values.find((x) => Object.entries(labels).every(([k, l]) => x.labels[k] === l));
  return Number(v?.value ?? 0);
}

const state = (m: Membership, name: string) => m.members().find((r: NodeRecord) => r.name === name)?.state;

Deno.test("Membership: three nodes join over UDP/TCP, see updates, and a leave", async () => {
  const nodes: Membership[] = [];
  try {
    const a = await Membership.start({ cfg: cfg(), record: { name: "a", role: "director", weight: 1 } });
    nodes.push(a);
    const seed = [`127.0.0.1:${a.addr.port}`];
    nodes.push(
      await Membership.start({ cfg: cfg({ peers: seed }), record: { name: "b", role: "cache", weight: 100 } }),
    );
    nodes.push(
      await Membership.start({ cfg: cfg({ peers: seed }), record: { name: "c", role: "cache", weight: 100 } }),
    );
    const [, b, c] = nodes;
    await until(
      "full membership",
      () => nodes.every((n) => n.members().filter((r) => r.state === "alive").length === 3),
    );
    let changes = 0;
    const off = a.onChange(() => changes++);
    b.update({ weight: 7, state: "draining", service: "web" });
    await until("update seen", () => a.members().find((r) => r.name === "b")?.weight === 7);
    assert.equal(state(a, "b"), "draining");
    assert.equal(a.members().find((r) => r.name === "b")?.service, "web");
    await until("change event", () => changes > 0, 1000);
    off();
    await c.leave();
    await until("leave seen", () => state(a, "c") === "left" && state(b, "c") === "left", 1000);
    const doc = a.document();
    assert.equal(doc.members[0].name, "a");
    assert.equal(doc.members.length, 3);
  } finally {
    for (const n of nodes) await n.stop();
  }
});

Deno.test("Membership: a node with another key never joins, and its packets are counted as dropped", async () => {
  const nodes: Membership[] = [];
  try {
    const a = await Membership.start({ cfg: cfg(), record: { name: "a", role: "cache", weight: 1 } });
    nodes.push(a);
    const before = await counter("webcache_cluster_messages_dropped_total", { reason: "auth" });
    const other = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
    const x = await Membership.start({
      cfg: cfg({ secretKey: other, peers: [`127.0.0.1:${a.addr.port}`] }),
      record: { name: "x", role: "cache", weight: 1 },
    });
    nodes.push(x);
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(a.members().length, 1);
    assert.equal(x.members().length, 1);
    assert.ok(await counter("webcache_cluster_messages_dropped_total", { reason: "auth" }) > before);
  } finally {
    for (const n of nodes) await n.stop();
  }
});

Deno.test("Membership: garbage datagrams are dropped and counted, never fatal", async () => {
  const a = await Membership.start({
    cfg: cfg({ insecure: true, secretKey: undefined }),
    record: { name: "a", role: "cache", weight: 1 },
  });
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    const short = await counter("webcache_cluster_messages_dropped_total", { reason: "short" });
    const garbled = await counter("webcache_cluster_messages_dropped_total", { reason: "version" });
    const to = { transport: "udp" as const, hostname: "127.0.0.1", port: a.addr.port };
    await sock.send(Uint8Array.of(0, 1, 0x74, 1), to); // clear envelope of cluster "t", 1-byte packet
    await sock.send(Uint8Array.of(9, 9, 9), to); // unknown envelope version
    await new Promise((r) => setTimeout(r, 200));
    assert.ok(await counter("webcache_cluster_messages_dropped_total", { reason: "short" }) > short);
    assert.ok(await counter("webcache_cluster_messages_dropped_total", { reason: "version" }) > garbled);
    assert.equal(a.members().length, 1);
  } finally {
    sock.close();
    await a.stop();
  }
});

Deno.test("Membership: a replayed or stale sealed datagram is dropped and counted", async () => {
  const a = await Membership.start({ cfg: cfg(), record: { name: "a", role: "cache", weight: 1 } });
  const sock = Deno.listenDatagram({ transport: "udp", hostname: "127.0.0.1", port: 0 });
  try {
    const replay = await counter("webcache_cluster_messages_dropped_total", { reason: "replay" });
    const stale = await counter("webcache_cluster_messages_dropped_total", { reason: "stale" });
    const to = { transport: "udp" as const, hostname: "127.0.0.1", port: a.addr.port };
    // Captured traffic: sealed with the cluster key (its content does not matter to the envelope).
    const captured = await (await Keyring.create([KEY], "t")).seal(Uint8Array.of(1, 2, 3));
    await sock.send(captured, to);
    await sock.send(captured, to);
    const old = await (await Keyring.create([KEY], "t", { now: () => Date.now() - 600_000 })).seal(Uint8Array.of(1));
    await sock.send(old, to);
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(await counter("webcache_cluster_messages_dropped_total", { reason: "replay" }), replay + 1);
    assert.equal(await counter("webcache_cluster_messages_dropped_total", { reason: "stale" }), stale + 1);
  } finally {
    sock.close();
    await a.stop();
  }
});

Deno.test("Membership: oversized and garbage TCP frames are dropped and counted", async () => {
  const a = await Membership.start({ cfg: cfg(), record: { name: "a", role: "cache", weight: 1 } });
  try {
    const oversized = await counter("webcache_cluster_messages_dropped_total", { reason: "oversized" });
    const auth = await counter("webcache_cluster_messages_dropped_total", { reason: "auth" });
    for (const frame of [Uint8Array.of(0xff, 0xff, 0xff, 0xff), Uint8Array.of(0, 0, 0, 40, 1, ...new Uint8Array(39))]) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: a.addr.port });
      await conn.write(frame);
      const buf = new Uint8Array(16);
      assert.equal(await conn.read(buf), null, "server closes without answering");
      conn.close();
    }
    assert.equal(await counter("webcache_cluster_messages_dropped_total", { reason: "oversized" }), oversized + 1);
    assert.equal(await counter("webcache_cluster_messages_dropped_total", { reason: "auth" }), auth + 1);
    assert.equal(a.members().length, 1);
  } finally {
    await a.stop();
  }
});

Deno.test("Membership derives a stable id from the name and reports two nodes sharing one", async () => {
  const a = await Membership.start({ cfg: cfg(), record: { name: "same", role: "cache", weight: 1 } });
  const id = a.local.id;
  const before = await counter("webcache_cluster_id_conflicts_total");
  let b: Membership | undefined;
  try {
    assert.match(id, /^[0-9a-f]{16}$/);
    b = await Membership.start({
      cfg: cfg({ peers: [`127.0.0.1:${a.addr.port}`] }),
      record: { name: "same", role: "cache", weight: 1 },
    });
    assert.equal(b.local.id, id, "same name, same id");
    const end = Date.now() + 3000;
    while (await counter("webcache_cluster_id_conflicts_total") === before && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert.ok(await counter("webcache_cluster_id_conflicts_total") > before, "conflict not counted");
  } finally {
    await b?.stop();
    await a.stop();
  }
});

Deno.test("Membership.start() refuses to run without a key unless cluster.insecure is set", async () => {
  await assert.rejects(
    Membership.start({ cfg: cfg({ secretKey: undefined }), record: { role: "cache", weight: 1 }, envKey: "" }),
    /Refusing to start cluster membership without a key/,
  );
});

Deno.test("Membership serves /members and a cluster section of /status on the admin endpoint", async () => {
  const ac = new AbortController();
  const a = await Membership.start({ cfg: cfg(), record: { name: "a", role: "cache", weight: 3 }, signal: ac.signal });
  const admin = new AdminServer({ hostname: "127.0.0.1", port: 0, allow: ["127.0.0.0/8"], node: "a", role: "cache" })
    .start();
  try {
    a.registerAdmin(admin);
    const base = `http://127.0.0.1:${admin.addr.port}`;
    const doc = await (await fetch(`${base}/members`)).json();
    assert.equal(doc.cluster, "t");
    assert.equal(doc.members[0].name, "a");
    assert.equal(doc.members[0].weight, 3);
    const status = await (await fetch(`${base}/status`)).json();
    assert.deepEqual(status.cluster.members, { alive: 1 });
  } finally {
    ac.abort();
    await admin.stop();
    await a.stop();
  }
});

const syncBase = (extra = "") =>
  `cluster:\n  name: t\n  gossipListen: "127.0.0.1:0"\n  secretKey: "${KEY}"\n  configSync: true\n` +
  `  probeIntervalMs: 100\n  probeTimeoutMs: 50\n  gossipIntervalMs: 30\n${extra}`;

Deno.test("Membership with cluster.configSync: a published change is adopted, node-local keys kept", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wccl-sync-" });
  const nodes: Membership[] = [];
  try {
    const { loadConfig } = await import("../config/load.ts");
    const oldText = syncBase() + "log:\n  level: info\n";
    const newText = syncBase().replace("probeTimeoutMs: 50", "probeTimeoutMs: 60") + "log:\n  level: warn\n";
    await Deno.writeTextFile(`${dir}/a.yaml`, oldText);
    await Deno.writeTextFile(`${dir}/b.yaml`, oldText);
    const a = await Membership.start({
      cfg: await loadConfig(`${dir}/a.yaml`),
      configFile: `${dir}/a.yaml`,
      record: { name: "a", role: "cache", weight: 1 },
    });
    nodes.push(a);
    const peers = { path: ["cluster", "peers"], value: [`127.0.0.1:${a.addr.port}`], flag: "--peers" };
    const b = await Membership.start({
      cfg: await loadConfig(`${dir}/b.yaml`, [peers]),
      configFile: `${dir}/b.yaml`,
      record: { name: "b", role: "cache", weight: 1 },
    });
    nodes.push(b);
    assert.equal(a.local.configVersion, 0, "a file without a version file is unpublished");
    assert.equal(a.local.configHash, b.local.configHash, "--peers is node-local: same hash");
    const events: unknown[] = [];
    b.onConfig((d) =>
      events.push({ reloadable: d.reloadable, restart: d.restart, from: d.from, level: d.cfg.log.level })
    );
    await until("b sees a", () => state(b, "a") === "alive");

    // The operator edits a's file and a publishes it (SIGHUP in the roles).
    await Deno.writeTextFile(`${dir}/a.yaml`, newText);
    const v = await a.publishConfig();
    assert.equal(v.version, 1);
    assert.equal(a.local.configVersion, 1);
    await until("b adopts a's config", () => b.local.configHash === a.local.configHash, 5000);
    assert.equal(b.local.configVersion, 1);
    await until("config event", () => events.length === 1, 1000);
    assert.deepEqual(events[0], {
      reloadable: ["log.level"],
      restart: ["cluster.probeTimeoutMs"],
      from: "a",
      level: "warn",
    });
    assert.equal(await Deno.readTextFile(`${dir}/b.yaml`), newText);
    assert.deepEqual(b.config.cluster.peers, [`127.0.0.1:${a.addr.port}`], "node-local keys kept");
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${dir}/b.yaml.version`)), { version: 1, hash: v.hash });
    assert.deepEqual(JSON.parse(await Deno.readTextFile(`${dir}/a.yaml.version`)), { version: 1, hash: v.hash });
    // Publishing an unchanged file is no new version.
    assert.deepEqual(await a.publishConfig(), v);
  } finally {
    for (const n of nodes) await n.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("Membership with cluster.configSync: a node refuses a config it cannot run, keeps its own, says why", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wccl-refuse-" });
  const nodes: Membership[] = [];
  try {
    const { loadConfig } = await import("../config/load.ts");
    await Deno.writeTextFile(`${dir}/a.yaml`, syncBase());
    // b owns its VIPs with nftables: a node-local key that director HA cannot work with.
    const bText = syncBase() + "director:\n  vipMode: nft\n";
    await Deno.writeTextFile(`${dir}/b.yaml`, bText);
    const a = await Membership.start({
      cfg: await loadConfig(`${dir}/a.yaml`),
      configFile: `${dir}/a.yaml`,
      record: { name: "a", role: "cache", weight: 1 },
    });
    nodes.push(a);
    const peers = { path: ["cluster", "peers"], value: [`127.0.0.1:${a.addr.port}`], flag: "--peers" };
    const b = await Membership.start({
      cfg: await loadConfig(`${dir}/b.yaml`, [peers]),
      configFile: `${dir}/b.yaml`,
      record: { name: "b", role: "cache", weight: 1 },
    });
    nodes.push(b);
    let events = 0;
    b.onConfig(() => events++);
    await until("b sees a", () => state(b, "a") === "alive");
    const refusedBefore = await counter("webcache_cluster_config_syncs_total", { result: "refused" });

    await Deno.writeTextFile(`${dir}/a.yaml`, syncBase() + "director:\n  ha:\n    mode: active-backup\n");
    const v1 = await a.publishConfig();
    await until("b refuses v1", () => b.local.configRefused?.version === 1, 5000);
    assert.equal(b.local.configRefused?.hash, v1.hash);
    assert.match(b.local.configRefused!.reason, /director\.ha\.mode.*needs director\.vipMode arp/);
    assert.equal(b.local.configVersion, 0, "b keeps running its own version");
    assert.equal(b.config.director.ha.mode, "none");
    assert.equal(await Deno.readTextFile(`${dir}/b.yaml`), bText, "b's file is untouched");
    await until("a sees the refusal", () => a.members().find((m) => m.name === "b")?.configRefused?.version === 1);
    assert.equal(b.document().members[0].configRefused?.version, 1);
    // Not retried in a loop: more member changes and push-pulls go by, one refusal stays one.
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await counter("webcache_cluster_config_syncs_total", { result: "refused" }) - refusedBefore, 1);
    assert.equal(events, 0);

    // A later version b can run is adopted, and the refusal goes.
    await Deno.writeTextFile(`${dir}/a.yaml`, syncBase() + "log:\n  level: warn\n");
    const v2 = await a.publishConfig();
    assert.equal(v2.version, 2);
    await until("b adopts v2", () => b.local.configVersion === 2, 5000);
    assert.equal(b.local.configRefused, undefined);
    assert.equal(b.config.director.vipMode, "nft", "its own VIP set-up stays");
    assert.equal(b.config.log.level, "warn");
  } finally {
    for (const n of nodes) await n.stop();
    await Deno.remove(dir, { recursive: true });
  }
});
