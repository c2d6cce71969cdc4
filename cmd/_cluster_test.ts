import assert from "node:assert/strict";
import { AdminServer } from "../admin/server.ts";
import { validateConfig } from "../config/load.ts";
import { setLogSink } from "../core/log.ts";
import { advertiseHost, siblingPeers, startRoleMembership } from "./_cluster.ts";

setLogSink(() => {});

Deno.test("startRoleMembership() leaves a standalone node (no peers, no key) without gossip", async () => {
  const saved = Deno.env.get("WEBCACHE_CLUSTER_KEY");
  Deno.env.delete("WEBCACHE_CLUSTER_KEY");
  try {
    assert.equal(await startRoleMembership(validateConfig({}), {}, { role: "cache" }), undefined);
  } finally {
    if (saved !== undefined) Deno.env.set("WEBCACHE_CLUSTER_KEY", saved);
  }
});

Deno.test("startRoleMembership() starts gossip with a key file and registers /members", async () => {
  const file = await Deno.makeTempFile();
  await Deno.writeTextFile(file, btoa("q".repeat(32)) + "\n");
  const admin = new AdminServer({ hostname: "127.0.0.1", port: 0, allow: ["127.0.0.0/8"], node: "x", role: "cache" })
    .start();
  const cfg = validateConfig({ cluster: { gossipListen: "127.0.0.1:0", nodeName: "x" } });
  const m = await startRoleMembership(cfg, { clusterKeyFile: file }, {
    role: "cache",
    record: { weight: 42, service: "web", addrs: { http: "127.0.0.1:3128" } },
    admin,
  });
  try {
    assert.ok(m);
    const doc = await (await fetch(`http://127.0.0.1:${admin.addr.port}/members`)).json();
    assert.equal(doc.members[0].name, "x");
    assert.equal(doc.members[0].weight, 42);
    assert.equal(doc.members[0].addrs.http, "127.0.0.1:3128");
  } finally {
    await m?.stop();
    await admin.stop();
    await Deno.remove(file);
  }
});

Deno.test("startRoleMembership() exits 2 when peers are set but no key is", async () => {
  const code = `
    import { startRoleMembership } from "${new URL("./_cluster.ts", import.meta.url).href}";
    import { validateConfig } from "${new URL("../config/load.ts", import.meta.url).href}";
    await startRoleMembership(validateConfig({ cluster: { peers: ["127.0.0.1:9"], gossipListen: "127.0.0.1:0" } }), {}, { role: "cache" });
  `;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["eval", "--unstable-net", code],
    env: { WEBCACHE_CLUSTER_KEY: "" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.equal(out.code, 2);
  assert.match(
    new TextDecoder().decode(out.stderr),
    /Cannot start cluster membership: Refusing to start .* without a key/,
  );
});

Deno.test("siblingPeers() turns live cache members other than this node into peering siblings", () => {
  const rec = (name: string, extra: Record<string, unknown>) => ({
    id: name,
    name,
    role: "cache" as const,
    addrs: { gossip: "x:1" },
    weight: 3,
    state: "alive" as const,
    configHash: "",
    incarnation: 1,
    ...extra,
  });
  const peers = siblingPeers([
    rec("me", { addrs: { gossip: "x:1", http: "10.0.0.1:3128" } }),
    rec("b", { addrs: { gossip: "x:1", http: "10.0.0.2:3128", icp: "10.0.0.2:3130" } }),
    rec("c", { addrs: { gossip: "x:1", http: "10.0.0.3:8080" } }),
    rec("d", { addrs: { gossip: "x:1", http: "10.0.0.4:3128" }, state: "dead" }),
    rec("e", { addrs: { gossip: "x:1" } }),
    rec("f", { role: "director", addrs: { gossip: "x:1", http: "10.0.0.6:80" } }),
  ], "me");
  assert.deepEqual(peers, [
    { host: "10.0.0.2", httpPort: 3128, icpPort: 3130, type: "sibling", name: "b", weight: 3 },
    { host: "10.0.0.3", httpPort: 8080, icpPort: 0, type: "sibling", name: "c", weight: 3 },
  ]);
});

Deno.test("advertiseHost() prefers the listen host, then cluster.advertise, then the gossip host", () => {
  const cases: [string, Record<string, unknown>, string][] = [
    ["10.0.0.5", {}, "10.0.0.5"],
    ["0.0.0.0", { advertise: "192.0.2.1:7946" }, "192.0.2.1"],
    ["0.0.0.0", { gossipListen: "198.51.100.7:7946" }, "198.51.100.7"],
  ];
  for (const [listen, cluster, want] of cases) {
    assert.equal(advertiseHost(listen, validateConfig({ cluster })), want, JSON.stringify(cluster));
  }
  assert.match(advertiseHost("0.0.0.0", validateConfig({})), /^\d+\.\d+\.\d+\.\d+$/);
});
