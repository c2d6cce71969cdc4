/**
 * The real-server (cache) side of LVS/DR and LVS/TUN: prepare the host so it accepts packets for
 * the VIP without ever answering ARP for it, and undo everything on exit.
 *
 * DR: `VIP/32` on `lo`; `arp_ignore=1` (answer ARP only for addresses on the receiving interface)
 * and `arp_announce=2` (never use the VIP as ARP source) on `all`, where the kernel takes the
 * maximum of `all` and each interface.
 *
 * TUN: the same, plus decapsulation: the kernel's `tunl0` where the ipip module exists, else an eBPF
 * program at tcx ingress of the interfaces facing the directors strips the outer header of whole
 * packets in the kernel (`tc_decapsulator.ts`), and the user-space decapsulator (raw protocol-4
 * socket → TUN device) takes what is left: reassembled fragments, or everything when the kernel
 * refuses BPF; `rp_filter=0` on `all` and the
 * tunnel device, because the packet arrives on the tunnel while the route back to the client is
 * via the real interface (the kernel takes the maximum of `all` and the device). An nftables rule
 * clamps the MSS of SYN-ACKs from the VIP to MTU − 60 so no client segment needs the director's
 * ICMP fragmentation-needed (see {@link mssClampRuleset}).
 *
 * Which outer sources may tunnel packets to this host (both decapsulators check the same list):
 *
 * | `director`   | `directorsFromMembership` | allowed                                                  |
 * |--------------|---------------------------|----------------------------------------------------------|
 * | given        | (ignored)                 | that fixed list (`--director`)                            |
 * | absent       | true                      | none until {@link RealServerSetup.setDirectors}, then the live directors |
 * | absent       | false                     | any source (the user-space decapsulator only; warned)     |
 *
 * With directors from membership the eBPF program is loaded at once with an empty map (nothing
 * decapsulated, nothing accepted) and attached to the interface routing to each director as it
 * becomes known.
 *
 * @module
 */
import { interfaceInfo } from "./interface_info.ts";
import { addAddress, hasAddress, linkExists, removeAddress, routeGet, runCommand } from "./ip_command.ts";
import { type DecapStats, IpipDecapsulator } from "./ipip_decapsulator.ts";
import { isIPv4 } from "../core/addr.ts";
import { MAX_DECAP_DIRECTORS } from "./ipip_decap_program.ts";
import { type TcDecapStats, TcDecapsulator } from "./tc_decapsulator.ts";
import { installTable, mssClampRuleset, tableExists } from "./nft.ts";
import { missingNetCapabilities } from "./privileges.ts";
import { readSysctl, SysctlGuard } from "./sysctl.ts";
import { getLogger } from "../core/log.ts";

const log = getLogger("netctl.real_server");

/** Options of {@link setupRealServer}. */
export interface RealServerOptions {
  /** The virtual IP this cache serves. */
  vip: string;
  /** How the director sends packets. */
  forwarding: "dr" | "tun";
  /** TUN: director addresses accepted as outer source (`--director`); a fixed list. */
  director?: string | string[];
  /**
   * TUN without `director`: the allowed directors come from cluster membership through
   * {@link RealServerSetup.setDirectors}; nothing is accepted until then. Without this and without
   * `director`, any outer source is accepted.
   */
  directorsFromMembership?: boolean;
  /** TUN: name of the user-space TUN device (default `wctun0`). */
  tunName?: string;
  /** TUN: clamp the MSS of SYN-ACKs from the VIP (default true). */
  mssClamp?: boolean;
  /** TUN: force the user-space decapsulator even where the ipip module exists. */
  userSpaceDecap?: boolean;
  /**
   * TUN without the ipip module: also decapsulate whole packets in the kernel with an eBPF program at
   * tcx ingress of the interfaces facing the directors (default true; needs `director` or
   * `directorsFromMembership`). The user-space
   * decapsulator stays for fragmented outer packets and as the fallback when the kernel refuses BPF.
   */
  ebpfDecap?: boolean;
}

