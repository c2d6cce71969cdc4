import assert from "node:assert/strict";
import { validateConfig } from "../../config/mod.ts";
import { resolvePeers, selfId } from "./peering_node.ts";

const cfg = (cache: Record<string, unknown>) => validateConfig({ cache }) as Parameters<typeof selfId>[0];

Deno.test("selfId() prefers cache.peering.self, then its own entry in cache.peers, then the listener", () => {
  assert.equal(selfId(cfg({ peering: { self: "10.0.0.9:3128" } })), "10.0.0.9:3128");
  const peers = [
    { host: "10.0.0.1", httpPort: 3128 },
    { host: "127.0.0.1", httpPort: 8081 },
    { host: "127.0.0.1", httpPort: 8082 },
  ];
  assert.equal(selfId(cfg({ listen: [{ address: "127.0.0.1:8082" }], peers })), "127.0.0.1:8082");
  assert.equal(selfId(cfg({ listen: [{ address: "0.0.0.0:8081" }], peers })), "127.0.0.1:8081");
  assert.equal(selfId(cfg({ listen: [{ address: "127.0.0.5:9000" }], peers })), "127.0.0.5:9000");
});

Deno.test("resolvePeers() maps localhost and keeps addresses and the original name", async () => {
  const peers = await resolvePeers([
    { host: "localhost", httpPort: 3128, icpPort: 3130, type: "sibling" },
    { host: "10.0.0.2", httpPort: 3128, icpPort: 3130, type: "parent" },
  ]);
  assert.deepEqual(peers, [
    { host: "127.0.0.1", httpPort: 3128, icpPort: 3130, type: "sibling", name: "localhost:3128" },
    { host: "10.0.0.2", httpPort: 3128, icpPort: 3130, type: "parent" },
  ]);
});
