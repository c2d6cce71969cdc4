/**
 * The proxy is not a way into the appliance (issue #14 item 7): forward and transparent listeners
 * and CONNECT refuse (403) loopback, link-local, unspecified and the node's own addresses in every
 * spelling, check the address a name actually led to, never reach the node's service ports, and
 * `cache.acl.allowDestinations` opens the rest. Accelerated requests to configured origins are not
 * checked.
 */
import { assert, assertEquals } from "../_assert.ts";
import { validateConfig } from "../../config/mod.ts";
import { CacheService } from "../../cache/cache_service.ts";
import { spawnWebcache } from "../_bin.ts";
import { parseRaw, rawExchange, RecordingOrigin, request, startCache } from "./_cache_harness.ts";

const enc = (s: string) => new TextEncoder().encode(s);
const ok = () => ({ headers: [["cache-control", "max-age=60"]] as [string, string][], body: "inside" });

async function connect(port: number, target: string) {
  return parseRaw(await rawExchange(port, enc(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`)));
}

Deno.test("destinations: forward, transparent and CONNECT refuse loopback in every spelling", async () => {
  const o = new RecordingOrigin(ok);
  const p = o.port;
  const c = startCache({ acl: { connectPorts: [p, 443] } }, [{ mode: "forward" }, { mode: "transparent" }]);
  try {
    const urls = [
      `http://127.0.0.1:${p}/`,
      `http://127.0.0.2:${p}/`,
      `http://localhost:${p}/`,
      `http://LocalHost.:${p}/`,
      `http://x.localhost:${p}/`,
      `http://2130706433:${p}/`,
      `http://0x7f.1:${p}/`,
      `http://0x7f000001:${p}/`,
      `http://127.1:${p}/`,
      `http://0177.0.0.1:${p}/`,
      `http://[::1]:${p}/`,
      `http://[::ffff:127.0.0.1]:${p}/`,
      `http://[0:0:0:0:0:ffff:7f00:1]:${p}/`,
      `http://0.0.0.0:${p}/`,
      `http://0:${p}/`,
      `http://[::]:${p}/`,
      "http://169.254.169.254/latest/meta-data/",
      "http://[fe80::1]/",
    ];
    for (const u of urls) {
      const r = await request(c.ports[0], u, { host: "x" });
      assertEquals(r.status, 403, u);
    }
    for (const host of [`127.0.0.1:${p}`, `localhost:${p}`, `2130706433:${p}`, `[::1]:${p}`, "169.254.169.254"]) {
      assertEquals((await request(c.ports[1], "/", { host })).status, 403, host);
    }
    for (const t of [`127.0.0.1:${p}`, `localhost:${p}`, `[::1]:${p}`, `2130706433:${p}`, "169.254.169.254:443"]) {
      assertEquals((await connect(c.ports[0], t)).status, 403, `CONNECT ${t}`);
    }
    assertEquals(o.accepted, 0);
  } finally {
    await c.close();
    await o.close();
  }
});

Deno.test("destinations: cache.acl.allowDestinations opens them; accelerated origins are never checked", async () => {
  const o = new RecordingOrigin(ok);
  const c = startCache({ defaultOrigin: o.url, acl: { allowDestinations: ["127.0.0.0/8"] } }, [
    { mode: "forward" },
    { mode: "transparent" },
  ]);
  const accel = startCache({ defaultOrigin: o.url });
  try {
    assertEquals((await request(c.ports[0], `http://127.0.0.1:${o.port}/f`)).status, 200);
    assertEquals((await request(c.ports[1], "/t", { host: `127.0.0.1:${o.port}` })).status, 200);
    assertEquals((await request(c.ports[0], `http://[::1]:${o.port}/v6`)).status, 403); // ::1 not listed
    assertEquals((await request(accel.port, "/a")).status, 200);
    assertEquals(o.targets, ["/f", "/t", "/a"]);
  } finally {
    await c.close();
    await accel.close();
    await o.close();
  }
});

Deno.test("destinations: this node's service ports stay refused even on allowed addresses", async () => {
  const admin = new RecordingOrigin(ok); // stands in for the admin endpoint
  const other = new RecordingOrigin(ok);
  const cfg = validateConfig({ cache: { acl: { allowDestinations: ["127.0.0.0/8"] } } }, { source: "test" });
  const service = new CacheService(cfg.cache, {
    node: "svc",
    reusePort: false,
    servicePorts: [admin.port],
    listeners: [{ hostname: "127.0.0.1", port: 0, mode: "forward" }],
  }).start();
  const port = service.servers[0].addr.port;
  try {
    assertEquals((await request(port, `http://127.0.0.1:${admin.port}/status`)).status, 403);
    assertEquals((await request(port, `http://localhost:${admin.port}/status`)).status, 403);
    assertEquals((await request(port, `http://127.0.0.1:${other.port}/x`)).status, 200);
    assertEquals(admin.accepted, 0);
  } finally {
    await service.close();
    await admin.close();
    await other.close();
  }
});

