/**
 * The director runtime: one {@link Dispatcher}, the health monitor, a forwarder per method, rate
 * estimators and housekeeping, driven by the `director` config section and reloaded in place.
 *
 * Reload ({@link Director.reload}) applies services, servers, weights, schedulers, persistence,
 * health checks and timeouts without dropping established connections: the dispatcher keeps
 * entries and counts by key, forwarders keep their live sessions, and only listeners of removed
 * services close. `maxConnections` cannot change without a restart.
 *
 * @module
 */
import type { DirectorConfig, ServiceConfig } from "../config/director_schema.ts";
import { CACHE_HEALTH_PATH, type HealthCheckConfig } from "../config/health_schema.ts";
import { intToIpv4, ipv4ToInt, isIPv4, parseHostPort } from "../core/addr.ts";
import { getLogger } from "../core/log.ts";
import { HealthMonitor, type MonitorTarget } from "../health/mod.ts";
import { Dispatcher, type RouteDecision, type ServiceSpec } from "./dispatcher.ts";
import { Estimator, type Rates, type Totals } from "./estimator.ts";
import {
  type DataplaneStatus,
  type Forwarder,
  forwarderFactory,
  MissingForwarderError,
  registerForwarder,
} from "./forwarder.ts";
import type { HaDataplane } from "./ha/ha_dataplane.ts";
import type { HaStatus } from "./ha/ha_node.ts";
import { memberMacs } from "./member_macs.ts";
import { ProxyForwarder } from "./proxy/proxy_forwarder.ts";
import type { ForwardMethod, MemberState, RealServer } from "./real_server.ts";
import { route } from "./route.ts";
import { TCP_STATE_NAMES } from "./tcp_state.ts";

const log = getLogger("lb.director");

registerForwarder("proxy", (ctx) => new ProxyForwarder(ctx));

/** A server as `/director/status` reports it. */
export interface ServerStatus {
  /** Stable server id in the dispatcher. */
  id: number;
  /** `ADDR:PORT` of the server, or `VIP:PORT` / `*:PORT` of the service. */
  key: string;
  /** Host name or IP address. */
  address: string;
  /** TCP port. */
  port: number;
  /** Forwarding method (ipvsadm's Forward column). */
  method: ForwardMethod;
  /** Effective weight: 0 when drained, inhibited or draining in membership. */
  weight: number;
  /** Weight from the configuration. */
  configWeight: number;
  /** Connection entries in ESTABLISHED (ipvsadm ActiveConn). */
  activeConns: number;
  /** Connection entries in other states (ipvsadm InActConn). */
  inactConns: number;
  /** Whether health checks and membership consider it alive. */
  up: boolean;
  /** Set to weight 0 by `webcache director drain`. */
  drained: boolean;
  /** Reached its upper connection threshold. */
  overloaded: boolean;
  /** Gone from the configuration; listed until its connections end. */
  removed: boolean;
  /** The service's sorry server. */
  sorry: boolean;
  /** Counters since start. */
  totals: Totals;
  /** Rates per second, 2-second samples smoothed as IPVS does. */
  rates: Rates;
}

/** A service as `/director/status` reports it. */
export interface ServiceStatus {
  /** `ADDR:PORT` of the server, or `VIP:PORT` / `*:PORT` of the service. */
  key: string;
  /** Service name (`services[].name`, default the key) or node name. */
  name: string;
  /** Scheduler name. */
  scheduler: string;
  /** Default forwarding method of the service. */
  method: string;
  /** Persistence, when on. */
  persistence?: { timeoutS: number; netmask: number };
  /** Proxy method: the bound listen address. */
  listen?: string;
  /** Counters since start. */
  totals: Totals;
  /** Rates per second, 2-second samples smoothed as IPVS does. */
  rates: Rates;
  /** Real servers, then the sorry server if any. */
  servers: ServerStatus[];
}

/** The whole `/director/status` document. */
export interface DirectorStatus {
  /** Virtual services in match order. */
  services: ServiceStatus[];
  /** Connection table size, bound, typed-array bytes and persistence templates. */
  table: { entries: number; maxEntries: number; bytes: number; templates: number };
  /** Dispatcher counters (new connections, overflow, failures). */
  counters: Dispatcher["counters"];
  /** Proxy forwarder sessions and failures, when proxy services run. */
  proxy?: { sessions: number; failures: ProxyForwarder["failures"] };
  /** DR/TUN data plane: which path packets take, when DR/TUN services run. */
  dataplane?: DataplaneStatus;
  /** Director HA (`director.ha`), when on: role, peers, sync counters, last takeover. */
  ha?: HaStatus;
  /** `director.ha.mode: active-active`: the group and this node (every director forwards for every VIP). */
  activeActive?: { group: string; node: string };
}

