import assert from "node:assert/strict";
import type { NodeRecord } from "./node.ts";
import { liveMembers } from "./select.ts";

const r = (name: string, extra: Partial<NodeRecord> = {}): NodeRecord => ({
  id: name,
  name,
  role: "cache",
  addrs: { gossip: `${name}:7946` },
  weight: 1,
  state: "alive",
  configHash: "",
  incarnation: 1,
  ...extra,
});

Deno.test("liveMembers() picks live members by role and service, sorted by name", () => {
  const all = [
    r("d", { role: "director" }),
    r("c3", { service: "web" }),
    r("c1", { service: "web" }),
    r("c2", { service: "img" }),
    r("c4", { service: "web", state: "dead" }),
    r("c5", { service: "web", state: "draining" }),
    r("c6", { service: "web", state: "left" }),
  ];
  const names = (xs: NodeRecord[]) => xs.map((x) => x.name);
  assert.deepEqual(names(liveMembers(all, { role: "cache" })), ["c1", "c2", "c3"]);
  assert.deepEqual(names(liveMembers(all, { role: "cache", service: "web", exclude: "c1" })), ["c3"]);
  assert.deepEqual(names(liveMembers(all, { service: "web", states: ["alive", "draining"] })), ["c1", "c3", "c5"]);
  assert.deepEqual(names(liveMembers(all)), ["c1", "c2", "c3", "d"]);
});
