/**
 * Reads cache and director figures out of a node's `/status` document. The roles own their
 * sections; this is the one place that knows their field names, and it accepts the few spellings
 * in use so one role renaming a field degrades to a 0, not a crash.
 *
 * Expected sections (the first spelling is the documented one):
 *
 * ```
 * cache:    { requests, hits, misses, objects, bytes, siblingHits?, topUrls?: [{url, requests}] }
 *           (objects/bytes may instead be under cache.store / cache.memory + cache.disk)
 * icp:      { queriesSent, siblingHits }                       (cache nodes with peering)
 * director: { connections, services: [{ name, address | vip+port, scheduler,
 *             persistence: { timeoutS, entries }, servers: [{ address, node?, method, weight,
 *             health, activeConns, inactiveConns, connections, packetsIn, packetsOut,
 *             bytesIn, bytesOut }] }] }
 * ```
 *
 * The director role serves the full table at `/director/status` (`services[].servers[]` with
 * `address`, `port`, `up`, `drained`, `activeConns`, `inactConns`, `totals: {conns, inPkts,
 * outPkts, inBytes, outBytes}`, and `table: {entries, templates}`); its `/status` section holds
 * only counts, so the aggregator reads `/director/status` from directors.
 *
 * ICP queries and sibling hits are taken from a cache's `/metrics` when it has them
 * (`webcache_icp_queries_sent_total`, `webcache_cache_peering_choices_total{choice="hit"}` and `{choice="owner"}`).
 *
 * @module
 */
import type {
  CacheFigures,
  DirectorFigures,
  DirectorHaFigures,
  ServerRow,
  ServiceRow,
  TopUrl,
} from "./cluster_status.ts";

type Obj = Record<string, unknown>;

function isObj(v: unknown): v is Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/** Value at a dotted path, or undefined. */
function at(obj: unknown, path: string): unknown {
  let cur: unknown = obj;
  for (const key of path.split(".")) {
    if (!isObj(cur)) return undefined;
    cur = cur[key];
  }
  return cur;
}

/** First finite number among the paths, else `fallback`. */
function num(obj: unknown, paths: string[], fallback = 0): number {
  for (const p of paths) {
    const v = at(obj, p);
    if (typeof v === "number" && Number.isFinite(v)) return v;
    if (typeof v === "string" && v.trim() !== "" && Number.isFinite(Number(v))) return Number(v);
  }
  return fallback;
}

function str(obj: unknown, paths: string[], fallback = ""): string {
  for (const p of paths) {
    const v = at(obj, p);
    if (typeof v === "string" && v !== "") return v;
    if (typeof v === "number") return String(v);
  }
  return fallback;
}

/** Sum of numbers found under each of several prefixes (memory + disk tiers). */
function sumTiers(obj: unknown, field: string): number | undefined {
  let found = false;
  let total = 0;
  for (const tier of ["cache.memory", "cache.disk"]) {
    const v = at(obj, `${tier}.${field}`);
    if (typeof v === "number" && Number.isFinite(v)) {
      total += v;
      found = true;
    }
  }
  return found ? total : undefined;
}

function topUrls(v: unknown): TopUrl[] {
  if (!Array.isArray(v)) return [];
  const out: TopUrl[] = [];
  for (const e of v) {
    if (Array.isArray(e) && typeof e[0] === "string") out.push({ url: e[0], requests: Number(e[1]) || 0 });
    else if (isObj(e) && typeof e.url === "string") {
      out.push({ url: e.url, requests: num(e, ["requests", "count", "hits"]) });
    }
  }
  return out;
}

/**
 * Cache figures from a cache node's `/status`, or undefined when it has no `cache` section.
 *
 * @param doc the parsed `/status` document
 */
export function extractCache(doc: unknown): CacheFigures | undefined {
  if (!isObj(at(doc, "cache"))) return undefined;
  const hits = num(doc, ["cache.hits", "cache.requests.hit", "cache.results.HIT"]);
  const misses = num(doc, ["cache.misses", "cache.requests.miss", "cache.results.MISS"]);
  // `cache.requests` is a number, or requests by result ({hit, miss, stale, ...}) to be summed.
  const byResult = at(doc, "cache.requests");
  const summed = isObj(byResult)
    ? Object.values(byResult).reduce<number>((n, v) => n + (typeof v === "number" ? v : 0), 0)
    : undefined;
  const requests = num(doc, ["cache.requests", "cache.requests.total"], summed ?? hits + misses);
  const objects = num(doc, ["cache.objects", "cache.store.objects"], sumTiers(doc, "objects") ?? 0);
  const bytes = num(doc, ["cache.bytes", "cache.store.bytes"], sumTiers(doc, "bytes") ?? 0);
  return {
    requests,
    hits,
    misses,
    hitRatio: hits + misses > 0 ? hits / (hits + misses) : null,
    objects,
    bytes,
    icpQueries: num(doc, ["icp.queriesSent", "icp.queries.sent", "icp.sent.queries", "icp.queries"]),
    siblingHits: num(doc, [
      "icp.siblingHits",
      "cache.siblingHits",
      "cache.peering.siblingHits",
      "peering.siblingHits",
      "icp.hitsReceived",
    ]),
    ownerFetches: num(doc, ["peering.ownerFetches", "cache.ownerFetches"]),
    topUrls: topUrls(at(doc, "cache.topUrls")),
  };
}

