import assert from "node:assert/strict";
import { parseYaml, validateConfig } from "../config/load.ts";
import { configHash } from "./config_hash.ts";
import { ConfigError } from "../config/load.ts";
import {
  acceptConfig,
  classifyChanges,
  ConfigHashMismatchError,
  diffConfig,
  isReloadable,
  mergeNodeLocal,
  mergeNodeLocalText,
} from "./config_sync.ts";

Deno.test("diffConfig() lists changed leaf paths, lists compared whole", () => {
  assert.deepEqual(diffConfig({ a: { b: 1, c: 2 }, l: [1] }, { a: { b: 1, c: 3 }, l: [1] }), ["a.c"]);
  assert.deepEqual(diffConfig({ l: [1, 2] }, { l: [1] }), ["l"]);
  assert.deepEqual(diffConfig({ a: 1 }, { b: 1 }), ["a", "b"]);
});

Deno.test("isReloadable() follows the schema's `Reload:` statements", () => {
  const cases: [string, boolean][] = [
    ["log.level", true],
    ["admin.allow", true],
    ["admin.listen", false],
    ["cluster.probeIntervalMs", false],
    ["cluster.name", false],
    ["no.such.key", false],
  ];
  for (const [path, want] of cases) assert.equal(isReloadable(path), want, path);
  assert.deepEqual(classifyChanges(["log.level", "cluster.name"]), {
    reloadable: ["log.level"],
    restart: ["cluster.name"],
  });
});

Deno.test("acceptConfig() checks the hash, keeps node-local keys and classifies changes", async () => {
  const current = validateConfig({ cluster: { nodeName: "me", gossipListen: "127.0.0.1:0", probeIntervalMs: 1000 } });
  const text = "cluster:\n  nodeName: other\n  probeIntervalMs: 500\nlog:\n  level: warn\n";
  const hash = await configHash(
    validateConfig({ cluster: { nodeName: "other", probeIntervalMs: 500 }, log: { level: "warn" } }),
  );
  const got = await acceptConfig(text, hash, current);
  assert.equal(got.cfg.cluster.nodeName, "me");
  assert.equal(got.cfg.cluster.gossipListen, "127.0.0.1:0");
  assert.equal(got.cfg.log.level, "warn");
  assert.deepEqual(got.changes, { reloadable: ["log.level"], restart: ["cluster.probeIntervalMs"] });
  await assert.rejects(
    acceptConfig(text, "0000000000000000", current),
    (e) => e instanceof ConfigHashMismatchError && /hash .* is not the advertised/.test(e.message),
  );
  await assert.rejects(acceptConfig("cluster: [", hash, current));
});