/** One line of a set-up or check report. */
export interface CheckItem {
  /** What was checked, e.g. `net.ipv4.conf.all.arp_ignore`. */
  name: string;
  ok: boolean;
  /** The value found. */
  value: string;
  /** The value DR/TUN needs. */
  expected: string;
  /** Why it matters when it is wrong. */
  hint?: string;
}

/** The IP-in-IP outer sources a TUN real server accepts, and where they came from. */
export interface AllowedDirectors {
  /** The addresses (sorted), or `any`. */
  addrs: readonly string[] | "any";
  /**
   * `--director` (fixed), `membership` (live director members), `none` (no `--director` and no
   * membership: any source), `kernel` (the ipip module's tunl0, which takes any source).
   */
  from: "--director" | "membership" | "none" | "kernel";
  /** True when read from the running cache (`/status`), not derived from flags and config. */
  running?: boolean;
}

/** What {@link setupRealServer} returns. */
export interface RealServerSetup {
  /**
   * How TUN packets are decapsulated: `kernel` (tunl0), `ebpf` (eBPF at tcx ingress, with the user-space
   * decapsulator for fragments), `user-space`, or `none` for DR.
   */
  readonly decap: "none" | "kernel" | "ebpf" | "user-space";
  /** Packets the eBPF decapsulator handled (undefined without it). */
  ebpfStats?(): TcDecapStats;
  /** Counters of the user-space decapsulator (undefined without it). */
  userSpaceStats?(): DecapStats;
  /** TUN: the allowed outer sources and their origin (undefined for DR). */
  allowedDirectors(): AllowedDirectors | undefined;
  /**
   * TUN with `directorsFromMembership`: replaces the allowed directors in both decapsulators and
   * attaches the eBPF program to the interface routing to a new director. Calls run one at a time;
   * a failure to attach is logged and leaves that director to the user-space decapsulator.
   *
   * @param addrs IPv4 addresses of the live directors (others are ignored with a warning)
   * @throws {Error} when the directors are fixed (`director` given) or the set-up is not TUN
   */
  setDirectors(addrs: readonly string[]): Promise<void>;
  /** Undoes every change (addresses, sysctls, nftables table, decapsulator), in reverse order. */
  undo(): Promise<void>;
  /** The current settings, checked. */
  report(): Promise<CheckItem[]>;
}

const MSS_TABLE = "webcache_mss";
/** Default name of the user-space decapsulator's TUN device. */
export const DEFAULT_TUN = "wctun0";

/** Whether the kernel can do IP-in-IP itself (tunl0 exists or the ipip module loads). */
export async function kernelIpipAvailable(): Promise<boolean> {
  if (await linkExists("tunl0")) return true;
  try {
    await runCommand(["modprobe", "ipip"]);
  } catch {
    return false;
  }
  return await linkExists("tunl0");
}

/**
 * Prepares this host as a DR or TUN real server for `vip`.
 *
 * @param opts VIP, forwarding method, TUN options
 * @returns a handle to undo the changes and report the settings
 * @throws {Error} when a step fails (the steps done so far are undone first)
 */