function serverHealth(s: unknown): string {
  const named = str(s, ["health", "state", "status"]);
  if (named) return named;
  if (at(s, "removed") === true) return "removed";
  if (at(s, "drained") === true) return "draining";
  if (at(s, "overloaded") === true) return "overloaded";
  if (typeof at(s, "up") === "boolean") return at(s, "up") ? "up" : "down";
  return "unknown";
}

function serverRow(s: unknown): ServerRow {
  const addr = str(s, ["key", "address", "server", "real", "addr"], "?");
  const port = str(s, ["port"]);
  return {
    address: port && !addr.endsWith(`:${port}`) ? `${addr}:${port}` : addr,
    node: str(s, ["node", "name"]) || undefined,
    method: str(s, ["method", "forward", "forwarding"], "?"),
    weight: num(s, ["weight"]),
    health: serverHealth(s),
    activeConns: num(s, ["activeConns", "active", "activeConnections"]),
    inactiveConns: num(s, ["inactiveConns", "inactConns", "inactive", "inactiveConnections"]),
    connections: num(s, ["connections", "conns", "totals.conns", "stats.connections", "stats.conns"]),
    packetsIn: num(s, ["packetsIn", "inPkts", "totals.inPkts", "stats.packetsIn", "stats.inPkts"]),
    packetsOut: num(s, ["packetsOut", "outPkts", "totals.outPkts", "stats.packetsOut", "stats.outPkts"]),
    bytesIn: num(s, ["bytesIn", "inBytes", "totals.inBytes", "stats.bytesIn", "stats.inBytes"]),
    bytesOut: num(s, ["bytesOut", "outBytes", "totals.outBytes", "stats.bytesOut", "stats.outBytes"]),
    share: 0,
  };
}

function serviceRow(s: unknown, tableTemplates: number | undefined): ServiceRow {
  const vip = str(s, ["vip", "address.vip"]);
  const port = str(s, ["port"]);
  const address = str(s, ["address", "service", "key"]) || (vip ? `${vip}:${port || "?"}` : `*:${port || "?"}`);
  const rawServers = at(s, "servers") ?? at(s, "reals") ?? at(s, "realServers");
  const servers = Array.isArray(rawServers) ? rawServers.map(serverRow) : [];
  const total = servers.reduce((n, r) => n + r.connections, 0);
  for (const r of servers) r.share = total > 0 ? r.connections / total : 0;
  return {
    name: str(s, ["name"], address),
    address,
    scheduler: str(s, ["scheduler"], "?"),
    persistenceS: num(s, ["persistence.timeoutS", "persistenceS", "persistence"]),
    persistenceEntries: num(
      s,
      ["persistence.entries", "persistence.templates", "persistenceEntries", "templates"],
      at(s, "persistence") ? tableTemplates ?? 0 : 0,
    ),
    servers,
  };
}

/**
 * The HA role from `/director/status` (`ha` of an active-backup node, `activeActive` of an active-active one)
 * and the VIPs held: a director without HA and an active-active one hold all their VIPs, an active-backup one
 * only as MASTER.
 */
function directorHa(d: Obj, services: ServiceRow[]): DirectorHaFigures {
  const all = [...new Set(services.map((s) => s.address.split(":")[0]).filter((v) => v !== "*"))];
  if (isObj(d.ha)) {
    const role = str(d.ha, ["role"], "INIT");
    const master = str(d.ha, ["master"]);
    return {
      mode: str(d.ha, ["mode"], "active-backup"),
      role,
      group: str(d.ha, ["group"]) || undefined,
      ...(master ? { master } : {}),
      vips: role === "MASTER" ? all : [],
    };
  }
  if (isObj(d.activeActive)) {
    return { mode: "active-active", role: "ACTIVE", group: str(d.activeActive, ["group"]) || undefined, vips: all };
  }
  return { mode: "none", role: "STANDALONE", vips: all };
}

/** Whether a director's `/status` section lacks the service table (so `/director/status` must be read). */
export function needsDirectorTable(doc: unknown): boolean {
  return isObj(at(doc, "director")) && !Array.isArray(at(doc, "director.services"));
}

/**
 * Director figures from a director node's `/status` (or `{director: <the /director/status document>}`),
 * or undefined when it has no `director` section.
 *
 * @param doc the parsed document
 */
export function extractDirector(doc: unknown): DirectorFigures | undefined {
  const d = at(doc, "director");
  if (!isObj(d)) return undefined;
  const templates = at(d, "table.templates");
  const services = Array.isArray(d.services)
    ? d.services.map((s) => serviceRow(s, typeof templates === "number" ? templates : undefined))
    : [];
  const fallback = services.reduce((n, s) => n + s.servers.reduce((m, r) => m + r.activeConns + r.inactiveConns, 0), 0);
  return {
    services,
    ha: directorHa(d, services),
    // A DR/TUN data plane keeps its own table; the per-server active + inactive counts cover it.
    connections: Math.max(
      num(d, ["connections", "table.entries", "connectionTable.entries", "conntrack.entries"], fallback),
      fallback,
    ),
  };
}
