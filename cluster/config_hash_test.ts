import assert from "node:assert/strict";
import { validateConfig } from "../config/load.ts";
import { configHash, normalisedConfig } from "./config_hash.ts";

Deno.test("configHash() ignores per-node keys and key order, and sees real differences", async () => {
  const a = validateConfig({ cluster: { name: "x", nodeName: "a", gossipListen: "127.0.0.1:1000" } });
  const b = validateConfig({ cluster: { gossipListen: "127.0.0.1:2000", nodeName: "b", name: "x" } });
  const c = validateConfig({ cluster: { name: "x", probeIntervalMs: 500 } });
  assert.match(await configHash(a), /^[0-9a-f]{16}$/);
  assert.equal(await configHash(a), await configHash(b));
  assert.notEqual(await configHash(a), await configHash(c));
  assert.ok(!normalisedConfig(a).includes("gossipListen"));
});
