import { assertEquals, assertMatch, assertStringIncludes } from "../_assert.ts";
import { REPO_ROOT, runWebcache } from "../_bin.ts";

Deno.test("the bundle prints --help with every subcommand", async () => {
  const r = await runWebcache(["--help"]);
  assertEquals(r.code, 0, r.stderr);
  assertStringIncludes(r.stdout, "Usage: webcache");
  assertStringIncludes(r.stdout, "check-config");
  assertStringIncludes(r.stdout, "version");
});

Deno.test("the bundle prints its version", async () => {
  const r = await runWebcache(["version", "--json"]);
  assertEquals(r.code, 0, r.stderr);
  const v = JSON.parse(r.stdout);
  const denoJson = JSON.parse(await Deno.readTextFile(`${REPO_ROOT}deno.json`));
  assertEquals(v.webcache, denoJson.version);
});

Deno.test("the bundle's check-config accepts the example appliance.yaml", async () => {
  const r = await runWebcache(["check-config"]);
  assertEquals(r.code, 0, r.stderr);
  assertStringIncludes(r.stdout, "appliance.yaml: OK");
  assertStringIncludes(r.stdout, "director service web: 10.10.0.100:80 wlc dr");
});

Deno.test("the bundle's check-config exits 2 and names file, key and value", async () => {
  const dir = await Deno.makeTempDir({ prefix: "wc-cli-" });
  try {
    const file = `${dir}/bad.yaml`;
    await Deno.writeTextFile(file, "director:\n  services:\n    - vip: 10.0.0.1\n      scheduler: rrr\n");
    const r = await runWebcache(["check-config", file]);
    assertEquals(r.code, 2);
    assertStringIncludes(r.stderr, `${file}: director.services[0].scheduler: "rrr" is not one of rr, wrr, lc, wlc`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("flags override the file and are named in errors", async () => {
  const ok = await runWebcache(["check-config", "--json", "--admin", "127.0.0.1:9191", "--peers", "10.0.0.9:7946"]);
  assertEquals(ok.code, 0, ok.stderr);
  const cfg = JSON.parse(ok.stdout);
  assertEquals(cfg.admin.listen, "127.0.0.1:9191");
  assertEquals(cfg.cluster.peers, ["10.0.0.9:7946"]);
  const bad = await runWebcache(["check-config", "--admin", "127.0.0.1:0"]);
  assertEquals(bad.code, 2);
  assertMatch(bad.stderr, /^--admin: admin\.listen: "127\.0\.0\.1:0" is not HOST:PORT: port 0 is not in 1-65535/m);
});

Deno.test("an unknown subcommand is a usage error with status 2", async () => {
  const r = await runWebcache(["frobnicate"]);
  assertEquals(r.code, 2);
  assertStringIncludes(r.stderr, "unknown command 'frobnicate'");
});
