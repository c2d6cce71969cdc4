/**
 * nftables rules netctl installs and removes, each in its own table so removal is one
 * `delete table` and nothing else on the host is touched:
 *
 * - {@link vipDropRuleset}: with `vipMode: nft` the VIP is on the director's interface (so the
 *   kernel answers ARP), and a prerouting hook at priority −300 (before conntrack at −200) drops
 *   VIP traffic so the kernel never answers it with a RST; the AF_PACKET tap runs earlier and
 *   still sees every frame.
 * - {@link redirectRuleset}: on a cache in a transparent cluster, redirects every TCP packet to
 *   `port` (any destination address, as the director's transparent service delivers them by DR)
 *   to the local proxy port, like Squid's `http_port ... intercept` set-up.
 * - {@link mssClampRuleset}: on a TUN real server, clamps the MSS of SYN-ACKs from the VIP so
 *   clients never send segments that do not fit the 20-byte IP-in-IP overhead.
 *
 * @module
 */
import { runCommand } from "./ip_command.ts";

const TABLE_RE = /^[A-Za-z0-9_]{1,32}$/;
const IPV4_RE = /^\d{1,3}(\.\d{1,3}){3}$/;

function checkTable(table: string): void {
  if (!TABLE_RE.test(table)) throw new RangeError(`Cannot use nftables table name "${table}"`);
}

/**
 * The ruleset text that drops VIP traffic in prerouting at priority −300.
 *
 * @param table table name (family ip)
 * @param targets `{vip, port}` pairs; a missing vip means every destination on the port
 */
export function vipDropRuleset(table: string, targets: readonly { vip?: string; port: number }[]): string {
  checkTable(table);
  const rules = targets.map((t) => {
    if (t.vip !== undefined && !IPV4_RE.test(t.vip)) throw new RangeError(`Cannot use VIP "${t.vip}" in nftables`);
    if (!Number.isInteger(t.port) || t.port < 1 || t.port > 65535) throw new RangeError(`Cannot use port ${t.port}`);
    return `    ${t.vip ? `ip daddr ${t.vip} ` : ""}tcp dport ${t.port} drop`;
  });
  return [
    `table ip ${table} {`,
    "  chain pre {",
    "    type filter hook prerouting priority -300; policy accept;",
    ...rules,
    "  }",
    "}",
    "",
  ].join("\n");
}

/**
 * The ruleset text that clamps the MSS of SYN-ACKs leaving from `vip` (TUN real servers).
 *
 * @param table table name
 * @param vip the VIP
 * @param mss the MSS to set (1440 for a 1500 MTU minus 20 bytes IP-in-IP, 20 IP, 20 TCP)
 */
export function mssClampRuleset(table: string, vip: string, mss = 1440): string {
  checkTable(table);
  if (!IPV4_RE.test(vip)) throw new RangeError(`Cannot use VIP "${vip}" in nftables`);
  if (!Number.isInteger(mss) || mss < 536 || mss > 65495) throw new RangeError(`Cannot use MSS ${mss}`);
  return [
    `table ip ${table} {`,
    "  chain out {",
    "    type filter hook output priority mangle; policy accept;",
    `    ip saddr ${vip} tcp flags & (syn | ack) == (syn | ack) tcp option maxseg size set ${mss}`,
    "  }",
    "}",
    "",
  ].join("\n");
}

/**
 * The ruleset text that redirects TCP to `port` (any destination) to local `toPort`.
 *
 * @param table table name
 * @param port intercepted port (e.g. 80)
 * @param toPort local listening port of the proxy
 */
export function redirectRuleset(table: string, port: number, toPort: number): string {
  checkTable(table);
  for (const p of [port, toPort]) {
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw new RangeError(`Cannot use port ${p}`);
  }
  return [
    `table ip ${table} {`,
    "  chain pre {",
    "    type nat hook prerouting priority dstnat; policy accept;",
    `    tcp dport ${port} redirect to :${toPort}`,
    "  }",
    "}",
    "",
  ].join("\n");
}

/**
 * Loads a ruleset (replacing a table of the same name) and returns a function that deletes it.
 *
 * @param table the table the ruleset defines
 * @param ruleset text for `nft -f -`
 * @throws {Error} when nft fails (not installed, no CAP_NET_ADMIN, syntax)
 */
export async function installTable(table: string, ruleset: string): Promise<() => Promise<void>> {
  checkTable(table);
  await removeTable(table);
  await runCommand(["nft", "-f", "-"], { stdin: ruleset });
  return () => removeTable(table);
}

/** Deletes table `ip <table>` if it exists. */
export async function removeTable(table: string): Promise<void> {
  checkTable(table);
  try {
    await runCommand(["nft", "list", "table", "ip", table]);
  } catch {
    return;
  }
  await runCommand(["nft", "delete", "table", "ip", table]);
}

/** Whether table `ip <table>` exists. */
export async function tableExists(table: string): Promise<boolean> {
  checkTable(table);
  try {
    await runCommand(["nft", "list", "table", "ip", table]);
    return true;
  } catch {
    return false;
  }
}