export async function setupRealServer(opts: RealServerOptions): Promise<RealServerSetup> {
  const sysctls = new SysctlGuard();
  const undos: (() => Promise<void>)[] = [];
  let decap: RealServerSetup["decap"] = "none";
  let decapsulator: IpipDecapsulator | undefined;
  let tcDecap: TcDecapsulator | undefined;
  let tunDev: string | undefined;
  const fixed = opts.director === undefined ? [] : [opts.director].flat();
  const fromMembership = fixed.length === 0 && opts.directorsFromMembership === true;
  let allowed: AllowedDirectors | undefined;
  let undone = false;
  const undo = async () => {
    undone = true;
    for (const u of undos.reverse()) {
      try {
        await u();
      } catch { /* keep undoing */ }
    }
    undos.length = 0;
    sysctls.restore();
  };
  try {
    if (await addAddress("lo", opts.vip)) undos.push(() => removeAddress("lo", opts.vip));
    sysctls.set("net.ipv4.conf.all.arp_ignore", "1");
    sysctls.set("net.ipv4.conf.all.arp_announce", "2");
    if (opts.forwarding === "tun") {
      const directors = fixed;
      if (!opts.userSpaceDecap && await kernelIpipAvailable()) {
        decap = "kernel";
        tunDev = "tunl0";
        allowed = { addrs: "any", from: "kernel" };
        await runCommand(["ip", "link", "set", "tunl0", "up"]);
      } else {
        decap = "user-space";
        allowed = directors.length
          ? { addrs: [...new Set(directors)].sort(), from: "--director" }
          : fromMembership
          ? { addrs: [], from: "membership" }
          : { addrs: "any", from: "none" };
        if (allowed.addrs === "any") {
          log.warn("Accepting IP-in-IP from any source: give --director or cluster peers", { vip: opts.vip });
        }
        decapsulator = await IpipDecapsulator.start({ tunName: opts.tunName ?? DEFAULT_TUN, directors: allowed.addrs });
        tunDev = decapsulator.tunName;
        const d = decapsulator;
        undos.push(() => d.stop());
        if (opts.ebpfDecap !== false && (directors.length || fromMembership)) {
          try {
            const ifaces = new Set<string>();
            for (const dir of directors) ifaces.add((await routeGet(dir)).dev);
            const tc = TcDecapsulator.attach({ interfaces: [...ifaces], directors });
            tcDecap = tc;
            undos.push(() => Promise.resolve(tc.close()));
            decap = "ebpf";
          } catch (e) {
            log.warn("Cannot decapsulate in the kernel with eBPF; the user-space decapsulator handles everything", {
              error: (e as Error).message,
            });
          }
        }
      }
      sysctls.set("net.ipv4.conf.all.rp_filter", "0");
      sysctls.set(`net.ipv4.conf.${tunDev}.rp_filter`, "0");
      if (opts.mssClamp !== false) {
        // MSS = path MTU − 20 (outer IP) − 20 (IP) − 20 (TCP), from the route's device towards a director.
        let mtu = 1500;
        try {
          const dev = directors.length ? (await routeGet(directors[0])).dev : undefined;
          if (dev) mtu = interfaceInfo(dev).mtu;
        } catch { /* default 1500 */ }
        undos.push(await installTable(MSS_TABLE, mssClampRuleset(MSS_TABLE, opts.vip, mtu - 60)));
      }
    }
  } catch (e) {
    await undo();
    throw e;
  }
  const how = () =>
    tcDecap
      ? `ebpf (tcx ingress of ${tcDecap.interfaces.join(", ") || "no interface yet"}) + user-space (${tunDev}) ` +
        "for fragments"
      : decap;
  // setDirectors(): one at a time; the route to each director is looked up once.
  let chain = Promise.resolve();
  const routes = new Map<string, string>();
  const apply = async (addrs: readonly string[]) => {
    if (undone) return; // a membership change racing the shutdown
    const bad = addrs.filter((a) => !isIPv4(a));
    if (bad.length) log.warn("Ignoring director addresses that are not IPv4", { directors: bad.join(",") });
    let next = [...new Set(addrs.filter(isIPv4))].sort();
    if (next.length > MAX_DECAP_DIRECTORS) {
      log.warn("More directors than the decapsulator holds; ignoring the rest", { count: next.length });
      next = next.slice(0, MAX_DECAP_DIRECTORS);
    }
    if (allowed?.addrs !== "any" && next.join(",") === allowed?.addrs.join(",")) return;
    decapsulator?.setDirectors(next);
    allowed = { addrs: next, from: "membership" };
    if (tcDecap) {
      tcDecap.setDirectors(next);
      for (const a of next) {
        try {
          let dev = routes.get(a);
          if (dev === undefined) {
            dev = (await routeGet(a)).dev;
            routes.set(a, dev);
          }
          if (tcDecap.attachInterface(dev)) log.info("eBPF decapsulator attached", { iface: dev, director: a });
        } catch (e) {
          log.warn("Cannot attach the eBPF decapsulator towards a director; user space takes its packets", {
            director: a,
            error: (e as Error).message,
          });
        }
      }
    }
    log.info("IP-in-IP sources from membership", { vip: opts.vip, directors: next.join(",") || "none" });
  };
  return {
    decap,
    undo,
    ebpfStats: tcDecap ? () => tcDecap.stats() : undefined,
    userSpaceStats: decapsulator ? () => decapsulator.stats() : undefined,
    allowedDirectors: () => allowed,
    setDirectors(addrs) {
      if (!fromMembership || opts.forwarding !== "tun" || decap === "kernel") {
        return Promise.reject(new Error("Cannot set the directors: they are fixed (--director) or not used here"));
      }
      const run = chain.then(() => apply(addrs));
      chain = run.catch(() => {});
      return run;
    },
    report: () =>
      checkRealServer({
        vip: opts.vip,
        forwarding: opts.forwarding,
        tunDevice: tunDev,
        decap: how(),
        allowed,
      }),
  };
}

