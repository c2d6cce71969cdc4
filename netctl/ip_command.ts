/**
 * The `ip` (iproute2) and `nft` commands netctl runs: addresses, links, routes and nftables
 * tables. Each change returns or records how to undo it.
 *
 * @module
 */

/** Output of a command that succeeded. */
export interface CommandOutput {
  stdout: string;
  stderr: string;
}

/**
 * Runs a command and returns its output.
 *
 * @param cmd argv
 * @param opts.stdin text fed to standard input
 * @throws {Error} when it exits non-zero, with its stderr
 */
export async function runCommand(cmd: string[], opts: { stdin?: string } = {}): Promise<CommandOutput> {
  let child;
  try {
    child = new Deno.Command(cmd[0], {
      args: cmd.slice(1),
      stdin: opts.stdin === undefined ? "null" : "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  } catch (e) {
    throw new Error(`Cannot run ${cmd[0]}: ${(e as Error).message}`, { cause: e });
  }
  if (opts.stdin !== undefined) {
    const w = child.stdin.getWriter();
    await w.write(new TextEncoder().encode(opts.stdin));
    await w.close();
  }
  const out = await child.output();
  const res = { stdout: new TextDecoder().decode(out.stdout), stderr: new TextDecoder().decode(out.stderr) };
  if (!out.success) throw new Error(`Command failed: ${cmd.join(" ")}: ${res.stderr.trim() || `exit ${out.code}`}`);
  return res;
}

/**
 * Whether `address/32` (or any prefix) is configured on `dev`.
 *
 * @param dev interface
 * @param address IPv4 address
 */
export async function hasAddress(dev: string, address: string): Promise<boolean> {
  const out = await runCommand(["ip", "-j", "-4", "addr", "show", "dev", dev]);
  const links = JSON.parse(out.stdout || "[]") as { addr_info?: { local: string }[] }[];
  return links.some((l) => (l.addr_info ?? []).some((a) => a.local === address));
}

/**
 * Adds `address/prefix` to `dev` unless present.
 *
 * @returns true when it was added (so the caller should remove it on exit)
 */
export async function addAddress(dev: string, address: string, prefix = 32): Promise<boolean> {
  if (await hasAddress(dev, address)) return false;
  await runCommand(["ip", "addr", "add", `${address}/${prefix}`, "dev", dev]);
  return true;
}

/** Removes `address/prefix` from `dev` (no error when absent). */
export async function removeAddress(dev: string, address: string, prefix = 32): Promise<void> {
  if (await hasAddress(dev, address)) await runCommand(["ip", "addr", "del", `${address}/${prefix}`, "dev", dev]);
}

/** What `ip route get` says about a destination. */
export interface RouteInfo {
  /** The gateway, or undefined when the destination is on-link. */
  gateway?: string;
  /** Output interface. */
  dev: string;
  /** Preferred source address. */
  prefsrc?: string;
}

/**
 * Looks up the route the kernel would use to reach `address`.
 *
 * @throws {Error} when there is no route
 */
export async function routeGet(address: string): Promise<RouteInfo> {
  const out = await runCommand(["ip", "-j", "route", "get", address]);
  const r = (JSON.parse(out.stdout) as { gateway?: string; dev: string; prefsrc?: string }[])[0];
  if (!r) throw new Error(`Cannot find a route to ${address}`);
  return { gateway: r.gateway, dev: r.dev, prefsrc: r.prefsrc };
}

/** Whether a link exists. */
export async function linkExists(dev: string): Promise<boolean> {
  try {
    await runCommand(["ip", "link", "show", "dev", dev]);
    return true;
  } catch {
    return false;
  }
}
