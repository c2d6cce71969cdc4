import { assertEquals, assertStringIncludes } from "../_assert.ts";
import { runWebcache } from "../_bin.ts";
import { freePort } from "./_director_harness.ts";

Deno.test("webcache director --method dr without an interface fails clearly, naming the setting", async () => {
  const r = await runWebcache([
    "director",
    "--service",
    "10.0.0.100:80",
    "--method",
    "dr",
    "--real",
    "10.0.0.11:80",
    "--admin",
    `127.0.0.1:${freePort()}`,
  ]);
  assertEquals(r.code, 1, r.stderr);
  assertStringIncludes(r.stderr, "Cannot start DR/TUN forwarding: director.interface (--interface IFNAME) is not set");
});

Deno.test("webcache director route --offline explains a decision from the config file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wc-director-cli-" });
  try {
    const file = `${dir}/appliance.yaml`;
    await Deno.writeTextFile(
      file,
      `director:
  services:
    - vip: 10.0.0.100
      port: 80
      scheduler: sh
      persistence: { timeoutS: 300, netmask: 24 }
      reals: [{ address: 10.0.0.11 }, { address: 10.0.0.12 }]
`,
    );
    const r = await runWebcache(["director", "route", "192.0.2.1:40000", "10.0.0.100:80", "--offline", "-c", file]);
    assertEquals(r.code, 0, r.stderr);
    assertStringIncludes(r.stdout, "reason: scheduler: scheduler sh chose 10.0.0.1");
    assertStringIncludes(r.stdout, "a template for /24 would be created");
    assertStringIncludes(r.stdout, `offline from ${file}`);
    const none = await runWebcache(["director", "route", "192.0.2.1:40000", "10.0.0.101:80", "--offline", "-c", file]);
    assertEquals(none.code, 1);
    assertStringIncludes(none.stdout, "no virtual service matches 10.0.0.101:80");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("webcache director rejects --real without --service and a bad weight with status 2", async () => {
  const a = await runWebcache(["director", "--real", "10.0.0.11:80"]);
  assertEquals(a.code, 2);
  assertStringIncludes(a.stderr, "--real needs --service");
  const b = await runWebcache(["director", "--service", "10.0.0.100:80", "--real", "10.0.0.11:80:-1"]);
  assertEquals(b.code, 2);
  assertStringIncludes(b.stderr, "--real");
});

Deno.test("webcache director status says when no director answers", async () => {
  const port = freePort();
  const r = await runWebcache(["director", "status", "--admin", `127.0.0.1:${port}`]);
  assertEquals(r.code, 1);
  assertStringIncludes(r.stderr, `Cannot reach the director's admin endpoint at http://127.0.0.1:${port}`);
});
