/**
 * The demo's closing summary: what the client saw (from {@link LoadReport}) beside what the nodes
 * counted themselves (the cluster status before and after the load, and the origin's counter),
 * so a reader can check one against the other. {@link buildSummary} is pure and JSON-able (the
 * integration test reads it with `--json`); {@link renderSummary} formats it for a terminal.
 *
 * Node figures are differences between the two samples, so health checks and requests before the
 * load are not counted.
 *
 * @module
 */
import type { ClusterStatus, MemberStatus } from "../status/cluster_status.ts";
import { formatBytes, formatPercent, table } from "../status/render.ts";
import type { LoadReport } from "./load.ts";
import type { OriginStats } from "./origin.ts";

/** How the demo cluster forwards and where it runs. */
export interface DemoMode {
  /** Forwarding method of the director. */
  method: "dr" | "tun" | "proxy";
  /** `netns` (root: network namespaces) or `loopback`. */
  network: "netns" | "loopback";
  /** Why this mode, in a sentence. */
  reason: string;
}

/** One cache in the summary. */
export interface CacheSummary {
  /** Cache node name. */
  name: string;
  /** Responses the load got from this cache (by X-Cache/Via). */
  responses: number;
  /** Of those, X-Cache HITs. */
  clientHits: number;
  /** Connections the director sent to this cache during the load. */
  connections: number;
  /** Share of the director's connections, 0..1. */
  share: number;
  /** The cache's own counters over the load. */
  requests: number;
  /** Its own hit counter over the load (includes hits served to siblings). */
  hits: number;
  /** Its own miss counter over the load. */
  misses: number;
  /** hits / (hits + misses), null without requests. */
  hitRatio: number | null;
  /** Misses served by a sibling, as the cache counted them. */
  siblingHits: number;
  /** Misses it forwarded to the URL's owner (hash ownership). */
  ownerFetches: number;
  /** ICP queries it sent. */
  icpQueries: number;
  /** What it stores at the end. */
  objects: number;
  /** Bytes stored at the end. */
  bytes: number;
}

/** The whole summary. */
export interface DemoSummary {
  /** How the cluster forwarded and where it ran. */
  mode: DemoMode;
  /** What the client saw. */
  load: {
    requests: number;
    responses: number;
    errors: number;
    errorsByReason: Record<string, number>;
    elapsedMs: number;
    requestsPerS: number;
    bytes: number;
    latencyMs: LoadReport["latencyMs"];
    /** X-Cache HITs seen by the client. */
    hits: number;
    hitRatio: number | null;
    /** Misses a sibling served, as the client saw in X-Cache. */
    siblingHits: number;
  };
  /**
   * The array as clients see it. hitRatio = 1 − originRequests / clientRequests: the share of
   * client requests the array answered without an origin fetch (local hits, siblings' or owners'
   * copies, collapsed misses). `localHits` were hits of the cache that answered (X-Cache),
   * `siblingHits` misses served by a sibling's copy (ICP), `ownerFetches` misses forwarded to the
   * URL's owner (hash ownership), all from the caches' counters. `counters` sums the caches' own
   * counters, which also count the requests caches send each other.
   */
  array: {
    clientRequests: number;
    originRequests: number;
    hitRatio: number | null;
    localHits: number;
    siblingHits: number;
    ownerFetches: number;
    counters: { requests: number; hits: number; misses: number };
  };
  /** One row per cache. */
  caches: CacheSummary[];
  /** The origin's own counters over the load. */
  origin: { requests: number; distinctObjects: number; objects: number; bytes: number };
  /** The director's counters over the load (null without a director). */
  director: {
    name: string;
    method: string;
    connections: number;
    /** Bytes client -> caches through the director over the load. */
    bytesIn: number;
    /** Bytes caches -> client through the director over the load (0 with direct return). */
    bytesOut: number;
    packetsIn: number;
    packetsOut: number;
  } | null;
  /** DR/TUN only: whether the director's counters show no response traffic. */
  directReturn: { proven: boolean; responseBytesAtClient: number; directorBytesOut: number } | null;
}

/** Inputs of {@link buildSummary}. */
export interface SummaryInput {
  /** How the cluster forwarded and where it ran. */
  mode: DemoMode;
  /** What the client saw. */
  load: LoadReport;
  /** Cluster sample taken just before the load. */
  before: ClusterStatus;
  /** Cluster sample taken after the load (once counters settled). */
  after: ClusterStatus;
  /** Origin counters before the load. */
  originBefore: OriginStats;
  /** Origin counters after the load. */
  originAfter: OriginStats;
}

function byName(doc: ClusterStatus): Map<string, MemberStatus> {
  return new Map(doc.members.map((m) => [m.name, m]));
}

interface ServerTotals {
  connections: number;
  bytesIn: number;
  bytesOut: number;
  packetsIn: number;
  packetsOut: number;
}

