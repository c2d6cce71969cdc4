/**
 * The appliance package end to end, as CI does it on a Debian machine: `deno task package`
 * builds the .deb, lintian finds no error, `dpkg -i` installs it (system user, directories,
 * cluster key), the installed `webcache` prints its versions and validates the shipped
 * `/etc/webcache/appliance.yaml`, `systemd-analyze verify` accepts the units, a cache started
 * from the installed files as the `webcache` user with only the cache unit's capabilities serves
 * a miss and a hit, and `dpkg --purge` leaves nothing but the system user (Debian policy keeps it).
 *
 * Needs root, dpkg-deb, lintian and npm; skips with the reason otherwise, and never touches a
 * machine where webcache is already installed.
 *
 * @module
 */
import { assert, assertEquals, assertStringIncludes } from "../_assert.ts";
import { TestOrigin } from "./_cache_harness.ts";
import { DENO_RUNTIME_VERSION } from "../../packaging/deno_runtime.ts";
import { requires } from "../_requires.ts";

const ROOT = new URL("../../", import.meta.url).pathname;

interface Out {
  code: number;
  stdout: string;
  stderr: string;
}

async function sh(cmd: string, args: string[], env?: Record<string, string>): Promise<Out> {
  const o = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped", cwd: ROOT }).output();
  const d = new TextDecoder();
  return { code: o.code, stdout: d.decode(o.stdout), stderr: d.decode(o.stderr) };
}

async function has(tool: string): Promise<boolean> {
  return (await sh("sh", ["-c", `command -v ${tool}`])).code === 0;
}

/** Why not to touch this machine's packages even as root, if there is a reason. */
async function alreadyInstalled(): Promise<string | undefined> {
  if (Deno.uid() !== 0) return undefined;
  const q = await sh("dpkg-query", ["-W", "-f=${Status}", "webcache"]).catch(() => undefined);
  return q?.stdout.includes("installed")
    ? "a webcache package is already installed on this machine; not touching it"
    : undefined;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.lstat(path);
    return true;
  } catch {
    return false;
  }
}

async function waitFor(url: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    try {
      const r = await fetch(url);
      await r.body?.cancel();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 200));
    }
  }
  throw new Error(`${url} did not answer within ${ms} ms`);
}

