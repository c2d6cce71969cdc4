/**
 * A minimal stand-in for the director's dispatcher, used by the data plane until
 * `lb/dispatcher.ts` is merged: connection table keyed by the 4-tuple with TCP state from the
 * client's flags, persistence templates, and a weighted rendezvous hash of the client as scheduler
 * (so a restarted director maps mid-flow packets to the same server).
 *
 * @module
 */
import { ipv4ToInt } from "../../core/addr.ts";
import { TCP_ACK, TCP_FIN, TCP_RST, TCP_SYN } from "../packet/tcp.ts";
import type { DispatchServer, DispatchServiceSpec, FlowKey, PacketDispatcher } from "./dispatch.ts";

interface Server extends DispatchServer {
  weight: number;
  activeConns: number;
  inactConns: number;
  conns: number;
}
interface Conn {
  server: number;
  state: number; // 0 syn, 1 established, 2 fin, 3 close
  expires: number;
}
interface Svc {
  id: number;
  vip: number | undefined;
  port: number;
  persistMs: number;
  mask: number;
  servers: Server[];
  templates: Map<number, { server: number; expires: number }>;
}

const TIMEOUT_MS = [60_000, 900_000, 120_000, 10_000];

function mix(h: number): number {
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** The interim dispatcher (see module doc). */
export class InterimDispatcher implements PacketDispatcher {
  #services: Svc[] = [];
  #servers = new Map<number, Server>();
  #conns = new Map<string, Conn>();
  #nextId = 0;

  configure(specs: readonly DispatchServiceSpec[]): void {
    const old = new Map([...this.#servers.values()].map((s) => [`${s.serviceId}/${s.address}:${s.port}`, s]));
    this.#servers.clear();
    this.#services = specs.map((spec, id) => {
      const servers = spec.reals.map((r) => {
        const port = r.port ?? spec.port;
        const prev = old.get(`${id}/${r.address}:${port}`);
        const s: Server = {
          id: prev?.id ?? this.#nextId++,
          address: r.address,
          port,
          method: r.method ?? spec.method ?? "dr",
          serviceId: id,
          weight: r.weight ?? 1,
          activeConns: prev?.activeConns ?? 0,
          inactConns: prev?.inactConns ?? 0,
          conns: prev?.conns ?? 0,
        };
        this.#servers.set(s.id, s);
        return s;
      });
      return {
        id,
        vip: spec.transparent || !spec.vip ? undefined : ipv4ToInt(spec.vip),
        port: spec.port,
        persistMs: (spec.persistence?.timeoutS ?? 0) * 1000,
        mask: spec.persistence?.netmask ? (~0 << (32 - spec.persistence.netmask)) >>> 0 : 0xffffffff,
        servers,
        templates: new Map(),
      };
    });
  }

  schedule(flow: FlowKey, tcpFlags: number, nowMs: number): number | undefined {
    const key = `${flow.saddr}:${flow.sport}:${flow.daddr}:${flow.dport}`;
    const c = this.#conns.get(key);
    const syn = (tcpFlags & TCP_SYN) !== 0 && (tcpFlags & TCP_ACK) === 0;
    if (c && this.#servers.has(c.server) && !(syn && c.state >= 2)) {
      c.state = (tcpFlags & TCP_RST) ? 3 : (tcpFlags & TCP_FIN) ? 2 : c.state === 0 && !syn ? 1 : c.state;
      c.expires = nowMs + TIMEOUT_MS[c.state];
      return c.server;
    }
    const svc = this.#services.find((s) => s.port === flow.dport && (s.vip === undefined || s.vip === flow.daddr));
    if (!svc) return undefined;
    let server: number | undefined;
    const client = (flow.saddr & svc.mask) >>> 0;
    if (svc.persistMs > 0) {
      const t = svc.templates.get(client);
      if (t && t.expires > nowMs && (this.#servers.get(t.server)?.weight ?? 0) > 0) server = t.server;
    }
    if (server === undefined) {
      // Weighted rendezvous hashing of the client (and port unless persistent).
      const h = svc.persistMs > 0 ? mix(client) : mix(mix(flow.saddr) ^ flow.sport);
      let best = -Infinity;
      for (const s of svc.servers) {
        if (s.weight <= 0) continue;
        const r = (mix(h ^ mix(s.id + 0x9e3779b9)) + 1) / 4294967297;
        const score = -s.weight / Math.log(r);
        if (score > best) [best, server] = [score, s.id];
      }
    }
    if (server === undefined) return undefined;
    if (svc.persistMs > 0) svc.templates.set(client, { server, expires: nowMs + svc.persistMs });
    const state = syn ? 0 : 1;
    this.#conns.set(key, { server, state, expires: nowMs + TIMEOUT_MS[state] });
    this.#servers.get(server)!.conns++;
    return server;
  }

  server(id: number): DispatchServer | undefined {
    return this.#servers.get(id);
  }

  expire(nowMs: number): void {
    for (const s of this.#servers.values()) s.activeConns = s.inactConns = 0;
    for (const [k, c] of this.#conns) {
      const s = this.#servers.get(c.server);
      if (c.expires <= nowMs || !s) {
        this.#conns.delete(k);
        continue;
      }
      if (c.state === 1) s.activeConns++;
      else s.inactConns++;
    }
    for (const svc of this.#services) {
      for (const [k, t] of svc.templates) if (t.expires <= nowMs) svc.templates.delete(k);
    }
  }
}
