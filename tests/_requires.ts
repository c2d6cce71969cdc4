/**
 * One way for tests that need privileges or system tools to say so: as an ordinary user they are
 * skipped (`ignore`) with the reason in their name, instead of failing; as root with the tools
 * installed they run.
 *
 * ```ts
 * Deno.test({
 *   ...await requires("DR forwarding: responses, capture, failover", { netns: true, commands: ["nft"] }),
 *   async fn() { ... },
 * });
 * ```
 *
 * What needs root here: network namespaces and veths (`ip netns`), nftables, raw packet sockets,
 * eBPF programs, sysctls, mounts (tmpfs), and ports below 1024 outside a namespace.
 *
 * @module
 */

/** What a test needs. */
export interface Requirements {
  /** uid 0: raw sockets, eBPF, sysctls, mounts, ports below 1024. */
  root?: boolean;
  /** Network namespaces (`ip netns` works; implies root). */
  netns?: boolean;
  /** Programs that must be on PATH, e.g. `nft`, `curl`, `mount`, `setpriv`. */
  commands?: string[];
  /** Another unmet condition the caller found, as its reason (e.g. "CAP_NET_RAW is not effective"). */
  unless?: string;
}

function onPath(cmd: string): boolean {
  // Also the sbin directories, on root's PATH but often not on a user's.
  const dirs = [...(Deno.env.get("PATH") ?? "").split(":"), "/usr/local/sbin", "/usr/sbin", "/sbin"];
  for (const dir of dirs) {
    if (!dir) continue;
    try {
      if (Deno.statSync(`${dir}/${cmd}`).isFile) return true;
    } catch { /* not here */ }
  }
  return false;
}

let netnsWorks: Promise<boolean> | undefined;

function canUseNetns(): Promise<boolean> {
  netnsWorks ??= (async () => {
    try {
      const out = await new Deno.Command("ip", { args: ["netns", "list"], stdout: "null", stderr: "null" }).output();
      return out.success;
    } catch {
      return false;
    }
  })();
  return netnsWorks;
}

/**
 * Why a test cannot run here, or undefined when it can.
 *
 * @param req what the test needs
 * @returns the reason, e.g. `needs root (running as uid 1000)`
 */
export async function unmet(req: Requirements): Promise<string | undefined> {
  const reasons: string[] = [];
  if (Deno.build.os !== "linux" && (req.root || req.netns)) return `needs Linux (running on ${Deno.build.os})`;
  const uid = Deno.uid();
  if ((req.root || req.netns) && uid !== 0) reasons.push(`needs root (running as uid ${uid})`);
  const missing = [...(req.netns ? ["ip"] : []), ...(req.commands ?? [])].filter((c) => !onPath(c));
  if (missing.length) reasons.push(`needs ${missing.join(", ")} on PATH`);
  if (reasons.length === 0 && req.netns && !(await canUseNetns())) reasons.push("'ip netns list' fails");
  if (req.unless) reasons.push(req.unless);
  return reasons.length ? reasons.join("; ") : undefined;
}

/**
 * The `name` and `ignore` of a test definition: skipped with the reason in its name when a
 * requirement is not met.
 *
 * @param name the test's name
 * @param req what it needs
 * @returns fields to spread into `Deno.test({...})`
 */
export async function requires(name: string, req: Requirements): Promise<{ name: string; ignore: boolean }> {
  const why = await unmet(req);
  return why ? { name: `${name} [skipped: ${why}]`, ignore: true } : { name, ignore: false };
}
