/**
 * Director metrics on the shared registry, read from the running {@link Director} when scraped
 * (the hot path only bumps plain numbers; nothing here runs per packet).
 *
 * | name | type | labels | unit |
 * |------|------|--------|------|
 * | webcache_director_connections_total | counter | service, server | connections scheduled |
 * | webcache_director_packets_total | counter | service, server, direction (in/out) | packets (proxy: reads) |
 * | webcache_director_bytes_total | counter | service, server, direction | bytes |
 * | webcache_director_active_connections | gauge | service, server | ESTABLISHED entries |
 * | webcache_director_inactive_connections | gauge | service, server | other entries |
 * | webcache_director_server_weight | gauge | service, server | effective weight |
 * | webcache_director_server_up | gauge | service, server | 1 healthy, 0 down |
 * | webcache_director_conntable_entries | gauge | | entries |
 * | webcache_director_conntable_bytes | gauge | | bytes of typed storage |
 * | webcache_director_templates | gauge | | persistence templates |
 * | webcache_director_schedule_failures_total | counter | reason (no-server, no-service, connect, table-full) | events |
 * | webcache_director_health_checks_total | counter | result (ok, failed) | probes |
 * | webcache_director_state_saves_total | counter | | connection-state snapshots written (`director.stateFile`) |
 * | webcache_director_state_save_failures_total | counter | reason (encode, write) | snapshots not written |
 * | webcache_director_state_last_save_timestamp_seconds | gauge | | Unix time of the last snapshot written |
 * | webcache_director_state_restored_total | counter | result (connection, template, expired, unknown-server, full, template-dropped) | entries at start |
 *
 * @module
 */
import { Counter, Gauge, registry } from "../core/metrics.ts";
import type { Director } from "./director.ts";

let current: (() => Director | undefined) | undefined;

/** Makes the metrics read from this director (call once at start). */
export function bindDirectorMetrics(getter: () => Director | undefined): void {
  current = getter;
}

const perServer = ["service", "server"] as const;

function eachServer(
  fn: (
    labels: { service: string; server: string },
    s: ReturnType<Director["status"]>["services"][number]["servers"][number],
  ) => void,
): void {
  const d = current?.();
  if (!d) return;
  for (const svc of d.status().services) {
    for (const s of svc.servers) fn({ service: svc.key, server: s.key }, s);
  }
}

/** Connections scheduled per server. */
export const connectionsTotal = new Counter({
  name: "webcache_director_connections_total",
  help: "Connections scheduled to a real server.",
  labelNames: perServer,
  registers: [registry],
  collect() {
    this.reset();
    eachServer((l, s) => this.inc(l, s.totals.conns));
  },
});

/** Packets per server and direction. */
export const packetsTotal = new Counter({
  name: "webcache_director_packets_total",
  help: "Packets forwarded (proxy method: reads) per real server and direction.",
  labelNames: [...perServer, "direction"],
  registers: [registry],
  collect() {
    this.reset();
    eachServer((l, s) => {
      this.inc({ ...l, direction: "in" }, s.totals.inPkts);
      this.inc({ ...l, direction: "out" }, s.totals.outPkts);
    });
  },
});

/** Bytes per server and direction. */
export const bytesTotal = new Counter({
  name: "webcache_director_bytes_total",
  help: "Bytes forwarded per real server and direction.",
  labelNames: [...perServer, "direction"],
  registers: [registry],
  collect() {
    this.reset();
    eachServer((l, s) => {
      this.inc({ ...l, direction: "in" }, s.totals.inBytes);
      this.inc({ ...l, direction: "out" }, s.totals.outBytes);
    });
  },
});

/** Active connections per server. */
export const activeConnections = new Gauge({
  name: "webcache_director_active_connections",
  help: "Connection entries in ESTABLISHED state per real server.",
  labelNames: perServer,
  registers: [registry],
  collect() {
    this.reset();
    eachServer((l, s) => this.set(l, s.activeConns));
  },
});

