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
    configVersion: 0,
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
      "me    10.0.0.2:7946  director  alive     100     -        v0 aaaaaaaaaaaaaaaa",
      "bob   10.0.0.3:7946  cache     draining  5       web      v0 bbbbbbbbbbbbbbbb *",
      "zed   10.0.0.3:7946  cache     dead      100     -        v0 aaaaaaaaaaaaaaaa",
      "",
      "* config differs from me's (v0 aaaaaaaaaaaaaaaa)",
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

Deno.test("formatMembers() shows which director holds the VIPs when directors run director.ha", () => {
  const doc: MembersDocument = {
    self: "d1",
    cluster: "c",
    configHash: "aaaaaaaaaaaaaaaa",
    configVersion: 0,
    members: [
      rec("d1", { role: "director", ha: { group: "web", role: "BACKUP" } }),
      rec("d22", { role: "director", ha: { group: "web", role: "MASTER", vips: "10.0.0.100" } }),
      rec("c1"),
    ],
  };
  assert.equal(
    formatMembers(doc),
    [
      "Node  Address        Role      Status  Weight  Service  HA (VIPs)                Config",
      "d1    10.0.0.2:7946  director  alive   100     -        BACKUP web               v0 aaaaaaaaaaaaaaaa",
      "c1    10.0.0.2:7946  cache     alive   100     -        -                        v0 aaaaaaaaaaaaaaaa",
      "d22   10.0.0.3:7946  director  alive   100     -        MASTER web (10.0.0.100)  v0 aaaaaaaaaaaaaaaa",
    ].join("\n"),
  );
});

Deno.test("formatMembers() shows config versions and which node refused a newer one, and why", () => {
  const refused = { version: 4, hash: "cccccccccccccccc", reason: "director.ha.mode: needs director.vipMode arp" };
  const doc: MembersDocument = {
    self: "a",
    cluster: "c",
    configHash: "cccccccccccccccc",
    configVersion: 4,
    members: [
      rec("a", { configHash: "cccccccccccccccc", configVersion: 4 }),
      rec("b", { configVersion: 3, configDiffers: true, configRefused: refused }),
    ],
  };
  assert.equal(
    formatMembers(doc),
    [
      "Node  Address        Role   Status  Weight  Service  Config",
      "a     10.0.0.1:7946  cache  alive   100     -        v4 cccccccccccccccc",
      "b     10.0.0.1:7946  cache  alive   100     -        v3 aaaaaaaaaaaaaaaa * !",
      "",
      "* config differs from a's (v4 cccccccccccccccc)",
      "! b refused config v4 cccccccccccccccc: director.ha.mode: needs director.vipMode arp",
    ].join("\n"),
  );
});