function serverTotals(m: MemberStatus | undefined): Map<string, ServerTotals> {
  const out = new Map<string, ServerTotals>();
  for (const s of m?.director?.services ?? []) {
    for (const r of s.servers) {
      const key = r.node ?? r.address;
      const t = out.get(key) ?? { connections: 0, bytesIn: 0, bytesOut: 0, packetsIn: 0, packetsOut: 0 };
      t.connections += r.connections;
      t.bytesIn += r.bytesIn;
      t.bytesOut += r.bytesOut;
      t.packetsIn += r.packetsIn;
      t.packetsOut += r.packetsOut;
      out.set(key, t);
    }
  }
  return out;
}

const ratio = (a: number, b: number) => (b > 0 ? a / b : null);

/**
 * Builds the summary from the load report and the before/after samples.
 *
 * @param input mode, load report, cluster and origin samples
 * @param opts.cacheAddress maps a cache name to the `HOST:PORT` the director knows it by (when the
 *   director's table names servers by address only)
 */
export function buildSummary(
  input: SummaryInput,
  opts: { cacheAddress?: (name: string) => string | undefined } = {},
): DemoSummary {
  const { load, before, after } = input;
  const b = byName(before);
  // With two directors (HA) the one still answering: a crashed MASTER reports nothing.
  const director = after.members.find((m) => m.role === "director" && m.reachable && m.director) ??
    after.members.find((m) => m.role === "director");
  const dirAfter = serverTotals(director);
  const dirBefore = serverTotals(director ? b.get(director.name) : undefined);
  const delta = (key: string, f: keyof ServerTotals) =>
    Math.max(0, (dirAfter.get(key)?.[f] ?? 0) - (dirBefore.get(key)?.[f] ?? 0));
  const dirKey = (name: string) => {
    if (dirAfter.has(name)) return name;
    const addr = opts.cacheAddress?.(name);
    return addr && dirAfter.has(addr) ? addr : name;
  };
  const caches: CacheSummary[] = [];
  for (const m of after.members) {
    if (m.role !== "cache" || !m.cache) continue;
    const prev = b.get(m.name)?.cache;
    const d = (f: "requests" | "hits" | "misses" | "siblingHits" | "ownerFetches" | "icpQueries") =>
      Math.max(0, m.cache![f] - (prev?.[f] ?? 0));
    const fromLoad = load.byNode[m.name];
    const key = dirKey(m.name);
    caches.push({
      name: m.name,
      responses: fromLoad?.responses ?? 0,
      clientHits: fromLoad?.hits ?? 0,
      connections: delta(key, "connections"),
      share: 0,
      requests: d("requests"),
      hits: d("hits"),
      misses: d("misses"),
      hitRatio: ratio(d("hits"), d("hits") + d("misses")),
      siblingHits: d("siblingHits"),
      ownerFetches: d("ownerFetches"),
      icpQueries: d("icpQueries"),
      objects: m.cache.objects,
      bytes: m.cache.bytes,
    });
  }
  const totalConns = caches.reduce((n, c) => n + c.connections, 0);
  for (const c of caches) c.share = totalConns > 0 ? c.connections / totalConns : 0;
  const sum = (f: keyof CacheSummary) => caches.reduce((n, c) => n + (c[f] as number), 0);
  let dirSummary: DemoSummary["director"] = null;
  if (director) {
    const all = (f: keyof ServerTotals) => [...dirAfter.keys()].reduce((n, k) => n + delta(k, f), 0);
    dirSummary = {
      name: director.name,
      method: input.mode.method,
      connections: all("connections"),
      bytesIn: all("bytesIn"),
      bytesOut: all("bytesOut"),
      packetsIn: all("packetsIn"),
      packetsOut: all("packetsOut"),
    };
  }
  const errors = Object.values(load.errors).reduce((n, v) => n + v, 0);
  const originRequests = input.originAfter.requests - input.originBefore.requests;
  return {
    mode: input.mode,
    load: {
      requests: load.requests,
      responses: load.responses,
      errors,
      errorsByReason: load.errors,
      elapsedMs: load.elapsedMs,
      requestsPerS: load.elapsedMs > 0 ? Math.round(load.responses / (load.elapsedMs / 1000)) : 0,
      bytes: load.bytes,
      latencyMs: load.latencyMs,
      hits: load.hits,
      hitRatio: ratio(load.hits, load.responses),
      siblingHits: load.siblingHits,
    },
    array: {
      clientRequests: load.responses,
      originRequests,
      hitRatio: load.responses > 0 ? Math.max(0, 1 - originRequests / load.responses) : null,
      localHits: load.hits,
      siblingHits: sum("siblingHits"),
      ownerFetches: sum("ownerFetches"),
      counters: { requests: sum("requests"), hits: sum("hits"), misses: sum("misses") },
    },
    caches,
    origin: {
      requests: originRequests,
      distinctObjects: input.originAfter.distinctObjects,
      objects: input.originAfter.objects,
      bytes: input.originAfter.bytes - input.originBefore.bytes,
    },
    director: dirSummary,
    directReturn: input.mode.method === "proxy" || !dirSummary ? null : {
      proven: dirSummary.bytesOut === 0 && load.bytes > 0,
      responseBytesAtClient: load.bytes,
      directorBytesOut: dirSummary.bytesOut,
    },
  };
}

