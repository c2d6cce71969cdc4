/**
 * Builds a connection-state batch (`conn_state_codec.ts`) record by record from a dispatcher's ids:
 * servers and services are named by key and listed only when a record refers to them. Used by the
 * sync journal for change batches and by {@link chunkConnState} to split a batch for datagrams.
 *
 * @module
 */
import { type ConnState, MAX_REMAINING_MS, newConnRecords, newTemplateRecords } from "../conn_state_codec.ts";
import type { Dispatcher } from "../dispatcher.ts";

const clamp = (ms: number) => Math.min(MAX_REMAINING_MS, Math.max(0, Math.round(ms)));

/** Where records refer: a dispatcher (server ids) or a state (server indexes). */
type ServerSource = { key(id: number): [serviceKey: string, netmask: number, serverKey: string] | undefined };

function dispatcherSource(d: Dispatcher): ServerSource {
  return {
    key(id) {
      const s = d.server(id);
      const svc = s && d.serviceById(s.serviceId);
      return s && svc ? [svc.key, svc.persistNetmask, s.key] : undefined;
    },
  };
}

function stateSource(st: ConnState): ServerSource {
  return {
    key(i) {
      const s = st.servers[i];
      const svc = s && st.services[s.service];
      return s && svc ? [svc.key, svc.netmask, s.key] : undefined;
    },
  };
}

/** Accumulates records, then {@link build}s a {@link ConnState}. */
export class ConnStateBuilder {
  readonly #src: ServerSource;
  readonly #savedAtMs: number;
  readonly #services: ConnState["services"] = [];
  readonly #servers: ConnState["servers"] = [];
  readonly #svcRef = new Map<string, number>();
  readonly #ref = new Map<number, number>();
  #conns: number[] = [];
  #tpls: number[] = [];
  /** Bytes the strings of the services and servers listed so far take when encoded. */
  keyBytes = 0;

  /**
   * @param src a dispatcher (records name server ids) or a state (records name its server indexes)
   * @param savedAtMs the batch's wall-clock time
   */
  constructor(src: Dispatcher | ConnState, savedAtMs: number) {
    this.#src = "table" in src ? dispatcherSource(src) : stateSource(src);
    this.#savedAtMs = savedAtMs;
  }

  /** Records so far. */
  get size(): { conns: number; templates: number } {
    return { conns: this.#conns.length / 7, templates: this.#tpls.length / 3 };
  }

  /** Key bytes listing server `id` would add (0 when listed already or unknown). */
  keyBytesFor(id: number): number {
    if (this.#ref.has(id)) return 0;
    const k = this.#src.key(id);
    if (!k) return 0;
    const svc = this.#svcRef.has(k[0]) ? 0 : 2 + new TextEncoder().encode(k[0]).length;
    return svc + 3 + new TextEncoder().encode(k[2]).length;
  }

  /** The index of a server in the batch, listing it (and its service) on first use; -1 if unknown. */
  serverRef(id: number): number {
    const known = this.#ref.get(id);
    if (known !== undefined) return known;
    const k = this.#src.key(id);
    if (!k) return -1;
    const [svcKey, netmask, key] = k;
    let sv = this.#svcRef.get(svcKey);
    if (sv === undefined) {
      sv = this.#services.length;
      this.#services.push({ key: svcKey, netmask });
      this.#svcRef.set(svcKey, sv);
      this.keyBytes += 2 + new TextEncoder().encode(svcKey).length;
    }
    const ref = this.#servers.length;
    this.#servers.push({ service: sv, key });
    this.#ref.set(id, ref);
    this.keyBytes += 3 + new TextEncoder().encode(key).length;
    return ref;
  }

  /** Adds a connection record (remainingMs 0: the entry ended); skipped when the server is unknown. */
  conn(saddr: number, daddr: number, ports: number, server: number, state: number, flags: number, remainingMs: number) {
    const ref = this.serverRef(server);
    if (ref >= 0) this.#conns.push(saddr >>> 0, daddr >>> 0, ports >>> 0, ref, state, flags, clamp(remainingMs));
  }

  /** Adds a template record; skipped when the server is unknown. */
  template(client: number, server: number, remainingMs: number): void {
    const ref = this.serverRef(server);
    if (ref >= 0) this.#tpls.push(client >>> 0, ref, clamp(remainingMs));
  }

  /** The batch. */
  build(): ConnState {
    const n = this.#conns.length / 7;
    const c = newConnRecords(n);
    for (let i = 0, o = 0; i < n; i++, o += 7) {
      const a = this.#conns;
      c.saddr[i] = a[o];
      c.daddr[i] = a[o + 1];
      c.ports[i] = a[o + 2];
      c.server[i] = a[o + 3];
      c.state[i] = a[o + 4];
      c.flags[i] = a[o + 5];
      c.remainingMs[i] = a[o + 6];
    }
    const m = this.#tpls.length / 3;
    const t = newTemplateRecords(m);
    for (let i = 0, o = 0; i < m; i++, o += 3) {
      t.client[i] = this.#tpls[o];
      t.server[i] = this.#tpls[o + 1];
      t.remainingMs[i] = this.#tpls[o + 2];
    }
    return {
      savedAtMs: this.#savedAtMs,
      services: [...this.#services],
      servers: [...this.#servers],
      conns: c,
      templates: t,
    };
  }
}
