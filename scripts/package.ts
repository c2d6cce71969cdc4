/**
 * `deno task package`: builds the appliance package `dist/webcache_<version>_amd64.deb` from a
 * clean checkout, with dpkg-deb (Debian's `dpkg` package):
 *
 * | path in the package | what |
 * |---|---|
 * | `/usr/bin/webcache` | launcher: the shipped Deno with webcache's flags (`packaging/launcher.ts`) |
 * | `/usr/lib/webcache/deno` | the Deno runtime, pinned (`packaging/deno_runtime.ts`), from the npm registry |
 * | `/usr/lib/webcache/webcache.js` | the esbuild bundle (`scripts/build.ts`) |
 * | `/etc/webcache/appliance.yaml` | the commented example, a conffile |
 * | `/lib/systemd/system/webcache-{cache,director}.service` | units, `ExecReload` sends SIGHUP |
 * | `/etc/logrotate.d/webcache` | access-log rotation with a SIGHUP (a conffile) |
 * | `/usr/share/man/man8/webcache.8.gz` | the manual page, from the CLI's own help |
 * | `/usr/share/bash-completion/completions/webcache` | completion, from the CLI's own tree |
 *
 * The maintainer scripts (`packaging/debian/`) create the `webcache` system user, its directories
 * under `/var/lib`, `/var/cache` and `/var/log`, and a random cluster key.
 *
 * Usage: `deno task package [OUT_DIR]` (default `dist/`). Needs `npm`, `tar`, `gzip`, `dpkg-deb`.
 *
 * @module
 */
import { buildProgram } from "../main.ts";
import { renderManPage } from "../packaging/man_page.ts";
import { renderBashCompletion } from "../packaging/bash_completion.ts";
import { LIB_DIR, renderLauncher } from "../packaging/launcher.ts";
import { DENO_RUNTIME_INTEGRITY, DENO_RUNTIME_PACKAGE, DENO_RUNTIME_VERSION } from "../packaging/deno_runtime.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const outDir = Deno.args[0] ?? `${ROOT}dist`;
const denoJson = JSON.parse(await Deno.readTextFile(`${ROOT}deno.json`));
const version: string = denoJson.version;
const MAINTAINER = "webcache maintainers <webcache@lists.webcache.invalid>";

