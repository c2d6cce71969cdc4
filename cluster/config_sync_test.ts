import assert from "node:assert/strict";
import { validateConfig } from "../config/load.ts";
import { configHash } from "./config_hash.ts";
import { acceptConfig, classifyChanges, diffConfig, isReloadable } from "./config_sync.ts";

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
