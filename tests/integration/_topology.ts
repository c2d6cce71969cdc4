/**
 * Builds a throw-away L2 network out of network namespaces for data-plane tests: one "hub"
 * namespace holding a bridge, and one namespace per host joined to it by a veth pair whose host
 * end is called `eth0`. Every namespace name starts with a unique prefix (`wcdp` + random), so
 * tests of several helpers can run at once; {@link Topology.destroy} kills every process started
 * through it and deletes every namespace (which removes their veths, addresses, sysctls and
 * nftables tables). Use it in `try/finally`.
 *
 * ```ts
 * const topo = await Topology.create();
 * try {
 *   const client = await topo.addHost("cli", "10.77.0.10", { txChecksumOffload: false });
 *   ...
 * } finally {
 *   await topo.destroy();
 * }
 * ```
 *
 * @module
 */
import { unmet } from "../_requires.ts";

/** One namespaced host on the bridge. */
export interface Host {
  /** Short name given to {@link Topology.addHost}. */
  name: string;
  /** Network namespace name. */
  ns: string;
  /** Its interface on the bridge (always `eth0`). */
  ifname: string;
  /** IPv4 address on eth0 (a /24). */
  ip: string;
  /** MAC address of eth0. */
  mac: string;
}

/** Output of a finished command. */
export interface ExecResult {
  code: number;
  stdout: string;
  stderr: string;
}

async function run(cmd: string[], check = true): Promise<ExecResult> {
  const out = await new Deno.Command(cmd[0], { args: cmd.slice(1), stdout: "piped", stderr: "piped" }).output();
  const res = {
    code: out.code,
    stdout: new TextDecoder().decode(out.stdout),
    stderr: new TextDecoder().decode(out.stderr),
  };
  if (check && out.code !== 0) throw new Error(`Command failed (${out.code}): ${cmd.join(" ")}: ${res.stderr.trim()}`);
  return res;
}

/** Whether this process may build namespaces (root with `ip` available). */
export async function canBuildTopology(): Promise<boolean> {
  return (await unmet({ netns: true })) === undefined;
}

/** A set of namespaces on one bridge. */
export class Topology {
  /** Unique prefix of every namespace this topology made. */
  readonly prefix: string;
  /** The namespace holding the bridge `br0`. */
  readonly hub: string;
  readonly hosts: Host[] = [];
  #namespaces: string[] = [];
  #procs: Deno.ChildProcess[] = [];
  #links = 0;

  private constructor(prefix: string) {
    this.prefix = prefix;
    this.hub = `${prefix}-hub`;
  }

  /**
   * Creates the hub namespace and its bridge.
   *
   * @param prefix namespace prefix; a random suffix is appended
   */
  static async create(prefix = "wcdp"): Promise<Topology> {
    const t = new Topology(`${prefix}${crypto.randomUUID().slice(0, 6)}`);
    await t.#addNs(t.hub);
    await t.exec(t.hub, ["ip", "link", "add", "br0", "type", "bridge"]);
    // Forward frames at once (no STP learning delay) and do not call iptables on bridged frames: with
    // br_netfilter loaded, a new namespace's bridge-nf-call-* default to 1, and every bridged frame then takes
    // netfilter's IPv4 path (an skb extension, a route lookup, the hooks) — work a switch does not do, paid once per
    // hop (twice for a frame through a director on the same bridge).
    await t.exec(t.hub, ["ip", "link", "set", "br0", "type", "bridge", "forward_delay", "0", "stp_state", "0"]);
    for (const f of ["iptables", "ip6tables", "arptables"]) {
      await t.exec(t.hub, ["sh", "-c", `f=/proc/sys/net/bridge/bridge-nf-call-${f}; [ ! -e $f ] || echo 0 > $f`]);
    }
    await t.exec(t.hub, ["ip", "link", "set", "br0", "up"]);
    return t;
  }

