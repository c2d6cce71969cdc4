import assert from "node:assert/strict";
import { AdminServer } from "../admin/server.ts";
import { validateConfig } from "../config/load.ts";
import { setLogSink } from "../core/log.ts";
import {
  advertisedLink,
  advertiseHost,
  directorTunnelSource,
  directorTunnelSources,
  restartNeededKeys,
  siblingPeers,
  startRoleMembership,
} from "./_cluster.ts";
import { requires } from "../tests/_requires.ts";

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

Deno.test("directorTunnelSources() takes the tunnel address of live, suspect and draining directors", () => {
  const rec = (name: string, extra: Record<string, unknown>) => ({
    id: name,
    name,
    role: "director" as const,
    addrs: { gossip: "10.9.9.9:7946" },
    weight: 1,
    state: "alive" as const,
    configHash: "",
    incarnation: 1,
    ...extra,
  });
  const addrs = directorTunnelSources([
    rec("a", { addrs: { gossip: "10.1.0.2:7946", tunnel: "10.0.0.2" } }),
    rec("b", { addrs: { gossip: "10.1.0.3:7946", tunnel: "10.0.0.3" }, state: "suspect" }),
    rec("c", { addrs: { gossip: "10.1.0.4:7946", tunnel: "10.0.0.4" }, state: "draining" }),
    rec("d", { addrs: { gossip: "10.1.0.5:7946", tunnel: "10.0.0.5" }, state: "dead" }),
    rec("e", { addrs: { gossip: "10.1.0.6:7946", tunnel: "10.0.0.6" }, state: "left" }),
    rec("f", { role: "cache", addrs: { gossip: "10.1.0.7:7946", tunnel: "10.0.0.7" } }),
    rec("g", { addrs: { gossip: "10.1.0.8:7946" } }), // older director: its gossip host
    rec("h", { addrs: { gossip: "0.0.0.0:7946" } }), // nothing specific
    rec("i", { addrs: { gossip: "[fe80::1]:7946" } }),
    rec("j", { addrs: { gossip: "10.1.0.2:7946", tunnel: "10.0.0.2" } }), // same address twice
  ]);
  assert.deepEqual(addrs, ["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.1.0.8"]);
});

Deno.test("directorTunnelSource() is the IPv4 address of the interface, none without one", () => {
  assert.equal(directorTunnelSource("lo"), "127.0.0.1");
  assert.equal(directorTunnelSource(undefined), undefined);
  assert.equal(directorTunnelSource("wrnosuchif0"), undefined);
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

Deno.test("restartNeededKeys() lists changed keys the role cannot apply at run time", () => {
  const boot = validateConfig({ director: { services: [{ vip: "10.0.0.1", reals: [{ address: "10.0.0.2" }] }] } });
  const next = validateConfig({
    log: { level: "debug" },
    admin: { allow: ["10.0.0.0/8"] },
    cluster: { probeTimeoutMs: 900 },
    director: { maxConnections: 1000, services: [{ vip: "10.0.0.1", reals: [{ address: "10.0.0.3" }] }] },
  });
  const director = (p: string) => p.startsWith("director.");
  const table: [string, ((p: string) => boolean) | undefined, string[]][] = [
    // log.* is applied by every role; admin.allow is `Reload: yes` but nobody applies it yet.
    ["director", director, ["admin.allow", "cluster.probeTimeoutMs", "director.maxConnections"]],
    ["cache", undefined, ["admin.allow", "cluster.probeTimeoutMs", "director.maxConnections", "director.services"]],
  ];
  for (const [role, handles, want] of table) assert.deepEqual(restartNeededKeys(boot, next, handles), want, role);
  assert.deepEqual(restartNeededKeys(boot, boot, director), [], "a change reverted needs nothing");
});

async function ip(...args: string[]): Promise<void> {
  const out = await new Deno.Command("ip", { args, stdout: "null", stderr: "piped" }).output();
  if (!out.success) throw new Error(`ip ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
}

// A veth in this network namespace: root.
Deno.test({
  ...await requires(
    "advertisedLink() advertises the MAC of cache.interface, or of the interface holding the address for DR",
    { root: true, commands: ["ip"] },
  ),
}, async () => {
  const name = `wcmac${Math.random().toString(36).slice(2, 8)}`;
  const addr = `10.${100 + Math.floor(Math.random() * 100)}.${Math.floor(Math.random() * 250)}.7`;
  await ip("link", "add", name, "type", "veth", "peer", "name", `${name}p`);
  try {
    await ip("link", "set", name, "address", "02:5e:0c:aa:bb:cc");
    await ip("addr", "add", `${addr}/32`, "dev", name);
    // cache.interface wins, whatever the forwarding method.
    assert.deepEqual(advertisedLink({ interface: name }, "127.0.0.1"), { iface: name, mac: "02:5e:0c:aa:bb:cc" });
    // dr/tun without cache.interface: the interface that holds the advertised address.
    assert.deepEqual(advertisedLink({ forwarding: "dr" }, addr), { iface: name, mac: "02:5e:0c:aa:bb:cc" });
    assert.deepEqual(advertisedLink({ forwarding: "tun" }, addr), { iface: name, mac: "02:5e:0c:aa:bb:cc" });
    // Proxy-only caches and loopback addresses advertise nothing (the director uses ARP or the proxy).
    assert.equal(advertisedLink({ forwarding: "none" }, addr), undefined);
    assert.equal(advertisedLink({}, addr), undefined);
    assert.equal(advertisedLink({ forwarding: "dr" }, "127.0.0.1"), undefined);
    assert.equal(advertisedLink({ forwarding: "dr" }, undefined), undefined);
  } finally {
    await ip("link", "del", name);
  }
  assert.throws(() => advertisedLink({ interface: name }, undefined), /cache\.interface "wcmac/);
});

// A veth in this network namespace: root.
Deno.test({
  ...await requires("startRoleMembership() gossips the advertised MAC and interface in /members", {
    root: true,
    commands: ["ip"],
  }),
}, async () => {
  const name = `wcmac${Math.random().toString(36).slice(2, 8)}`;
  await ip("link", "add", name, "type", "veth", "peer", "name", `${name}p`);
  const file = await Deno.makeTempFile();
  const admin = new AdminServer({ hostname: "127.0.0.1", port: 0, allow: ["127.0.0.0/8"], node: "x", role: "cache" })
    .start();
  let m: Awaited<ReturnType<typeof startRoleMembership>>;
  try {
    await ip("link", "set", name, "address", "02:5e:0c:01:02:03");
    await Deno.writeTextFile(file, btoa("q".repeat(32)) + "\n");
    const cfg = validateConfig({ cluster: { gossipListen: "127.0.0.1:0", nodeName: "x" } });
    m = await startRoleMembership(cfg, { clusterKeyFile: file }, {
      role: "cache",
      record: {
        service: "web",
        forwarding: "dr",
        addrs: { http: "127.0.0.1:3128" },
        ...advertisedLink({ interface: name }, undefined),
      },
      admin,
    });
    assert.ok(m);
    assert.equal(m.local.mac, "02:5e:0c:01:02:03");
    const res = await fetch(`http://127.0.0.1:${admin.addr.port}/members`);
    const doc = await res.json() as { members: { mac?: string; iface?: string }[] };
    assert.equal(doc.members[0].mac, "02:5e:0c:01:02:03");
    assert.equal(doc.members[0].iface, name);
  } finally {
    await m?.stop();
    await admin.stop();
    await Deno.remove(file);
    await ip("link", "del", name);
  }
});