/** A membership record as far as the director cares (subset of `cluster/node.ts` NodeRecord). */
export interface MemberView {
  /** Service name (`services[].name`, default the key) or node name. */
  name: string;
  /** Node role; only `cache` members become real servers. */
  role: string;
  /** Membership state. */
  state: MemberState;
  /** Effective weight: 0 when drained, inhibited or draining in membership. */
  weight: number;
  /** Director service name the cache serves. */
  service?: string;
  /** The cache's HTTP endpoint `HOST:PORT`. */
  addrs: { http?: string };
  /** MAC address of the cache's interface (DR next hop without ARP). */
  mac?: string;
}

const sumTotals = (list: Totals[]): Totals =>
  list.reduce(
    (a, t) => ({
      conns: a.conns + t.conns,
      inPkts: a.inPkts + t.inPkts,
      outPkts: a.outPkts + t.outPkts,
      inBytes: a.inBytes + t.inBytes,
      outBytes: a.outBytes + t.outBytes,
    }),
    { conns: 0, inPkts: 0, outPkts: 0, inBytes: 0, outBytes: 0 },
  );

/** The director runtime. */
export class Director {
  /** The dispatcher all forwarders consult. */
  readonly dispatcher: Dispatcher;
  #cfg: DirectorConfig;
  #forwarders = new Map<ForwardMethod, Forwarder>();
  #monitor: HealthMonitor;
  #estimators = new Map<string, Estimator>();
  #timer?: ReturnType<typeof setInterval>;
  #members: MemberView[] = [];
  /** Membership updates of the packet forwarders, one at a time. */
  #memberSync: Promise<void> = Promise.resolve();
  /** Health target key → [service key, server key]. */
  #targets = new Map<string, [string, string]>();
  /** Health checks run, by result (metrics). */
  readonly healthChecks = { ok: 0, failed: 0 };
  #ha: { status(): HaStatus } | undefined;
  #activeActive: { group: string; node: string } | undefined;