Deno.test("destinations: the node's own non-loopback address is refused unless allowed", async () => {
  const own = Deno.networkInterfaces().find((i) => i.family === "IPv4" && !i.address.startsWith("127."))?.address;
  if (!own) {
    console.log("skipped: no non-loopback IPv4 address on this host");
    return;
  }
  const o = new RecordingOrigin(ok, own);
  const denied = startCache({}, [{ mode: "forward" }]);
  const allowed = startCache({ acl: { allowDestinations: [`${own}/32`] } }, [{ mode: "forward" }]);
  try {
    assertEquals((await request(denied.port, `http://${own}:${o.port}/own`)).status, 403);
    assertEquals(o.accepted, 0);
    assertEquals((await request(allowed.port, `http://${own}:${o.port}/own`)).status, 200);
  } finally {
    await denied.close();
    await allowed.close();
    await o.close();
  }
});

/** A name (not `localhost`) that the system resolver maps to loopback, from /etc/hosts. */
function loopbackAlias(): string | undefined {
  let hosts: string;
  try {
    hosts = Deno.readTextFileSync("/etc/hosts");
  } catch {
    return undefined;
  }
  for (const line of hosts.split("\n")) {
    const [addr, ...names] = line.replace(/#.*/, "").trim().split(/\s+/);
    if (!addr?.startsWith("127.")) continue;
    const name = names.find((n) => n && !/(^|\.)localhost\.?$/i.test(n) && !n.includes(":"));
    if (name) return name;
  }
  return undefined;
}

Deno.test({
  name: "destinations: a name resolving to loopback is refused on the addresses it resolves to, before connecting",
  ignore: loopbackAlias() === undefined,
  async fn() {
    const name = loopbackAlias()!;
    const o = new RecordingOrigin(ok);
    const c = startCache({ acl: { connectPorts: [o.port] } }, [{ mode: "forward" }, { mode: "transparent" }]);
    try {
      // The name passes the check before the lookup; the address it resolves to (127.x) does not.
      const r = await request(c.ports[0], `http://${name}:${o.port}/rebind`);
      assertEquals(r.status, 403);
      assert(/loopback/.test(r.text), r.text);
      assertEquals((await request(c.ports[1], "/rebind", { host: `${name}:${o.port}` })).status, 403);
      assertEquals((await connect(c.ports[0], `${name}:${o.port}`)).status, 403);
      assertEquals(o.accepted, 0); // resolved and refused before any connection
    } finally {
      await c.close();
      await o.close();
    }
  },
});

Deno.test("destinations: webcache cache refuses its own admin port through the forward proxy, loopback allowed", async () => {
  const o = new RecordingOrigin(ok);
  const free = () => {
    const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const p = l.addr.port;
    l.close();
    return p;
  };
  const port = free();
  const admin = free();
  const dir = await Deno.makeTempDir({ prefix: "wc-dest-" });
  const cfg = `${dir}/appliance.yaml`;
  await Deno.writeTextFile(
    cfg,
    `cluster:\n  gossipListen: 127.0.0.1:0\nadmin:\n  listen: 127.0.0.1:${admin}\nicp:\n  enabled: false\n` +
      `cache:\n  workers: 1\n  listen:\n    - address: 127.0.0.1:${port}\n      mode: forward\n` +
      `  acl:\n    allowDestinations: [127.0.0.0/8]\n`,
  );
  const child = await spawnWebcache(["cache", "--config", cfg], { stdout: "null" });
  try {
    let up = false;
    for (let i = 0; i < 200 && !up; i++) {
      try {
        const r = await fetch(`http://127.0.0.1:${admin}/healthz`);
        await r.body?.cancel();
        up = r.ok;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    assert(up, "webcache cache started");
    assertEquals((await request(port, `http://127.0.0.1:${o.port}/ok`)).status, 200);
    const r = await request(port, `http://127.0.0.1:${admin}/status`);
    assertEquals(r.status, 403);
    assert(/service port/.test(r.text), r.text);
    assertEquals((await request(port, `http://localhost:${admin}/status`)).status, 403);
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await child.stderr.cancel();
    await o.close();
    await Deno.remove(dir, { recursive: true });
  }
});
