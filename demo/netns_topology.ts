/**
 * The demo's throw-away network for DR/TUN: a "hub" network namespace holding a bridge, one
 * namespace per node joined to it by a veth pair (`eth0` inside), and one veth from the demo's own
 * (root) namespace into the bridge, so the demo process (the origin, the client load, the
 * dashboard) and the user's curl reach the VIP and the nodes' admin endpoints.
 *
 * ```
 *   root ns: wcdm<id>h 10.78.N.1/24 ──┐
 *   wcdm<id>-dir  eth0 10.78.N.2 ─────┤ br0 (in wcdm<id>-hub)
 *   wcdm<id>-c1   eth0 10.78.N.11 ────┤
 *   wcdm<id>-c2   eth0 10.78.N.12 ────┤
 *   wcdm<id>-c3   eth0 10.78.N.13 ────┘        VIP 10.78.N.100
 * ```
 *
 * Every name starts with the prefix `wcdm` plus random characters. {@link NetnsTopology.destroy}
 * deletes every namespace it made; deleting the hub removes the root veth with its address.
 *
 * @module
 */
import { runCommand } from "../netctl/ip_command.ts";

/** One namespaced host. */
export interface NsHost {
  /** Short name (`dir`, `c1`). */
  name: string;
  /** Namespace name. */
  ns: string;
  /** Address of its eth0. */
  ip: string;
}

/** Metric of the demo subnet's blackhole route (below the connected route in preference). */
const BLACKHOLE_METRIC = "4242";

async function tryRun(cmd: string[]): Promise<boolean> {
  try {
    await runCommand(cmd);
    return true;
  } catch {
    return false;
  }
}

/**
 * Picks a 10.78.N.0/24 subnet that this host does not use (no address or route in it).
 *
 * @returns the first three octets, e.g. `10.78.42`
 * @throws {Error} when every candidate is in use
 */
export async function pickSubnet(): Promise<string> {
  const routes = (await runCommand(["ip", "-4", "route", "show", "table", "all"])).stdout;
  const addrs = (await runCommand(["ip", "-4", "-o", "addr", "show"])).stdout;
  const start = Math.floor(Math.random() * 200);
  for (let i = 0; i < 250; i++) {
    const n = (start + i) % 250 + 1;
    const net = `10.78.${n}`;
    if (!routes.includes(`${net}.`) && !addrs.includes(`${net}.`)) return net;
  }
  throw new Error("Cannot find a free 10.78.N.0/24 subnet for the demo network");
}

/** A demo network; create with {@link NetnsTopology.create}, always `destroy()` it. */
export class NetnsTopology {
  /** Prefix of every name (`wcdm` + 6 random hex digits). */
  readonly prefix: string;
  /** First three octets of the /24. */
  readonly net: string;
  /** The demo's own address on the bridge (`NET.1`). */
  readonly hostIp: string;
  /** Hosts added, in order. */
  readonly hosts: NsHost[] = [];
  readonly #namespaces: string[] = [];
  #links = 0;

  private constructor(prefix: string, net: string) {
    this.prefix = prefix;
    this.net = net;
    this.hostIp = `${net}.1`;
  }

  /** The hub namespace (holds `br0`). */
  get hub(): string {
    return `${this.prefix}-hub`;
  }

