/**
 * Per real server (by the dispatcher's server id): where its frames go. The next hop (and so its MAC),
 * whether it is tunnelled and to which address, and its service's counter slot. Rebuilt at every
 * configuration; read per packet as plain arrays.
 *
 * @module
 */
import { ipv4ToInt } from "../../core/addr.ts";
import { IPIP_OVERHEAD_BYTES } from "../../packet/ipip.ts";
import type { Dispatcher } from "../dispatcher.ts";
import type { DataplaneConfig } from "./config.ts";
import { MAX_REALS, MAX_SERVICES } from "./control.ts";
import type { SlotTarget } from "./fast_path_offload.ts";
import type { Hop, NeighbourTable } from "./neighbour_table.ts";

/** Server table the Worker reports after each configuration (id → service and address). */
export interface ServerInfo {
  id: number;
  serviceId: number;
  /** The service's key, `VIP:PORT` or `*:PORT`. */
  serviceKey: string;
  /** The server's key, `ADDR:PORT`. */
  key: string;
  address: string;
  port: number;
  method: string;
}

/**
 * Lists the dispatcher's servers, service by service.
 *
 * @param d the configured dispatcher
 * @returns one entry per server
 */
export function listServers(d: Dispatcher): ServerInfo[] {
  const servers: ServerInfo[] = [];
  for (const svc of d.services) {
    for (const s of svc.servers) {
      servers.push({
        id: s.id,
        serviceId: svc.id,
        serviceKey: svc.key,
        key: s.key,
        address: s.address,
        port: s.port,
        method: s.method,
      });
    }
  }
  return servers;
}

/** The per-server forwarding tables (see module doc). */
export class ServerRoutes {
  /** Next hop by server id. */
  hopOf: (Hop | undefined)[] = [];
  /** Tunnel destination by server id (TUN). */
  tunDst: Uint32Array = new Uint32Array(0);
  /** 1 by server id when it is reached through IP-in-IP. */
  isTun: Uint8Array = new Uint8Array(0);
  /** Service counter slot by server id, -1 for none. */
  svcOf: Int32Array = new Int32Array(0);

  /**
   * Rebuilds the tables and the wanted next hops.
   *
   * @param servers the configured servers
   * @param opts the configuration's next hops and the neighbour table to fill
   * @throws {RangeError} when a server id does not fit {@link MAX_REALS}
   */
  rebuild(
    servers: ServerInfo[],
    opts: { nextHops: DataplaneConfig["nextHops"]; neighbours: NeighbourTable },
  ): void {
    this.hopOf = [];
    this.tunDst = new Uint32Array(MAX_REALS);
    this.isTun = new Uint8Array(MAX_REALS);
    this.svcOf = new Int32Array(MAX_REALS).fill(-1);
    const wanted = new Set<number>();
    for (const s of servers) {
      if (s.id >= MAX_REALS) throw new RangeError(`Cannot forward to more than ${MAX_REALS} real servers`);
      const nh = opts.nextHops[s.address] ?? { nextHop: s.address };
      const ip = ipv4ToInt(nh.nextHop);
      wanted.add(ip);
      this.hopOf[s.id] = opts.neighbours.want(ip, nh.mac);
      this.tunDst[s.id] = ipv4ToInt(s.address);
      this.isTun[s.id] = s.method === "tun" ? 1 : 0;
      this.svcOf[s.id] = s.serviceId < MAX_SERVICES ? s.serviceId : -1;
    }
    opts.neighbours.retain(wanted);
  }

  /**
   * Where the in-kernel fast path sends a server's frames, or undefined while its MAC is unknown.
   *
   * @param id server id
   * @param link the director's own address and the interface MTU (for the tunnel)
   */
  slotTarget(id: number, link: { address: number; mtu: number }): SlotTarget {
    const h = this.hopOf[id];
    if (!h?.mac) return undefined;
    return this.isTun[id]
      ? {
        mac: h.mac,
        tun: { source: link.address, dest: this.tunDst[id], maxInnerBytes: link.mtu - IPIP_OVERHEAD_BYTES },
      }
      : { mac: h.mac };
  }
}
