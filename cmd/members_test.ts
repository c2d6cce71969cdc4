import assert from "node:assert/strict";
import { Command } from "commander";
import { validateConfig } from "../config/load.ts";
import { addClusterOptions, clusterOverrides } from "./_cluster.ts";
import { formatMembers } from "./members.ts";
import type { MembersDocument } from "../cluster/mod.ts";

const rec = (name: string, extra: Record<string, unknown> = {}) => ({
  id: name,
  name,
  role: "cache" as const,
  addrs: { gossip: `10.0.0.${name.length}:7946` },
  weight: 100,
  state: "alive" as const,
  configHash: "aaaaaaaaaaaaaaaa",
  incarnation: 1,
  configDiffers: false,
  ...extra,
});

Deno.test("formatMembers() prints a serf-like table, self first, and marks config differences", () => {
  const doc: MembersDocument = {
    self: "me",
    cluster: "c",
    configHash: "aaaaaaaaaaaaaaaa",
    members: [
      rec("me", { role: "director" }),
      rec("zed", { state: "dead" }),
      rec("bob", { state: "draining", weight: 5, service: "web", configHash: "bbbbbbbbbbbbbbbb", configDiffers: true }),
    ],
  };
  assert.equal(
    formatMembers(doc),
    [
      "Node  Address        Role      Status    Weight  Service  Config",
      "me    10.0.0.2:7946  director  alive     100     -        aaaaaaaaaaaaaaaa",
      "bob   10.0.0.3:7946  cache     draining  5       web      bbbbbbbbbbbbbbbb *",
      "zed   10.0.0.3:7946  cache     dead      100     -        aaaaaaaaaaaaaaaa",
      "",
      "* config differs from me's (aaaaaaaaaaaaaaaa)",
    ].join("\n"),
  );
});

Deno.test("addClusterOptions() flags become cluster config overrides", () => {
  const cmd = addClusterOptions(new Command("x").exitOverride());
  cmd.parse(["--gossip-listen", "10.1.1.1:7000", "--node-name", "c1", "--cluster-key-file", "/k"], { from: "user" });
  const opts = cmd.opts();
  assert.equal(opts.clusterKeyFile, "/k");
  const cfg = validateConfig({}, { overrides: clusterOverrides(opts) });
  assert.equal(cfg.cluster.gossipListen, "10.1.1.1:7000");
  assert.equal(cfg.cluster.nodeName, "c1");
  assert.throws(
    () => validateConfig({}, { overrides: clusterOverrides({ gossipListen: "nonsense" }) }),
    /--gossip-listen.*nonsense/s,
  );
});