/**
 * Checks the settings DR/TUN real servers need and names the usual reasons a set-up fails
 * (`webcache cache --check-vip`).
 *
 * @param opts.vip the VIP
 * @param opts.forwarding dr or tun
 * @param opts.tunDevice TUN: the decapsulating device to check (default tunl0 if present)
 * @param opts.decap TUN: how decapsulation is done, if known
 * @param opts.allowed TUN: the outer sources accepted and where they come from
 */
export async function checkRealServer(
  opts: { vip: string; forwarding: "dr" | "tun"; tunDevice?: string; decap?: string; allowed?: AllowedDirectors },
): Promise<CheckItem[]> {
  const items: CheckItem[] = [];
  const onLo = await hasAddress("lo", opts.vip).catch(() => false);
  items.push({
    name: `VIP ${opts.vip}/32 on lo`,
    ok: onLo,
    value: onLo ? "present" : "absent",
    expected: "present",
    hint: "without it the kernel drops packets for the VIP (DR) or decapsulated packets (TUN)",
  });
  const num = (name: string) => Number(readSysctl(name) ?? "0");
  const eff = (key: string) => {
    // The kernel uses max(all, interface) for arp_ignore, arp_announce and rp_filter.
    let max = num(`net.ipv4.conf.all.${key}`);
    let dev = "all";
    for (const d of listInterfaces()) {
      const v = num(`net.ipv4.conf.${d}.${key}`);
      if (v > max && d !== "lo") [max, dev] = [v, d];
    }
    return { max, dev };
  };
  const ai = eff("arp_ignore");
  items.push({
    name: "arp_ignore (max of all and interfaces)",
    ok: ai.max >= 1,
    value: `${ai.max} (${ai.dev})`,
    expected: "1",
    hint: "0 lets this host answer ARP for the VIP, stealing the director's traffic",
  });
  const aa = eff("arp_announce");
  items.push({
    name: "arp_announce (max of all and interfaces)",
    ok: aa.max >= 2,
    value: `${aa.max} (${aa.dev})`,
    expected: "2",
    hint: "below 2 the host may send ARP requests with the VIP as source and poison clients' caches",
  });
  const missing = missingNetCapabilities();
  if (opts.forwarding === "tun") {
    let dev = opts.tunDevice;
    let how = opts.decap;
    if (!dev && await linkExists("tunl0")) [dev, how] = ["tunl0", "kernel (tunl0)"];
    if (!dev && await linkExists(DEFAULT_TUN) && rawIpipSocketOpen()) {
      [dev, how] = [DEFAULT_TUN, `user-space (${DEFAULT_TUN} + raw IP-in-IP socket)`];
    }
    items.push({
      name: "IP-in-IP decapsulation",
      ok: dev !== undefined,
      value: how ?? "none",
      expected: "kernel tunl0 or user-space TUN device",
      hint: "no ipip module: webcache cache --forwarding tun starts a user-space decapsulator (needs /dev/net/tun)",
    });
    if (!dev) {
      const tun = await Deno.stat("/dev/net/tun").then(() => true, () => false);
      items.push({
        name: "/dev/net/tun",
        ok: tun,
        value: tun ? "present" : "absent",
        expected: "present",
        hint: "the user-space decapsulator needs it (modprobe tun)",
      });
    }
    if (opts.allowed) items.push(allowedItem(opts.allowed));
    const rpAll = num("net.ipv4.conf.all.rp_filter");
    const rpDev = dev ? num(`net.ipv4.conf.${dev}.rp_filter`) : 0;
    const rp = Math.max(rpAll, rpDev);
    items.push({
      name: `rp_filter (max of all${dev ? ` and ${dev}` : ""})`,
      ok: rp === 0,
      value: String(rp),
      expected: "0",
      hint:
        "strict reverse-path filtering drops decapsulated packets: they arrive on the tunnel, the client route is elsewhere",
    });
    const clamp = await tableExists(MSS_TABLE).catch(() => false);
    items.push({
      name: "MSS clamp for the VIP (nftables)",
      ok: clamp,
      value: clamp ? "installed" : "absent",
      expected: "installed (or path MTU discovery working)",
      hint: "without it full-size client segments exceed the tunnel MTU and rely on ICMP frag-needed from the director",
    });
  }
  items.push({
    name: "capabilities",
    ok: missing.length === 0,
    value: missing.length ? `missing ${missing.join(", ")}` : "CAP_NET_ADMIN, CAP_NET_RAW",
    expected: "CAP_NET_ADMIN, CAP_NET_RAW",
    hint: "needed to add the VIP, set sysctls and run the decapsulator",
  });
  return items;
}