async function run(cmd: string, args: string[], cwd = ROOT): Promise<string> {
  const out = await new Deno.Command(cmd, { args, cwd, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr).trim()}`);
  }
  return new TextDecoder().decode(out.stdout);
}

async function sriSha512(path: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-512", await Deno.readFile(path));
  return `sha512-${btoa(String.fromCharCode(...new Uint8Array(digest)))}`;
}

/** The pinned Deno binary, fetched once into `dist/` with `npm pack` and checked against its hash. */
async function denoRuntime(): Promise<string> {
  const dir = `${ROOT}dist/deno-runtime-${DENO_RUNTIME_VERSION}`;
  const bin = `${dir}/package/deno`;
  try {
    await Deno.stat(bin);
    return bin;
  } catch {
    // fetch below
  }
  await Deno.mkdir(dir, { recursive: true });
  const name = (await run("npm", [
    "pack",
    "--silent",
    `${DENO_RUNTIME_PACKAGE}@${DENO_RUNTIME_VERSION}`,
    "--pack-destination",
    dir,
  ])).trim().split("\n").pop()!;
  const tgz = `${dir}/${name}`;
  const got = await sriSha512(tgz);
  if (got !== DENO_RUNTIME_INTEGRITY) {
    throw new Error(
      `${DENO_RUNTIME_PACKAGE}@${DENO_RUNTIME_VERSION}: integrity ${got}, expected ${DENO_RUNTIME_INTEGRITY}`,
    );
  }
  await run("tar", ["-xzf", tgz, "-C", dir]);
  await Deno.remove(tgz);
  return bin;
}

async function gzipFile(path: string): Promise<void> {
  await run("gzip", ["-9n", path]);
}

async function write(path: string, text: string, mode = 0o644): Promise<void> {
  await Deno.mkdir(path.slice(0, path.lastIndexOf("/")), { recursive: true });
  await Deno.writeTextFile(path, text);
  await Deno.chmod(path, mode);
}

async function copy(from: string, to: string, mode = 0o644): Promise<void> {
  await Deno.mkdir(to.slice(0, to.lastIndexOf("/")), { recursive: true });
  await Deno.copyFile(from, to);
  await Deno.chmod(to, mode);
}

async function* walk(dir: string): AsyncGenerator<string> {
  for await (const e of Deno.readDir(dir)) {
    const p = `${dir}/${e.name}`;
    if (e.isDirectory) yield* walk(p);
    else yield p;
  }
}

const stage = await Deno.makeTempDir({ prefix: "webcache-deb-" });
try {
  const pkg = `${stage}/root`;
  const date = new Date().toISOString().slice(0, 10);
  await run(Deno.execPath(), ["run", "-A", `${ROOT}scripts/build.ts`, `${pkg}${LIB_DIR}/webcache.js`]);
  await Deno.remove(`${pkg}${LIB_DIR}/webcache.js.map`).catch(() => {});
  // The launcher runs the bundle; it is a library file here, not a script of its own.
  const bundle = await Deno.readTextFile(`${pkg}${LIB_DIR}/webcache.js`);
  await write(
    `${pkg}${LIB_DIR}/webcache.js`,
    bundle.startsWith("#!") ? bundle.slice(bundle.indexOf("\n") + 1) : bundle,
  );
  await copy(await denoRuntime(), `${pkg}${LIB_DIR}/deno`, 0o755);
  await write(`${pkg}/usr/bin/webcache`, renderLauncher(LIB_DIR), 0o755);
  await copy(`${ROOT}appliance.yaml`, `${pkg}/etc/webcache/appliance.yaml`);
  await copy(`${ROOT}packaging/debian/logrotate`, `${pkg}/etc/logrotate.d/webcache`);
  for (const unit of ["webcache-cache.service", "webcache-director.service"]) {
    await copy(`${ROOT}packaging/systemd/${unit}`, `${pkg}/lib/systemd/system/${unit}`);
  }
  const doc = `${pkg}/usr/share/doc/webcache`;
  await copy(`${ROOT}packaging/systemd/webcache-cache-dr.conf`, `${doc}/examples/webcache-cache-dr.conf`);
  await copy(`${ROOT}packaging/debian/copyright`, `${doc}/copyright`);
  await write(
    `${doc}/changelog`,
    `webcache (${version}) unstable; urgency=medium\n\n  * webcache ${version}.\n\n -- ${MAINTAINER}  ${
      new Date().toUTCString().replace("GMT", "+0000")
    }\n`,
  );
  await gzipFile(`${doc}/changelog`);
  await copy(`${ROOT}packaging/debian/lintian-overrides`, `${pkg}/usr/share/lintian/overrides/webcache`);
  const program = buildProgram();
  await write(`${pkg}/usr/share/man/man8/webcache.8`, renderManPage(program, { version, date }));
  await gzipFile(`${pkg}/usr/share/man/man8/webcache.8`);
  await write(`${pkg}/usr/share/bash-completion/completions/webcache`, renderBashCompletion(program));

  let bytes = 0;
  const sums: string[] = [];
  for await (const file of walk(pkg)) {
    bytes += (await Deno.stat(file)).size;
    const rel = file.slice(pkg.length + 1);
    const md5 = (await run("md5sum", [rel], pkg)).split(" ")[0];
    sums.push(`${md5}  ${rel}`);
  }
  const control = `${pkg}/DEBIAN`;
  await write(
    `${control}/control`,
    [
      `Package: webcache`,
      `Version: ${version}`,
      `Architecture: amd64`,
      `Maintainer: ${MAINTAINER}`,
      `Installed-Size: ${Math.ceil(bytes / 1024)}`,
      `Depends: adduser, libc6, libgcc-s1, iproute2`,
      `Recommends: nftables, logrotate`,
      `Section: net`,
      `Priority: optional`,
      `Description: web cache cluster: LVS-style director and HTTP caching proxy`,
      ` webcache is one executable that runs either as a layer-4 director for a`,
      ` virtual IP (direct routing, IP-in-IP tunnelling or a TCP proxy, with the LVS`,
      ` schedulers, persistence and health checks) or as an HTTP/1.1 caching proxy`,
      ` (accelerator, forward and transparent modes, RFC 9111 caching, memory and`,
      ` disk tiers, ICP peering). The nodes find each other with authenticated SWIM`,
      ` gossip.`,
      ``,
    ].join("\n"),
  );
  await write(`${control}/conffiles`, "/etc/logrotate.d/webcache\n/etc/webcache/appliance.yaml\n");
  await write(`${control}/md5sums`, sums.sort().join("\n") + "\n");
  for (const script of ["postinst", "prerm", "postrm"]) {
    await copy(`${ROOT}packaging/debian/${script}`, `${control}/${script}`, 0o755);
  }
  await Deno.mkdir(outDir, { recursive: true });
  const deb = `${outDir}/webcache_${version}_amd64.deb`;
  await run("dpkg-deb", ["--root-owner-group", "-Zxz", "--build", pkg, deb]);
  console.log(`built ${deb} (${((await Deno.stat(deb)).size / 1048576).toFixed(1)} MiB)`);
} finally {
  await Deno.remove(stage, { recursive: true });
}
