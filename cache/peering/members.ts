/**
 * Turns cluster membership into peers for `--peers auto`: every other live cache of the cluster
 * becomes a sibling, with the HTTP and ICP endpoints, weight and name it gossips. The integrator
 * feeds the result to `PeeringNode.setPeers()` whenever membership changes.
 *
 * @module
 */
import type { NodeRecord } from "../../cluster/node.ts";
import { parseHostPort } from "../../core/addr.ts";
import type { PeeringPeer } from "./peering_selector.ts";

/**
 * Converts membership records to peers.
 *
 * @param records the membership (any roles and states)
 * @param opts `selfId`: this node's record id (left out); `multicast`: the caches are members of
 *   `icp.multicast.group` (they share the appliance.yaml, so they joined it too)
 * @returns siblings for the caches that are alive and advertise an HTTP endpoint
 * @example
 * ```ts
 * peering.setPeers(peersFromMembers(cluster.members(), { selfId: cluster.self.id, multicast: false }));
 * ```
 */
export function peersFromMembers(
  records: readonly NodeRecord[],
  opts: { selfId: string; multicast: boolean },
): PeeringPeer[] {
  const out: PeeringPeer[] = [];
  for (const r of records) {
    if (r.id === opts.selfId || r.role !== "cache" || r.state !== "alive" || !r.addrs.http) continue;
    let http;
    let icpPort = 0;
    try {
      http = parseHostPort(r.addrs.http);
      if (r.addrs.icp) icpPort = parseHostPort(r.addrs.icp).port;
    } catch {
      continue; // a malformed record is ignored; membership validates records on receipt
    }
    out.push({
      host: http.host,
      httpPort: http.port,
      icpPort,
      type: "sibling",
      multicastResponder: opts.multicast && icpPort > 0,
      name: r.name,
      weight: r.weight > 0 ? r.weight : 1,
    });
  }
  return out;
}