  async #addNs(ns: string): Promise<void> {
    await run(["ip", "netns", "add", ns]);
    this.#namespaces.push(ns);
    await this.exec(ns, ["ip", "link", "set", "lo", "up"]);
  }

  /**
   * Adds a host namespace with `eth0` on the bridge.
   *
   * @param name short name (≤ 8 chars)
   * @param ip IPv4 address of eth0 (/24)
   * @param opts.txChecksumOffload false turns tx checksum/TSO offload off on eth0 (a host behind a wire)
   * @param opts.mtu MTU of eth0
   */
  async addHost(name: string, ip: string, opts: { txChecksumOffload?: boolean; mtu?: number } = {}): Promise<Host> {
    const ns = `${this.prefix}-${name}`;
    await this.#addNs(ns);
    const n = this.#links++;
    const a = `${this.prefix.slice(0, 10)}${n}a`, b = `${this.prefix.slice(0, 10)}${n}b`;
    await run(["ip", "link", "add", a, "type", "veth", "peer", "name", b]);
    try {
      await run(["ip", "link", "set", a, "netns", this.hub]);
      await run(["ip", "link", "set", b, "netns", ns]);
    } catch (e) {
      await run(["ip", "link", "del", a], false);
      throw e;
    }
    await this.exec(this.hub, ["ip", "link", "set", a, "master", "br0", "up"]);
    await this.exec(ns, ["ip", "link", "set", b, "name", "eth0"]);
    if (opts.mtu) await this.exec(ns, ["ip", "link", "set", "eth0", "mtu", String(opts.mtu)]);
    await this.exec(ns, ["ip", "addr", "add", `${ip}/24`, "dev", "eth0"]);
    await this.exec(ns, ["ip", "link", "set", "eth0", "up"]);
    if (opts.txChecksumOffload === false) {
      await this.exec(ns, ["ethtool", "-K", "eth0", "tx", "off", "tso", "off", "gso", "off"]);
    }
    const mac = (await this.exec(ns, ["cat", "/sys/class/net/eth0/address"])).stdout.trim();
    const host = { name, ns, ifname: "eth0", ip, mac };
    this.hosts.push(host);
    return host;
  }

  /**
   * Runs a command inside a namespace and waits for it.
   *
   * @param ns namespace
   * @param cmd argv
   * @param check throw when it exits non-zero (default true)
   */
  exec(ns: string, cmd: string[], check = true): Promise<ExecResult> {
    return run(["ip", "netns", "exec", ns, ...cmd], check);
  }

  /**
   * Starts a long-running command inside a namespace; {@link destroy} kills it if still running.
   *
   * @param ns namespace
   * @param cmd argv
   * @param opts.env extra environment
   * @param opts.stdout "piped" to read its output, default "null"
   */
  spawn(
    ns: string,
    cmd: string[],
    opts: { env?: Record<string, string>; stdout?: "piped" | "null"; stderr?: "piped" | "null" | "inherit" } = {},
  ): Deno.ChildProcess {
    const p = new Deno.Command("ip", {
      args: ["netns", "exec", ns, ...cmd],
      env: opts.env,
      stdin: "null",
      stdout: opts.stdout ?? "null",
      stderr: opts.stderr ?? "null",
    }).spawn();
    this.#procs.push(p);
    return p;
  }

  /** Makes {@link destroy} kill a process started elsewhere in one of these namespaces. */
  adopt(p: Deno.ChildProcess): void {
    this.#procs.push(p);
  }

  /**
   * Stops a process started by {@link spawn} (SIGTERM, then SIGKILL after `graceMs`) and awaits it.
   *
   * @param p the process
   * @param graceMs time to exit after SIGTERM
   */
  async stop(p: Deno.ChildProcess, graceMs = 3000): Promise<Deno.CommandStatus> {
    try {
      p.kill("SIGTERM");
    } catch { /* already exited */ }
    let timer: ReturnType<typeof setTimeout> | undefined;
    const killed = new Promise<void>((resolve) => {
      timer = setTimeout(() => {
        try {
          p.kill("SIGKILL");
        } catch { /* exited */ }
        resolve();
      }, graceMs);
    });
    const status = await Promise.race([p.status, killed.then(() => p.status)]);
    clearTimeout(timer);
    this.#procs = this.#procs.filter((q) => q !== p);
    return status;
  }

  /** Kills every process still running and deletes every namespace (veths go with them). */
  async destroy(): Promise<void> {
    for (const p of this.#procs) {
      try {
        p.kill("SIGKILL");
      } catch { /* exited */ }
    }
    for (const p of this.#procs) {
      await p.status;
      for (const which of ["stdout", "stderr"] as const) {
        try {
          await p[which].cancel();
        } catch { /* not piped, locked or already consumed */ }
      }
    }
    this.#procs = [];
    // Whatever still runs inside (an nginx worker whose master was killed, a daemon's child) would
    // outlive the namespace and keep its inherited files open: kill it too.
    for (const ns of this.#namespaces) {
      const out = await new Deno.Command("ip", { args: ["netns", "pids", ns], stdout: "piped", stderr: "null" })
        .output();
      for (const pid of new TextDecoder().decode(out.stdout).split(/\s+/).filter(Boolean).map(Number)) {
        try {
          Deno.kill(pid, "SIGKILL");
        } catch { /* exited */ }
      }
    }
    for (const ns of this.#namespaces.reverse()) await run(["ip", "netns", "del", ns], false);
    this.#namespaces = [];
  }
}
