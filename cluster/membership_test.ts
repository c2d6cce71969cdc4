import assert from "node:assert/strict";
import { AdminServer } from "../admin/server.ts";
import { validateConfig } from "../config/load.ts";
import { setLogSink } from "../core/log.ts";
import { registry } from "../core/metrics.ts";
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
