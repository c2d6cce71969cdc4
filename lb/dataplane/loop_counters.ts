/**
 * The forwarding loop's writes to the shared counters ({@link ControlBlock}): per packet forwarded or
 * dropped, per batch sent, and the per-server connection counts and MAC state published from
 * housekeeping. The main thread reads them for `director status --stats` and the metrics.
 *
 * @module
 */
import type { Dispatcher } from "../dispatcher.ts";
import { type ControlBlock, GLOBAL, REAL, SVC } from "./control.ts";
import type { ServerRoutes } from "./server_routes.ts";

/** Counter updates of the forwarding loop (see module doc). */
export class LoopCounters {
  readonly #ctl: ControlBlock;
  /** The raw counter words (indexes in {@link GLOBAL}). */
  readonly C: Float64Array;

  /** @param ctl the shared control block */
  constructor(ctl: ControlBlock) {
    this.#ctl = ctl;
    this.C = ctl.counters;
  }

  /** Counts a packet forwarded to server `id` (service slot `svc`, or -1). */
  forwarded(id: number, svc: number, ipBytes: number): void {
    const C = this.C;
    C[this.#ctl.realIndex(id, REAL.packets)]++;
    C[this.#ctl.realIndex(id, REAL.bytes)] += ipBytes;
    if (svc >= 0) {
      C[this.#ctl.serviceIndex(svc, SVC.packets)]++;
      C[this.#ctl.serviceIndex(svc, SVC.bytes)] += ipBytes;
    }
  }

  /** Counts a packet of service slot `svc` (or -1) dropped for the tunnel's sake. */
  serviceDrop(svc: number): void {
    if (svc >= 0) this.C[this.#ctl.serviceIndex(svc, SVC.drops)]++;
  }

  /** Publishes a server's connection count at once (a connection was made). */
  connections(id: number, conns: number): void {
    this.C[this.#ctl.realIndex(id, REAL.conns)] = conns;
  }

  /** Counts a batch handed to sendmmsg: `sent` of `queued` frames left. */
  sent(queued: number, sent: number): void {
    this.C[GLOBAL.txPackets] += sent;
    this.C[GLOBAL.dropSendFailed] += queued - sent;
  }

  /** Publishes every server's active/inactive/total connections and whether its MAC is known. */
  publishServers(d: Dispatcher, routes: ServerRoutes): void {
    const C = this.C;
    for (let id = 0; id < routes.hopOf.length; id++) {
      const h = routes.hopOf[id];
      if (!h) continue;
      const s = d.server(id);
      if (s) {
        C[this.#ctl.realIndex(id, REAL.active)] = s.activeConns;
        C[this.#ctl.realIndex(id, REAL.inactive)] = s.inactConns;
        C[this.#ctl.realIndex(id, REAL.conns)] = s.conns;
      }
      C[this.#ctl.realIndex(id, REAL.macKnown)] = h.mac ? 1 : 0;
    }
  }
}