Deno.test({
  ...await requires(
    "deno task package: lintian-clean .deb that installs, serves as the webcache user and purges clean",
    {
      root: true, // dpkg -i
      commands: ["dpkg-deb", "lintian", "npm", "setpriv"],
      unless: await alreadyInstalled(),
    },
  ),
  sanitizeResources: false,
  sanitizeOps: false,
  fn: async () => {
    const out = await Deno.makeTempDir({ prefix: "webcache-pkg-" });
    const origin = new TestOrigin(() =>
      new Response("packaged hello\n", { headers: { "cache-control": "max-age=60", "content-type": "text/plain" } })
    );
    let cache: Deno.ChildProcess | undefined;
    try {
      const build = await sh(Deno.execPath(), ["run", "-A", "scripts/package.ts", out]);
      assertEquals(build.code, 0, `package build failed: ${build.stderr}`);
      const deb = `${out}/webcache_${JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`)).version}_amd64.deb`;
      const size = (await Deno.stat(deb)).size;
      console.log(`package ${deb.slice(out.length + 1)}: ${(size / 1048576).toFixed(1)} MiB`);

      const lint = await sh("lintian", ["--fail-on", "error", deb]);
      assertEquals(lint.code, 0, `lintian reports errors:\n${lint.stdout}${lint.stderr}`);
      assert(!/^E: /m.test(lint.stdout), `lintian errors:\n${lint.stdout}`);

      const install = await sh("dpkg", ["-i", deb]);
      assertEquals(install.code, 0, `dpkg -i failed: ${install.stderr}`);

      const version = await sh("webcache", ["version"]);
      assertEquals(version.code, 0, version.stderr);
      assertStringIncludes(version.stdout, `deno ${DENO_RUNTIME_VERSION}`);
      const check = await sh("webcache", ["check-config", "/etc/webcache/appliance.yaml"]);
      assertEquals(check.code, 0, `check-config of the shipped file: ${check.stdout}${check.stderr}`);

      // Maintainer scripts: the user, its directories, a private cluster key.
      assertEquals((await sh("id", ["-u", "webcache"])).code, 0, "no webcache system user");
      const key = await Deno.stat("/etc/webcache/cluster.key");
      assertEquals(key.mode! & 0o077, 0o040, "cluster.key must be readable by root and the webcache group only");
      for (const d of ["/var/lib/webcache", "/var/cache/webcache", "/var/log/webcache"]) {
        assert(await exists(d), `${d} missing`);
      }
      assert(await exists("/usr/share/man/man8/webcache.8.gz"), "no man page");
      assert(await exists("/usr/share/bash-completion/completions/webcache"), "no bash completion");
      assert(await exists("/etc/logrotate.d/webcache"), "no logrotate file");

      if (await has("systemd-analyze")) {
        const verify = await sh("systemd-analyze", [
          "verify",
          "/lib/systemd/system/webcache-cache.service",
          "/lib/systemd/system/webcache-director.service",
        ]);
        assertEquals(verify.code, 0, `systemd-analyze verify: ${verify.stderr}`);
        assert(!/webcache-(cache|director)\.service:/.test(verify.stderr), verify.stderr);
      }

      // A cache from the installed files, as the cache unit runs it: user webcache, no capability
      // but the ability to bind low ports (unused here), its store and log under /var.
      const port = freePort();
      const cfg = `${out}/appliance.yaml`;
      await Deno.writeTextFile(
        cfg,
        [
          "cluster:",
          "  name: package-test",
          `  gossipListen: 127.0.0.1:${freePort()}`,
          "  peers: []",
          "  keyFile: /etc/webcache/cluster.key",
          "admin:",
          `  listen: 127.0.0.1:${freePort()}`,
          "cache:",
          "  listen:",
          `    - address: 127.0.0.1:${port}`,
          "      mode: accel",
          "  workers: 1",
          `  defaultOrigin: ${origin.url}`,
          "  store:",
          "    dirs:",
          "      - path: /var/cache/webcache/d1",
          "        size: 64MiB",
          "  accessLog: /var/log/webcache/access.log",
          "icp:",
          "  enabled: false",
          "",
        ].join("\n"),
      );
      await Deno.chmod(out, 0o755);
      await Deno.chmod(cfg, 0o644);
      const started = performance.now();
      cache = new Deno.Command("setpriv", {
        args: [
          "--reuid=webcache",
          "--regid=webcache",
          "--init-groups",
          "--inh-caps=-all,+net_bind_service",
          "--ambient-caps=+net_bind_service",
          "--bounding-set=-all,+net_bind_service",
          "env",
          "HOME=/var/lib/webcache",
          "DENO_DIR=/var/lib/webcache/deno",
          "/usr/bin/webcache",
          "cache",
          "--config",
          cfg,
        ],
        stdout: "null",
        stderr: "piped",
      }).spawn();
      await waitFor(`http://127.0.0.1:${port}/.not-there`, 30_000);
      console.log(`installed cache serving ${(performance.now() - started).toFixed(0)} ms after start`);
      const miss = await fetch(`http://127.0.0.1:${port}/hello`);
      assertEquals(await miss.text(), "packaged hello\n");
      const hit = await fetch(`http://127.0.0.1:${port}/hello`);
      assertEquals(await hit.text(), "packaged hello\n");
      assertStringIncludes(hit.headers.get("x-cache") ?? "", "HIT");
      assertEquals(origin.count("/hello"), 1, "the second request must be a hit");
      cache.kill("SIGTERM");
      const status = await cache.status;
      await cache.stderr.cancel();
      cache = undefined;
      assert(status.signal === null || status.signal === "SIGTERM", `cache ended with ${JSON.stringify(status)}`);
      const log = await Deno.readTextFile("/var/log/webcache/access.log");
      assertStringIncludes(log, "GET http://127.0.0.1");
      assertEquals(
        (await Deno.stat("/var/log/webcache/access.log")).uid,
        Number((await sh("id", ["-u", "webcache"])).stdout),
      );

      const purge = await sh("dpkg", ["--purge", "webcache"]);
      assertEquals(purge.code, 0, `dpkg --purge: ${purge.stderr}`);
      for (
        const p of [
          "/etc/webcache",
          "/usr/bin/webcache",
          "/usr/lib/webcache",
          "/var/lib/webcache",
          "/var/cache/webcache",
          "/var/log/webcache",
          "/lib/systemd/system/webcache-cache.service",
          "/etc/logrotate.d/webcache",
        ]
      ) {
        assert(!(await exists(p)), `${p} left behind after dpkg --purge`);
      }
    } finally {
      if (cache) {
        try {
          cache.kill("SIGKILL");
        } catch { /* gone */ }
        await cache.status;
        await cache.stderr.cancel().catch(() => {});
      }
      await origin.close();
      if ((await sh("dpkg-query", ["-W", "-f=${Status}", "webcache"])).stdout.includes("installed")) {
        await sh("dpkg", ["--purge", "webcache"]);
      }
      await Deno.remove(out, { recursive: true });
    }
  },
});