/** Inactive connections per server. */
export const inactiveConnections = new Gauge({
  name: "webcache_director_inactive_connections",
  help: "Connection entries in any state but ESTABLISHED per real server.",
  labelNames: perServer,
  registers: [registry],
  collect() {
    this.reset();
    eachServer((l, s) => this.set(l, s.inactConns));
  },
});

/** Effective weight per server. */
export const serverWeight = new Gauge({
  name: "webcache_director_server_weight",
  help: "Effective weight (0 when drained or inhibited).",
  labelNames: perServer,
  registers: [registry],
  collect() {
    this.reset();
    eachServer((l, s) => this.set(l, s.weight));
  },
});

/** Health per server. */
export const serverUp = new Gauge({
  name: "webcache_director_server_up",
  help: "1 while the real server passes health checks and membership, else 0.",
  labelNames: perServer,
  registers: [registry],
  collect() {
    this.reset();
    eachServer((l, s) => this.set(l, s.up ? 1 : 0));
  },
});

/** Connection table size. */
export const conntableEntries = new Gauge({
  name: "webcache_director_conntable_entries",
  help: "Entries in the connection table.",
  registers: [registry],
  collect() {
    const d = current?.();
    if (d) this.set(d.dispatcher.table.size);
  },
});

/** Connection table memory. */
export const conntableBytes = new Gauge({
  name: "webcache_director_conntable_bytes",
  help: "Bytes of typed-array storage held by the connection table.",
  registers: [registry],
  collect() {
    const d = current?.();
    if (d) this.set(d.dispatcher.table.bytes);
  },
});

/** Persistence templates. */
export const templates = new Gauge({
  name: "webcache_director_templates",
  help: "Persistence templates alive.",
  registers: [registry],
  collect() {
    const d = current?.();
    if (d) this.set(d.dispatcher.templateCount);
  },
});

/** Scheduling failures by reason. */
export const scheduleFailures = new Counter({
  name: "webcache_director_schedule_failures_total",
  help: "New flows not placed normally: no-server, no-service, connect (proxy), table-full (stateless fallback).",
  labelNames: ["reason"],
  registers: [registry],
  collect() {
    const d = current?.();
    if (!d) return;
    this.reset();
    const c = d.dispatcher.counters;
    this.inc({ reason: "no-server" }, c.noServer);
    this.inc({ reason: "no-service" }, c.noService);
    this.inc({ reason: "table-full" }, c.overflow);
    this.inc({ reason: "connect" }, d.proxy?.failures.connect ?? 0);
  },
});

/** Health probes by result. */
export const healthChecks = new Counter({
  name: "webcache_director_health_checks_total",
  help: "Health check probes by result.",
  labelNames: ["result"],
  registers: [registry],
  collect() {
    const d = current?.();
    if (!d) return;
    this.reset();
    this.inc({ result: "ok" }, d.healthChecks.ok);
    this.inc({ result: "failed" }, d.healthChecks.failed);
  },
});

/** Connection-state snapshots written (`lb/conn_state_file.ts` increments it). */
export const stateSaves = new Counter({
  name: "webcache_director_state_saves_total",
  help: "Connection-state snapshots written to director.stateFile.",
  registers: [registry],
});

/** Connection-state snapshots that could not be written, by reason. */
export const stateSaveFailures = new Counter({
  name: "webcache_director_state_save_failures_total",
  help: "Connection-state snapshots not written to director.stateFile: encode, write (disk full, permissions).",
  labelNames: ["reason"],
  registers: [registry],
});

/** Unix time of the last connection-state snapshot written. */
export const stateLastSave = new Gauge({
  name: "webcache_director_state_last_save_timestamp_seconds",
  help: "Unix time (s) of the last connection-state snapshot written to director.stateFile.",
  registers: [registry],
});

/** What the start-up restore of the connection state did, by result. */
export const stateRestored = new Counter({
  name: "webcache_director_state_restored_total",
  help: "Saved entries at start: connection and template restored; expired, unknown-server (server no longer " +
    "configured), full (table bound) and template-dropped not restored.",
  labelNames: ["result"],
  registers: [registry],
});
