import assert from "node:assert/strict";
import { validateConfig } from "../config/load.ts";
import { ApplianceSchema } from "../config/schema.ts";
import { configHash, NODE_LOCAL_KEYS, normalisedConfig } from "./config_hash.ts";

Deno.test("configHash() ignores per-node keys and key order, and sees real differences", async () => {
  const a = validateConfig({ cluster: { name: "x", nodeName: "a", gossipListen: "127.0.0.1:1000" } });
  const b = validateConfig({ cluster: { gossipListen: "127.0.0.1:2000", nodeName: "b", name: "x" } });
  const c = validateConfig({ cluster: { name: "x", probeIntervalMs: 500 } });
  assert.match(await configHash(a), /^[0-9a-f]{16}$/);
  assert.equal(await configHash(a), await configHash(b));
  assert.notEqual(await configHash(a), await configHash(c));
  assert.ok(!normalisedConfig(a).includes("gossipListen"));
});

Deno.test("configHash() covers only the cluster-wide part: node-local keys of every kind are left out", async () => {
  const shared = { director: { services: [{ vip: "10.0.0.1", reals: [{ address: "10.0.0.2", weight: 3 }] }] } };
  const a = validateConfig({
    ...shared,
    cluster: { nodeName: "a", gossipListen: "10.0.0.1:7946", peers: ["10.0.0.2:7946"] },
    admin: { listen: "10.0.0.1:9090" },
    director: { ...shared.director, interface: "eth0", vipMode: "nft", ha: { priority: 200 } },
    cache: { listen: [{ address: "10.0.0.1:80" }], store: { dirs: [{ path: "/a", size: "1GiB" }] }, vip: "10.0.0.9" },
    icp: { listen: "10.0.0.1" },
  });
  const b = validateConfig({
    ...shared,
    cluster: { nodeName: "b" },
    director: { ...shared.director, interface: "eth1" },
    cache: { weight: 7, forwarding: "dr", workers: 4 },
  });
  assert.equal(await configHash(a), await configHash(b));
  const heavier = validateConfig({
    director: { services: [{ vip: "10.0.0.1", reals: [{ address: "10.0.0.2", weight: 4 }] }] },
  });
  assert.notEqual(await configHash(a), await configHash(heavier), "a service weight is cluster-wide");
});

Deno.test("NODE_LOCAL_KEYS names keys that exist in the schema", () => {
  // deno-lint-ignore no-explicit-any
  const shapeOf = (s: any): Record<string, unknown> | undefined => {
    let cur = s;
    for (let i = 0; i < 10 && cur?._zod?.def?.innerType; i++) cur = cur._zod.def.innerType;
    return cur?._zod?.def?.shape;
  };
  for (const path of NODE_LOCAL_KEYS) {
    let node: unknown = ApplianceSchema;
    for (const seg of path.split(".")) {
      const shape = shapeOf(node);
      assert.ok(shape && seg in shape, `${path}: no key "${seg}" in the schema`);
      node = shape[seg];
    }
  }
});