Deno.test("mergeNodeLocalText() keeps this node's local keys and the peer's comments and settings", () => {
  const peer = [
    "# the cluster's config",
    "cluster:",
    "  name: lab",
    "  nodeName: peer-1 # the peer's own name",
    "  gossipListen: 10.0.0.1:7946",
    "  peers: [10.0.0.2:7946]",
    "admin:",
    "  listen: 10.0.0.1:9090",
    "director:",
    "  maxConnections: 500000 # raised",
    "",
  ].join("\n");
  const own = [
    "cluster:",
    "  name: lab",
    "  nodeName: lb-2",
    "  gossipListen: 10.0.0.9:7946",
    "admin:",
    "  listen: 127.0.0.1:9090",
    "  token: s3cret",
    "",
  ].join("\n");
  const out = mergeNodeLocalText(peer, own);
  const got = parseYaml(out, "merged") as Record<string, Record<string, unknown>>;
  assert.equal(got.cluster.nodeName, "lb-2");
  assert.equal(got.cluster.gossipListen, "10.0.0.9:7946");
  assert.equal(got.cluster.peers, undefined, "the peer's seed list is not ours: our file has none");
  assert.deepEqual(got.admin, { listen: "127.0.0.1:9090", token: "s3cret" });
  assert.equal(got.director.maxConnections, 500000);
  assert.match(out, /# the cluster's config/);
  assert.match(out, /# raised/);
});

Deno.test("mergeNodeLocalText() with no own file drops the peer's node-local keys", () => {
  const out = mergeNodeLocalText("cluster:\n  name: lab\n  nodeName: peer-1\nlog:\n  level: debug\n", "");
  const got = parseYaml(out, "merged") as Record<string, Record<string, unknown>>;
  assert.deepEqual(got.cluster, { name: "lab" });
  assert.equal(got.log.level, "debug");
});

Deno.test("mergeNodeLocalText() rejects text that is not YAML", () => {
  assert.throws(() => mergeNodeLocalText("a: [1,\n", ""), SyntaxError);
  assert.throws(() => mergeNodeLocalText("a: 1\n", "b: {\n"), /Cannot merge own config/);
});

Deno.test("mergeNodeLocal() takes the peer's cluster-wide keys and every node-local key from this node", () => {
  const current = validateConfig({
    cluster: { nodeName: "me", gossipListen: "10.0.0.9:7946", peers: ["10.0.0.1:7946"] },
    admin: { listen: "10.0.0.9:9090" },
    director: { interface: "eth1", vipMode: "nft", ha: { priority: 50 } },
    cache: { store: { dirs: [{ path: "/var/cache/me", size: "1GiB" }] }, vip: "10.0.0.100", weight: 3 },
  });
  const peer = {
    cluster: { nodeName: "peer", gossipListen: "10.0.0.1:7946", advertise: "10.0.0.1:7946", probeIntervalMs: 700 },
    admin: { listen: "10.0.0.1:9090", token: "peer-token-0123456789" },
    director: {
      interface: "eth0",
      ha: { priority: 200, preempt: false },
      services: [{ vip: "10.0.0.100", reals: [{ address: "10.0.0.5", weight: 9 }] }],
    },
    cache: { store: { dirs: [{ path: "/srv/peer", size: "9GiB" }] }, forwarding: "dr", maxObjectBytes: 1000 },
  };
  const got = validateConfig(mergeNodeLocal(peer, current));
  // The peer's cluster-wide keys ...
  assert.equal(got.cluster.probeIntervalMs, 700);
  assert.equal(got.director.ha.preempt, false);
  assert.equal(got.director.services[0].reals[0].weight, 9);
  assert.equal(got.cache.maxObjectBytes, 1000);
  // ... and none of its node-local ones.
  assert.equal(got.cluster.nodeName, "me");
  assert.equal(got.cluster.gossipListen, "10.0.0.9:7946");
  assert.equal(got.cluster.advertise, undefined);
  assert.deepEqual(got.cluster.peers, ["10.0.0.1:7946"]);
  assert.equal(got.admin.listen, "10.0.0.9:9090");
  assert.equal(got.admin.token, undefined);
  assert.equal(got.director.interface, "eth1");
  assert.equal(got.director.vipMode, "nft");
  assert.equal(got.director.ha.priority, 50);
  assert.deepEqual(got.cache.store.dirs.map((d) => d.path), ["/var/cache/me"]);
  assert.equal(got.cache.vip, "10.0.0.100");
  assert.equal(got.cache.forwarding, "none");
  assert.equal(got.cache.weight, 3);
});

Deno.test("acceptConfig() refuses a config that is valid on the peer but not with this node's local keys", async () => {
  // The peer turns on director HA; this director owns its VIPs with nftables (a node-local key),
  // which HA cannot work with.
  const peerCfg = { director: { ha: { mode: "active-backup" } }, log: { level: "warn" } };
  const text = JSON.stringify(peerCfg);
  const hash = await configHash(validateConfig(peerCfg));
  const arpNode = validateConfig({ cluster: { nodeName: "arp" } });
  const got = await acceptConfig(text, hash, arpNode);
  assert.equal(got.cfg.director.ha.mode, "active-backup");
  const nftNode = validateConfig({ cluster: { nodeName: "nft" }, director: { vipMode: "nft" } });
  await assert.rejects(
    acceptConfig(text, hash, nftNode),
    (e) => e instanceof ConfigError && /director\.ha\.mode.*needs director\.vipMode arp/.test(e.message),
  );
});
