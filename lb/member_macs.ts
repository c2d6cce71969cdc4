/**
 * The director's known-MAC table from cluster membership: a cache that advertises the MAC of its
 * interface (`NodeRecord.mac`) can be forwarded to by DR at once, without waiting for an ARP reply.
 * The data plane keeps ARP as the fallback (members without a MAC) and as the refresher.
 *
 * @module
 */
import { parseHostPort } from "../core/addr.ts";
import type { MemberView } from "./director.ts";

const MAC = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i;
const ZERO_MAC = "00:00:00:00:00:00";

/**
 * Known MACs by real-server address (the host of each live cache's HTTP endpoint). Members that are
 * dead or left, that are not caches, or whose MAC is absent, malformed or all zeros are skipped.
 *
 * @param members membership records (or the director's view of them)
 * @returns e.g. `{ "10.0.0.2": "02:00:5e:10:00:02" }` (lower case)
 * @example
 * ```ts
 * memberMacs([{ name: "c1", role: "cache", state: "alive", weight: 100, addrs: { http: "10.0.0.2:80" }, mac: "02:00:5E:10:00:02" }]);
 * // { "10.0.0.2": "02:00:5e:10:00:02" }
 * ```
 */
export function memberMacs(members: readonly MemberView[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const m of members) {
    if (m.role !== "cache" || m.state === "dead" || m.state === "left") continue;
    if (!m.mac || !MAC.test(m.mac) || m.mac === ZERO_MAC || !m.addrs.http) continue;
    out[parseHostPort(m.addrs.http).host] = m.mac.toLowerCase();
  }
  return out;
}
