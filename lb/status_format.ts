/**
 * Renders `/director/status` as `ipvsadm -Ln`, `ipvsadm -Ln --stats` and `ipvsadm -Ln --rate`
 * print it, so operators read the table they know. Pure.
 *
 * ```text
 * Prot LocalAddress:Port Scheduler Flags
 *   -> RemoteAddress:Port           Forward Weight ActiveConn InActConn
 * TCP  10.0.0.100:80 wlc persistent 300 mask 255.255.255.0
 *   -> 10.0.0.11:80                 Proxy   1      12         40
 * ```
 *
 * With a DR/TUN data plane, `--stats` ends with one line saying which path packets take:
 * `Data plane: fast path active|off|unavailable, InPkts in the kernel N, in user space N, flows in the kernel N`.
 *
 * Forward names follow ipvsadm: Route (dr), Tunnel (tun), and Proxy for the full proxy.
 * Large counters use ipvsadm's K/M/G suffixes above 99999999 unless `exact`.
 *
 * @module
 */
import { intToIpv4 } from "../core/addr.ts";
import type { DirectorStatus, ServerStatus, ServiceStatus } from "./director.ts";
import { formatHaStatus } from "./ha/status_lines.ts";

/** Which table to print. */
export type StatusMode = "list" | "stats" | "rate";

const FORWARD: Record<string, string> = { dr: "Route", tun: "Tunnel", proxy: "Proxy" };

/** ipvsadm's `print_largenum`: 8 columns, K/M/G beyond 99999999. */
export function largeNum(n: number, exact = false): string {
  n = Math.round(n);
  if (exact || n < 100_000_000) return String(n).padStart(8);
  if (n < 100_000_000_000) return `${Math.floor(n / 1000)}K`.padStart(8);
  if (n < 100_000_000_000_000) return `${Math.floor(n / 1_000_000)}M`.padStart(8);
  return `${Math.floor(n / 1_000_000_000)}G`.padStart(8);
}

function serviceLine(s: ServiceStatus): string {
  const proto = s.key.startsWith("*:") ? "FWM " : "TCP ";
  let line = `${proto} ${s.key} ${s.scheduler}`;
  if (s.persistence) {
    line += ` persistent ${s.persistence.timeoutS}`;
    if (s.persistence.netmask !== 32) {
      const mask = s.persistence.netmask === 0 ? 0 : (0xffffffff << (32 - s.persistence.netmask)) >>> 0;
      line += ` mask ${intToIpv4(mask)}`;
    }
  }
  return line;
}

function serverName(r: ServerStatus): string {
  const flags = [r.sorry ? "sorry" : "", !r.up ? "down" : "", r.drained ? "drained" : "", r.removed ? "removed" : ""]
    .filter(Boolean);
  return flags.length ? `${r.key} (${flags.join(",")})` : r.key;
}

/**
 * Formats the status as ipvsadm does.
 *
 * @param mode `list` (-Ln), `stats` (--stats) or `rate` (--rate)
 * @param exact print counters in full (`--exact`)
 */
export function formatStatus(st: DirectorStatus, mode: StatusMode, exact = false): string {
  const out: string[] = [
    `IP Virtual Server (webcache director) connections=${st.table.entries} (max ${st.table.maxEntries})`,
  ];
  if (st.ha) out.push(...formatHaStatus(st.ha));
  if (st.activeActive) {
    out.push(`HA: ACTIVE (active-active) in group "${st.activeActive.group}" as ${st.activeActive.node}`);
  }
  const n = (x: number) => largeNum(x, exact);
  if (mode === "list") {
    out.push("Prot LocalAddress:Port Scheduler Flags");
    out.push("  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn");
    for (const s of st.services) {
      out.push(serviceLine(s));
      for (const r of s.servers) {
        out.push(
          `  -> ${serverName(r).padEnd(28)} ${(FORWARD[r.method] ?? r.method).padEnd(7)} ${
            String(r.weight).padEnd(6)
          } ` +
            `${String(r.activeConns).padEnd(10)} ${r.inactConns}`,
        );
      }
    }
  } else if (mode === "stats") {
    out.push("Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes");
    out.push("  -> RemoteAddress:Port");
    for (const s of st.services) {
      const t = s.totals;
      out.push(
        `${("TCP  " + s.key).padEnd(33)} ${n(t.conns)} ${n(t.inPkts)} ${n(t.outPkts)} ${n(t.inBytes)} ${n(t.outBytes)}`,
      );
      for (const r of s.servers) {
        const u = r.totals;
        out.push(
          `  -> ${serverName(r).padEnd(28)} ${n(u.conns)} ${n(u.inPkts)} ${n(u.outPkts)} ${n(u.inBytes)} ${
            n(u.outBytes)
          }`,
        );
      }
    }
    const dp = st.dataplane;
    if (dp) {
      out.push(
        `Data plane: fast path ${dp.fastPath}, InPkts in the kernel ${Math.round(dp.fastPathPackets)}, ` +
          `in user space ${Math.round(dp.userPackets)}, flows in the kernel ${Math.round(dp.fastPathFlows)}`,
      );
    }
  } else {
    out.push("Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS");
    out.push("  -> RemoteAddress:Port");
    for (const s of st.services) {
      const r = s.rates;
      out.push(
        `${("TCP  " + s.key).padEnd(33)} ${n(r.cps)} ${n(r.inPps)} ${n(r.outPps)} ${n(r.inBps)} ${n(r.outBps)}`,
      );
      for (const x of s.servers) {
        const q = x.rates;
        out.push(
          `  -> ${serverName(x).padEnd(28)} ${n(q.cps)} ${n(q.inPps)} ${n(q.outPps)} ${n(q.inBps)} ${n(q.outBps)}`,
        );
      }
    }
  }
  return out.join("\n");
}
