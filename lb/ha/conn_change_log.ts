/**
 * The MASTER's connection-sync journal (the IPVS sync daemon's `ip_vs_sync_conn()` feed): the
 * dispatcher reports each new entry, TCP state change, removal and template creation or refresh
 * ({@link ConnChangeLog}), and {@link ConnChangeJournal.take} turns what accumulated since the last
 * call into one batch in the connection-state format (`conn_state_codec.ts`), servers named by key:
 *
 * - an added or changed entry is read at take time (its latest state and time left), so an entry that
 *   changed ten times in an interval is sent once;
 * - a removed entry is captured when it is removed (the slot may be reused before take) and sent with
 *   0 ms left, which a BACKUP applies as a removal; removals come first in the batch, so a flow that
 *   ended and started again in one interval ends up present;
 * - a template is read at take time; one gone by then is not sent (the BACKUP's own timer ends it).
 *
 * Runs in the data-plane Worker: no I/O, and nothing is recorded while disabled (a BACKUP applying
 * synced entries must not echo them).
 *
 * @module
 */
import type { ConnState } from "../conn_state_codec.ts";
import type { ConnChangeLog, Dispatcher } from "../dispatcher.ts";
import { ConnStateBuilder } from "./conn_state_builder.ts";

/** Journal of one dispatcher's changes (see module doc). */
export class ConnChangeJournal implements ConnChangeLog {
  readonly #d: Dispatcher;
  #enabled = false;
  #slots = new Set<number>();
  #removed: number[] = []; // saddr, daddr, ports, server id, flags per removal
  #templates = new Map<string, [number, number]>();

  /** @param d the dispatcher whose table is read at {@link take} */
  constructor(d: Dispatcher) {
    this.#d = d;
  }

  /** Whether changes are recorded (only on the MASTER). Disabling drops what was recorded. */
  get enabled(): boolean {
    return this.#enabled;
  }

  set enabled(on: boolean) {
    this.#enabled = on;
    if (!on) this.#clear();
  }

  /** Whether anything waits to be taken. */
  get pending(): boolean {
    return this.#slots.size > 0 || this.#removed.length > 0 || this.#templates.size > 0;
  }

  changed(slot: number): void {
    if (this.#enabled) this.#slots.add(slot);
  }

  removed(slot: number): void {
    if (!this.#enabled) return;
    const t = this.#d.table;
    this.#removed.push(t.saddr(slot), t.daddr(slot), t.ports(slot), t.server(slot), t.flags(slot) & 1);
  }

  template(serviceId: number, client: number): void {
    if (this.#enabled) this.#templates.set(`${serviceId}:${client}`, [serviceId, client]);
  }

  /**
   * The batch of everything recorded since the last call, then forgets it.
   *
   * @param nowMs the dispatcher's clock
   * @param wallMs Unix ms, the batch's `savedAtMs`
   * @returns the batch, or undefined when nothing changed
   */
  take(nowMs: number, wallMs: number): ConnState | undefined {
    if (!this.pending) return undefined;
    const d = this.#d;
    const t = d.table;
    const b = new ConnStateBuilder(d, wallMs);
    const r = this.#removed;
    for (let i = 0; i < r.length; i += 5) b.conn(r[i], r[i + 1], r[i + 2], r[i + 3], 0, r[i + 4], 0);
    for (const slot of this.#slots) {
      if (!t.used(slot)) continue; // removed since: its removal is in the batch
      b.conn(
        t.saddr(slot),
        t.daddr(slot),
        t.ports(slot),
        t.server(slot),
        t.state(slot),
        t.flags(slot) & 1,
        Math.max(1, t.expires(slot) - nowMs),
      );
    }
    for (const [svcId, client] of this.#templates.values()) {
      const svc = d.serviceById(svcId);
      const tpl = svc?.templates.get(client);
      if (tpl) b.template(client, tpl.server, Math.max(1, tpl.expiresMs - nowMs));
    }
    this.#clear();
    return b.build();
  }

  #clear(): void {
    this.#slots.clear();
    this.#removed = [];
    this.#templates.clear();
  }
}