  /**
   * Creates the hub with its bridge and the root namespace's veth into it. On failure, removes
   * what it made and throws.
   */
  static async create(): Promise<NetnsTopology> {
    const t = new NetnsTopology(`wcdm${crypto.randomUUID().replaceAll("-", "").slice(0, 6)}`, await pickSubnet());
    try {
      await t.#addNs(t.hub);
      await t.exec(t.hub, ["ip", "link", "add", "br0", "type", "bridge"]);
      await t.exec(t.hub, ["ip", "link", "set", "br0", "type", "bridge", "forward_delay", "0", "stp_state", "0"]);
      await t.exec(t.hub, ["ip", "link", "set", "br0", "up"]);
      const rootEnd = `${t.prefix}h`, hubEnd = `${t.prefix}hp`;
      await runCommand(["ip", "link", "add", rootEnd, "type", "veth", "peer", "name", hubEnd]);
      try {
        await runCommand(["ip", "link", "set", hubEnd, "netns", t.hub]);
      } catch (e) {
        await tryRun(["ip", "link", "del", rootEnd]);
        throw e;
      }
      await t.exec(t.hub, ["ip", "link", "set", hubEnd, "master", "br0", "up"]);
      await runCommand(["ip", "addr", "add", `${t.hostIp}/24`, "dev", rootEnd]);
      // A blackhole under the connected route: once the veth is gone, a late packet of the demo
      // process to a node address dies here instead of leaving by the default route.
      await runCommand(["ip", "route", "add", "blackhole", `${t.net}.0/24`, "metric", BLACKHOLE_METRIC]);
      await runCommand(["ip", "link", "set", rootEnd, "up"]);
      // Act like a host behind a wire: no partial checksums or TSO super-frames towards the director.
      await tryRun(["ethtool", "-K", rootEnd, "tx", "off", "tso", "off", "gso", "off"]);
      return t;
    } catch (e) {
      await t.destroy();
      throw e;
    }
  }

  async #addNs(ns: string): Promise<void> {
    await runCommand(["ip", "netns", "add", ns]);
    this.#namespaces.push(ns);
    await this.exec(ns, ["ip", "link", "set", "lo", "up"]);
  }

  /**
   * Adds a host namespace with `eth0` (`NET.last`/24) on the bridge.
   *
   * @param name short name (at most 4 characters)
   * @param last last octet of its address
   */
  async addHost(name: string, last: number): Promise<NsHost> {
    const ns = `${this.prefix}-${name}`;
    await this.#addNs(ns);
    const n = this.#links++;
    const a = `${this.prefix}${n}a`, b = `${this.prefix}${n}b`;
    await runCommand(["ip", "link", "add", a, "type", "veth", "peer", "name", b]);
    try {
      await runCommand(["ip", "link", "set", a, "netns", this.hub]);
      await runCommand(["ip", "link", "set", b, "netns", ns]);
    } catch (e) {
      await tryRun(["ip", "link", "del", a]);
      throw e;
    }
    const ip = `${this.net}.${last}`;
    await this.exec(this.hub, ["ip", "link", "set", a, "master", "br0", "up"]);
    await this.exec(ns, ["ip", "link", "set", b, "name", "eth0"]);
    await this.exec(ns, ["ip", "addr", "add", `${ip}/24`, "dev", "eth0"]);
    await this.exec(ns, ["ip", "link", "set", "eth0", "up"]);
    // Multicast (gossip discovery, ICP multicast) leaves by eth0, as on a host with a default route.
    await this.exec(ns, ["ip", "route", "add", "224.0.0.0/4", "dev", "eth0"]);
    const host = { name, ns, ip };
    this.hosts.push(host);
    return host;
  }

  /** Runs a command in a namespace and waits for it. */
  exec(ns: string, cmd: string[]): Promise<{ stdout: string; stderr: string }> {
    return runCommand(["ip", "netns", "exec", ns, ...cmd]);
  }

  /** Prefix argv that runs a command inside `host`'s namespace. */
  wrap(host: NsHost): string[] {
    return ["ip", "netns", "exec", host.ns];
  }

  /** Deletes every namespace made (with their veths, addresses, sysctls and nftables tables). */
  async destroy(): Promise<void> {
    for (const ns of this.#namespaces.splice(0).reverse()) await tryRun(["ip", "netns", "del", ns]);
    // The root end goes with its hub peer; remove it if it outlived a failed start.
    await tryRun(["ip", "link", "del", `${this.prefix}h`]);
    await tryRun(["ip", "route", "del", "blackhole", `${this.net}.0/24`, "metric", BLACKHOLE_METRIC]);
  }
}
