import assert from "node:assert/strict";
import { parseYaml, validateConfig } from "../config/load.ts";
import { configHash } from "./config_hash.ts";
import { acceptConfig, classifyChanges, diffConfig, isReloadable, mergeNodeLocalText } from "./config_sync.ts";

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
  await assert.rejects(acceptConfig(text, "0000000000000000", current), /hash .* is not the advertised/);
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