const n = (x: number) => x.toLocaleString("en-US");

/**
 * Formats the summary for a terminal.
 *
 * @param s the summary
 * @returns lines joined by `\n`
 */
export function renderSummary(s: DemoSummary): string {
  const out: string[] = [];
  const l = s.load;
  out.push(`webcache demo summary (${s.mode.method.toUpperCase()} forwarding, ${s.mode.network}: ${s.mode.reason})`);
  out.push("");
  out.push(
    `  requests        ${n(l.responses)} answered of ${n(l.requests)} in ${(l.elapsedMs / 1000).toFixed(1)} s ` +
      `(${n(l.requestsPerS)} req/s), ${n(l.errors)} errors` +
      (l.errors ? ` (${Object.entries(l.errorsByReason).map(([k, v]) => `${k} ${v}`).join(", ")})` : "") +
      `, latency p50 ${l.latencyMs.p50} ms, p99 ${l.latencyMs.p99} ms`,
  );
  const a = s.array;
  out.push(
    `  array hit ratio ${formatPercent(a.hitRatio)}: ${n(Math.max(0, a.clientRequests - a.originRequests))} of ` +
      `${n(a.clientRequests)} client requests needed no origin fetch`,
  );
  out.push(`  local hits      ${n(a.localHits)} answered from the cache the director chose (X-Cache HIT)`);
  if (a.siblingHits || a.ownerFetches === 0) {
    out.push(
      `  sibling hits    ${n(a.siblingHits)} misses served by a sibling's copy (ICP HIT) instead of the origin` +
        (l.siblingHits ? `; ${n(l.siblingHits)} responses came through a sibling (Via)` : ""),
    );
  }
  if (a.ownerFetches) {
    out.push(
      `  owner fetches   ${n(a.ownerFetches)} misses forwarded to the URL's owner cache (hash ownership), which ` +
        `answers from its copy or fetches it once`,
    );
  }
  out.push(
    `  cache counters  ${n(a.counters.requests)} requests (${n(a.clientRequests)} from clients, ` +
      `${n(Math.max(0, a.counters.requests - a.clientRequests))} from other caches), ${n(a.counters.hits)} hits, ` +
      `${n(a.counters.misses)} misses`,
  );
  out.push(
    `  origin          ${n(s.origin.requests)} requests (${formatBytes(s.origin.bytes)}) for ` +
      `${n(s.origin.distinctObjects)} distinct objects of ${n(s.origin.objects)}`,
  );
  out.push("");
  const owners = s.caches.some((c) => c.ownerFetches > 0);
  out.push(table(
    [
      "  CACHE",
      "CONNS",
      "SPLIT",
      "ANSWERED",
      "LOCAL-HIT%",
      "SIBLING-HITS",
      ...(owners ? ["OWNER-FETCHES"] : []),
      "REQUESTS",
      "HITS",
      "ICP-Q",
      "OBJECTS",
      "STORED",
    ],
    s.caches.map((c) => [
      `  ${c.name}`,
      n(c.connections),
      formatPercent(c.share),
      n(c.responses),
      formatPercent(c.responses ? c.clientHits / c.responses : null),
      n(c.siblingHits),
      ...(owners ? [n(c.ownerFetches)] : []),
      n(c.requests),
      n(c.hits),
      n(c.icpQueries),
      n(c.objects),
      formatBytes(c.bytes),
    ]),
  ));

  if (s.director) {
    const d = s.director;
    out.push("");
    out.push(
      `  director        ${d.name} (${d.method}): ${n(d.connections)} connections; through it client->cache ` +
        `${formatBytes(d.bytesIn)} (${n(d.packetsIn)} pkts), cache->client ${formatBytes(d.bytesOut)} (${
          n(d.packetsOut)
        } pkts)`,
    );
  }
  if (s.directReturn) {
    const r = s.directReturn;
    out.push(
      r.proven
        ? `  direct return   PROVEN: the client received ${formatBytes(r.responseBytesAtClient)} of responses and ` +
          `the director forwarded 0 B of them; the caches answered the client directly`
        : `  direct return   NOT shown: the director counted ${formatBytes(r.directorBytesOut)} cache->client`,
    );
  } else if (s.director) {
    out.push(
      `  direct return   not applicable: in proxy mode every response passes through the director ` +
        `(run as root for DR or TUN, where it does not)`,
    );
  }
  return out.join("\n");
}
