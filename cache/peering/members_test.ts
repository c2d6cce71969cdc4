import assert from "node:assert/strict";
import type { NodeRecord } from "../../cluster/node.ts";
import { peersFromMembers } from "./members.ts";

const rec = (over: Partial<NodeRecord>): NodeRecord => ({
  id: "x",
  name: "x",
  role: "cache",
  addrs: { gossip: "10.0.0.1:7946", http: "10.0.0.1:3128", icp: "10.0.0.1:3130" },
  weight: 1,
  state: "alive",
  configHash: "0",
  incarnation: 1,
  ...over,
});

Deno.test("peersFromMembers() keeps the other live caches as siblings", () => {
  const peers = peersFromMembers([
    rec({ id: "self", name: "me" }),
    rec({ id: "a", name: "cache-a", addrs: { gossip: "g:1", http: "10.0.0.2:3128", icp: "10.0.0.2:4827" }, weight: 3 }),
    rec({ id: "b", name: "cache-b", addrs: { gossip: "g:1", http: "10.0.0.3:3128" } }),
    rec({ id: "c", state: "suspect" }),
    rec({ id: "d", role: "director" }),
    rec({ id: "e", addrs: { gossip: "g:1" } }),
    rec({ id: "f", addrs: { gossip: "g:1", http: "not an endpoint" } }),
  ], { selfId: "self", multicast: true });
  assert.deepEqual(peers, [
    {
      host: "10.0.0.2",
      httpPort: 3128,
      icpPort: 4827,
      type: "sibling",
      multicastResponder: true,
      name: "cache-a",
      weight: 3,
    },
    {
      host: "10.0.0.3",
      httpPort: 3128,
      icpPort: 0,
      type: "sibling",
      multicastResponder: false,
      name: "cache-b",
      weight: 1,
    },
  ]);
});