/**
 * The check line of the allowed IP-in-IP outer sources: fine when they are a list of directors,
 * from `--director` or membership; failing when any host may tunnel packets to the VIP, or while
 * membership has not shown a director yet (nothing is accepted then).
 *
 * @param a the allowed sources
 */
export function allowedItem(a: AllowedDirectors): CheckItem {
  const name = `IP-in-IP outer sources allowed${a.running ? " (running cache)" : ""}`;
  const expected = "the directors (--director ADDR, or live directors from membership)";
  if (a.addrs === "any") {
    return {
      name,
      ok: false,
      value: a.from === "kernel" ? "any (kernel tunl0)" : "any (no --director, no membership)",
      expected,
      hint: "any host can send packets that look like they come from any client; give --director or cluster peers",
    };
  }
  if (a.addrs.length === 0) {
    return {
      name,
      ok: false,
      value: a.from === "membership" ? "none yet (membership: no live director member)" : "none",
      expected,
      hint: "nothing is decapsulated until a director joins the cluster (its record carries the tunnel source)",
    };
  }
  return { name, ok: true, value: `${a.addrs.join(", ")} (${a.from})`, expected };
}

/** Whether some process holds a raw protocol-4 socket (/proc/net/raw lists its local "port" as the protocol). */
function rawIpipSocketOpen(): boolean {
  try {
    return Deno.readTextFileSync("/proc/net/raw").split("\n").slice(1).some((l) =>
      /^\s*\d+: [0-9A-F]{8}:0004 /.test(l)
    );
  } catch {
    return false;
  }
}

function listInterfaces(): string[] {
  try {
    return [...Deno.readDirSync("/proc/sys/net/ipv4/conf")].map((e) => e.name).filter((n) =>
      n !== "all" && n !== "default"
    );
  } catch {
    return [];
  }
}

/**
 * Formats check items as aligned text lines (`ok`/`FAIL`, name, value, expected, hint on failure).
 *
 * @param items the checks
 */
export function formatCheckReport(items: readonly CheckItem[]): string {
  const w = Math.max(...items.map((i) => i.name.length));
  return items.map((i) =>
    `${i.ok ? "ok  " : "FAIL"}  ${i.name.padEnd(w)}  ${i.value}` +
    (i.ok ? "" : `  (need ${i.expected}: ${i.hint ?? ""})`)
  ).join("\n");
}