  /**
   * Creates a director for a `director` config section (nothing starts before {@link start}).
   *
   * @param cfg the validated `director` section
   */
  constructor(cfg: DirectorConfig) {
    this.#cfg = cfg;
    this.dispatcher = new Dispatcher({
      maxConnections: cfg.maxConnections,
      timeouts: cfg.timeouts,
      expireQuiescentTemplate: cfg.expireQuiescentTemplate,
    });
    this.#monitor = new HealthMonitor({
      onChange: (key, up) => this.#onHealth(key, up),
      onResult: (_key, r) => r.ok ? this.healthChecks.ok++ : this.healthChecks.failed++,
    });
  }

  /** The config in force. */
  get config(): DirectorConfig {
    return this.#cfg;
  }

  /** The proxy forwarder, when a proxy service runs. */
  get proxy(): ProxyForwarder | undefined {
    return this.#forwarders.get("proxy") as ProxyForwarder | undefined;
  }

  /**
   * Starts forwarding, health checks and housekeeping.
   *
   * @throws {MissingForwarderError} when a service uses a method with no forwarder (dr/tun without the data plane)
   * @throws {Deno.errors.AddrInUse} and other listen errors from a forwarder
   */
  async start(): Promise<void> {
    const specs = this.#specs();
    this.#checkMethods(specs);
    this.dispatcher.configure(specs);
    try {
      await this.#applyForwarders(specs);
    } catch (e) {
      await this.#stopForwarders();
      throw e;
    }
    this.#applyHealth();
    this.#timer = setInterval(() => this.housekeeping(Date.now()), 1000);
    log.info("Director started", { services: specs.length });
  }

  /**
   * Applies a new `director` section in place.
   *
   * @throws {MissingForwarderError} (nothing changed) when a new method has no forwarder
   */
  async reload(cfg: DirectorConfig): Promise<void> {
    const prev = this.#cfg;
    this.#cfg = cfg;
    const specs = this.#specs();
    try {
      this.#checkMethods(specs);
      this.dispatcher.configure(specs);
    } catch (e) {
      this.#cfg = prev;
      throw e;
    }
    if (cfg.maxConnections !== prev.maxConnections) {
      log.warn("director.maxConnections changes only on restart", {
        running: prev.maxConnections,
        configured: cfg.maxConnections,
      });
    }
    this.dispatcher.setOptions({ timeouts: cfg.timeouts, expireQuiescentTemplate: cfg.expireQuiescentTemplate });
    await this.#applyForwarders(specs);
    this.#applyHealth();
    log.info("Director reloaded", { services: specs.length });
  }

  /** Feeds cluster membership: caches serving a `fromMembership` service become real servers. */
  setMembers(members: readonly MemberView[]): void {
    this.#members = [...members];
    this.dispatcher.configure(this.#specs());
    // A member's state applies to the real servers at its own HTTP endpoint. DR/TUN real servers
    // use the service port, which may differ from the advertised one: then its host, but only when
    // no other member shares that host (several caches on one address, as in the demo and tests on
    // loopback, must not take each other down).
    const perHost = new Map<string, number>();
    const endpoints = members.flatMap((m) => (m.addrs.http ? [{ m, hp: parseHostPort(m.addrs.http) }] : []));
    for (const { hp } of endpoints) perHost.set(hp.host, (perHost.get(hp.host) ?? 0) + 1);
    for (const { m, hp } of endpoints) {
      const exact = `${hp.host}:${hp.port}`;
      if (this.dispatcher.findServers(exact).length > 0) this.dispatcher.setMembership(exact, m.state);
      else if (perHost.get(hp.host) === 1) this.dispatcher.setMembership(hp.host, m.state);
    }
    this.#applyHealth();
    // DR/TUN: the data plane takes the member real servers and their advertised MACs (ARP stays
    // the fallback and refresher). The proxy forwarder consults the main dispatcher directly.
    if ([...this.#forwarders.keys()].some((m) => m !== "proxy")) {
      this.#memberSync = this.#memberSync.then(() => this.#syncPacketForwarders()).catch((e) =>
        log.warn("Cannot apply membership to the packet forwarder", { error: (e as Error).message })
      );
    }
  }

  /** The DR/TUN data plane director HA drives, when it runs with `director.ha` (`lb/ha/`). */
  haDataplane(): HaDataplane | undefined {
    for (const f of this.#forwarders.values()) {
      const h = f.ha?.();
      if (h) return h;
    }
    return undefined;
  }

  /** Attaches the HA node whose status `/director/status` shows. */
  setHa(ha: { status(): HaStatus } | undefined): void {
    this.#ha = ha;
  }

  /** Marks this director active-active (`director.ha.mode`), shown by `/director/status`. */
  setActiveActive(aa: { group: string; node: string } | undefined): void {
    this.#activeActive = aa;
  }

  /** Waits for the membership updates handed to the packet forwarders so far (tests, shutdown). */
  settled(): Promise<void> {
    return this.#memberSync;
  }

  async #syncPacketForwarders(): Promise<void> {
    const macs = memberMacs(this.#members);
    const specs = this.#specs();
    for (const [m, f] of this.#forwarders) {
      if (m === "proxy") continue;
      f.setMacs?.(macs);
      await f.update(specs.filter((s) => this.#forwarderKey(s) === m));
    }
  }

  #specs(): ServiceSpec[] {
    return this.#cfg.services.map((s) => this.#withMembers(s));
  }

  #withMembers(s: ServiceConfig): ServiceSpec {
    if (!s.fromMembership) return s;
    const name = s.name ?? `${s.vip}:${s.port}`;
    const reals = [...s.reals];
    const seen = new Set(reals.map((r) => `${r.address}:${r.port ?? s.port}`));
    for (const m of this.#members) {
      if (m.role !== "cache" || m.service !== name || !m.addrs.http) continue;
      if (m.state === "dead" || m.state === "left") continue;
      const hp = parseHostPort(m.addrs.http);
      const port = s.method === "proxy" ? hp.port : s.port;
      if (seen.has(`${hp.host}:${port}`)) continue;
      seen.add(`${hp.host}:${port}`);
      reals.push({ address: hp.host, port, weight: m.weight, upperThreshold: 0 });
    }
    return { ...s, reals };
  }

  #checkMethods(specs: readonly ServiceSpec[]): void {
    for (const s of specs) {
      const key = s.transparent ? `*:${s.port}` : `${s.vip}:${s.port}`;
      const methods = new Set<ForwardMethod>([s.method ?? "proxy"]);
      for (const r of s.reals) if (r.method) methods.add(r.method);
      if (methods.has("proxy") && methods.size > 1) {
        throw new TypeError(
          `Cannot start service ${key}: it mixes the proxy method with ${
            [...methods].filter((m) => m !== "proxy").join(", ")
          }; a service is either proxied or forwarded by packets`,
        );
      }
      for (const m of methods) if (!forwarderFactory(m)) throw new MissingForwarderError(key, m);
    }
  }

  /** The forwarder a service runs on (one forwarder serves dr and tun when the same factory does). */
  #forwarderKey(s: ServiceSpec): ForwardMethod {
    const m = s.method ?? "proxy";
    return m === "tun" && forwarderFactory("tun") === forwarderFactory("dr") ? "dr" : m;
  }

  async #applyForwarders(specs: readonly ServiceSpec[]): Promise<void> {
    const byForwarder = new Map<ForwardMethod, ServiceSpec[]>();
    for (const s of specs) {
      const key = this.#forwarderKey(s);
      byForwarder.set(key, [...(byForwarder.get(key) ?? []), s]);
    }
    for (const [m, f] of this.#forwarders) {
      if (!byForwarder.has(m)) {
        await f.stop();
        this.#forwarders.delete(m);
      }
    }
    for (const [m, list] of byForwarder) {
      let f = this.#forwarders.get(m);
      if (f) await f.update(list);
      else {
        f = forwarderFactory(m)!({ dispatcher: this.dispatcher, director: this.#cfg });
        await f.start(list);
        this.#forwarders.set(m, f);
      }
    }
  }

  async #stopForwarders(): Promise<void> {
    for (const f of this.#forwarders.values()) await f.stop();
    this.#forwarders.clear();
  }

  #applyHealth(): void {
    const targets: MonitorTarget[] = [];
    this.#targets.clear();
    for (const svc of this.dispatcher.services) {
      const spec = this.#cfg.services.find((s) => (s.transparent ? `*:${s.port}` : `${s.vip}:${s.port}`) === svc.key);
      if (!spec) continue;
      for (const rs of svc.servers) {
        const key = `${svc.key}/${rs.key}`;
        this.#targets.set(key, [svc.key, rs.key]);
        targets.push({ key, address: rs.address, port: rs.port, check: effectiveCheck(spec) });
        const st = this.#monitor.state(key);
        if (st) this.dispatcher.setHealth(rs.id, st.up);
      }
    }
    this.#monitor.set(targets);
  }

  #onHealth(key: string, up: boolean): void {
    const t = this.#targets.get(key);
    if (!t) return;
    for (const rs of this.dispatcher.findServers(t[1], t[0])) this.dispatcher.setHealth(rs.id, up);
  }

  /** Expires connections and samples rates; runs every second (exposed for tests with a fake clock). */
  housekeeping(nowMs: number): void {
    this.dispatcher.expire(nowMs);
    for (const svc of this.dispatcher.services) {
      const all = [...svc.servers, ...(svc.sorryServer ? [svc.sorryServer] : [])];
      for (const rs of all) this.#estimator(`s${rs.id}:${rs.key}`).update(totalsOf(rs), nowMs);
      this.#estimator(`v${svc.key}`).update(sumTotals(all.map(totalsOf)), nowMs);
    }
  }

  #estimator(key: string): Estimator {
    let e = this.#estimators.get(key);
    if (!e) {
      e = new Estimator();
      this.#estimators.set(key, e);
    }
    return e;
  }

  /** Operator drain: weight 0 for the matching servers (`ADDR:PORT` or `ADDR`). */
  drain(target: string, on = true): ServerStatus[] {
    return this.dispatcher.drain(target, on).map((s) => this.#serverStatus(s));
  }

  /**
   * Explains where a flow would go.
   *
   * @throws {SyntaxError} for malformed endpoints
   */
  route(client: string, vip: string): RouteDecision {
    const c = parseHostPort(client);
    const v = parseHostPort(vip);
    for (const [what, hp] of [["client", c], ["VIP", v]] as const) {
      if (!isIPv4(hp.host)) throw new SyntaxError(`Cannot route: ${what} "${hp.host}" is not an IPv4 address`);
    }
    return route({ saddr: ipv4ToInt(c.host), sport: c.port, daddr: ipv4ToInt(v.host), dport: v.port }, this.dispatcher);
  }

  #serverStatus(rs: RealServer): ServerStatus {
    return {
      id: rs.id,
      key: rs.key,
      address: rs.address,
      port: rs.port,
      method: rs.method,
      weight: rs.weight,
      configWeight: rs.configWeight,
      activeConns: rs.activeConns,
      inactConns: rs.inactConns,
      up: rs.alive,
      drained: rs.drained,
      overloaded: rs.overloaded,
      removed: rs.removed,
      sorry: rs.sorry,
      totals: totalsOf(rs),
      rates: { ...this.#estimator(`s${rs.id}:${rs.key}`).rates },
    };
  }

  /** The status document served at `/director/status`. */
  status(): DirectorStatus {
    const services = this.dispatcher.services.map((svc): ServiceStatus => {
      const servers = svc.servers.map((s) => this.#serverStatus(s));
      if (svc.sorryServer) servers.push(this.#serverStatus(svc.sorryServer));
      return {
        key: svc.key,
        name: svc.name,
        scheduler: svc.schedulerName,
        method: svc.method,
        persistence: svc.persistTimeoutMs > 0
          ? { timeoutS: svc.persistTimeoutMs / 1000, netmask: svc.persistNetmask }
          : undefined,
        listen: this.proxy?.addresses().get(svc.key)
          ? `${this.proxy.addresses().get(svc.key)!.hostname}:${this.proxy.addresses().get(svc.key)!.port}`
          : undefined,
        totals: sumTotals(servers.map((s) => s.totals)),
        rates: { ...this.#estimator(`v${svc.key}`).rates },
        servers,
      };
    });
    const t = this.dispatcher.table;
    return {
      services,
      table: { entries: t.size, maxEntries: t.maxEntries, bytes: t.bytes, templates: this.dispatcher.templateCount },
      counters: { ...this.dispatcher.counters },
      proxy: this.proxy ? { sessions: this.proxy.sessions, failures: { ...this.proxy.failures } } : undefined,
      dataplane: [...this.#forwarders.values()].map((f) => f.dataplane?.()).find((x) => x !== undefined),
      ha: this.#ha?.status(),
      activeActive: this.#activeActive ? { ...this.#activeActive } : undefined,
    };
  }

  /** Connection entries as `ipvsadm -Lnc` lists them (at most `limit`). */
  connections(limit = 1000): { client: string; vip: string; server: string; state: string; expiresInS: number }[] {
    const t = this.dispatcher.table;
    const out = [];
    const now = Date.now();
    for (let i = 0; i < t.highWater && out.length < limit; i++) {
      if (!t.used(i)) continue;
      const ports = t.ports(i);
      out.push({
        client: `${intToIpv4(t.saddr(i))}:${ports >>> 16}`,
        vip: `${intToIpv4(t.daddr(i))}:${ports & 0xffff}`,
        server: this.dispatcher.server(t.server(i))?.key ?? "?",
        state: TCP_STATE_NAMES[t.state(i)],
        expiresInS: Math.max(0, Math.round((t.expires(i) - now) / 1000)),
      });
    }
    return out;
  }

  /** Stops health checks, forwarders and housekeeping. */
  async stop(): Promise<void> {
    clearInterval(this.#timer);
    await this.#memberSync;
    await this.#monitor.stop();
    await this.#stopForwarders();
  }
}

function totalsOf(rs: RealServer): Totals {
  return { conns: rs.conns, inPkts: rs.inPkts, outPkts: rs.outPkts, inBytes: rs.inBytes, outBytes: rs.outBytes };
}

/**
 * The health check of a service as it runs: an HTTP check without a path probes `/`, except in a
 * `fromMembership` service, whose real servers are webcache caches: they answer for themselves at
 * {@link CACHE_HEALTH_PATH} without touching the origin (an origin outage must not take every cache
 * out of service while stale-if-error can carry it).
 *
 * @param spec the service
 * @returns the check with its path filled in
 */
export function effectiveCheck(spec: Pick<ServiceConfig, "health" | "fromMembership">): HealthCheckConfig {
  const h = spec.health;
  if (h.path !== undefined || h.type !== "http") return h;
  return { ...h, path: spec.fromMembership ? CACHE_HEALTH_PATH : "/" };
}
