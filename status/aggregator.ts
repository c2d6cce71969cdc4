/**
 * The cluster aggregator: lists the members, asks every one for its `/status` in parallel, and
 * joins the answers into one {@link ClusterStatus}, with rates from the previous sample and a
 * bounded history for charts.
 *
 *   rate            = (counter now − counter before) / (t now − t before)
 *   recent hit ratio = Δhits / (Δhits + Δmisses)            (null when both are 0)
 *
 * A counter that went down (the node restarted) gives no rate for that sample.
 *
 * @module
 */
import { getLogger } from "../core/log.ts";
import { extractCache, extractDirector, needsDirectorTable } from "./_extract.ts";
import { parsePromText, sumSamples } from "./_prom.ts";
import {
  type ArrayTotals,
  CLUSTER_STATUS_VERSION,
  type ClusterStatus,
  type HistoryPoint,
  type MemberStatus,
  type TopUrl,
} from "./cluster_status.ts";
import type { MemberRef, MemberSource } from "./members.ts";

const log = getLogger("status");

/** Options of {@link ClusterAggregator}. */
export interface AggregatorOptions {
  /** Lists the members on each collection. */
  members: MemberSource;
  /** Bearer token sent to members (the shared admin.token). */
  token?: string;
  /** Name of the node that aggregates, for the document. */
  askedNode?: string;
  /** Per-member request timeout, ms; default 2000. */
  timeoutMs?: number;
  /** Collections closer than this reuse the last document, ms; default 1000. */
  minIntervalMs?: number;
  /** History points kept; default 300 (10 minutes at one sample per 2 s). */
  historyPoints?: number;
  /** Clock, for tests; default Date.now. */
  now?: () => number;
}

interface Sample {
  t: number;
  requests: number;
  hits: number;
  misses: number;
  connections: number;
}

const TOP_URLS = 10;

/** Builds {@link ClusterStatus} documents; keep one per poller so rates and history accumulate. */
export class ClusterAggregator {
  readonly #opts: AggregatorOptions;
  readonly #prev = new Map<string, Sample>();
  readonly #history: HistoryPoint[] = [];
  #prevAt?: number;
  #last?: { t: number; doc: Promise<ClusterStatus> };

  /**
   * Creates an aggregator; nothing is fetched until collect().
   *
   * @param opts member source, token, timeouts, history size
   */
  constructor(opts: AggregatorOptions) {
    this.#opts = opts;
  }

  /** The history points kept so far, oldest first. */
  history(): HistoryPoint[] {
    return this.#history.slice();
  }

  /**
   * Collects a fresh document (or the one collected less than `minIntervalMs` ago).
   *
   * @param opts.history include the history in the document
   * @throws when the member list cannot be obtained (member failures are reported per member)
   */
  async collect(opts: { history?: boolean } = {}): Promise<ClusterStatus> {
    const now = (this.#opts.now ?? Date.now)();
    if (!this.#last || now - this.#last.t >= (this.#opts.minIntervalMs ?? 1000)) {
      const doc = this.#collect(now);
      this.#last = { t: now, doc };
      doc.catch(() => {
        if (this.#last?.doc === doc) this.#last = undefined;
      });
    }
    const doc = await this.#last.doc;
    return opts.history ? { ...doc, history: this.history() } : doc;
  }

  async #fetchStatus(ref: MemberRef): Promise<MemberStatus> {
    const base: MemberStatus = {
      id: ref.id,
      name: ref.name,
      role: ref.role,
      state: ref.state,
      admin: ref.admin,
      reachable: false,
      ...(ref.config ? { config: ref.config } : {}),
    };
    if (ref.unreachableBecause) return { ...base, error: ref.unreachableBecause };
    if (!ref.admin) return { ...base, error: "no admin address advertised" };
    if (ref.state === "dead" || ref.state === "left") return { ...base, error: `member is ${ref.state}` };
    try {
      const get = (path: string) =>
        fetch(`http://${ref.admin}${path}`, {
          headers: this.#opts.token ? { authorization: `Bearer ${this.#opts.token}` } : {},
          signal: AbortSignal.timeout(this.#opts.timeoutMs ?? 2000),
        });
      const res = await get("/status");
      if (!res.ok) {
        await res.body?.cancel();
        return { ...base, error: `HTTP ${res.status}` };
      }
      const doc = await res.json() as Record<string, unknown>;
      if (needsDirectorTable(doc)) {
        // The director's /status section holds counts only; its service table is at /director/status.
        const table = await get("/director/status");
        if (table.ok) doc.director = await table.json();
        else await table.body?.cancel();
      }
      const role = doc.role === "cache" || doc.role === "director" ? doc.role : ref.role;
      const cache = extractCache(doc);
      if (cache) {
        // ICP queries and sibling hits are counted as metrics by the peering code.
        const metrics = await get("/metrics").catch(() => undefined);
        if (metrics?.ok) {
          const samples = parsePromText(await metrics.text());
          cache.icpQueries = sumSamples(samples, "webcache_icp_queries_sent_total") ?? cache.icpQueries;
          cache.siblingHits = sumSamples(samples, "webcache_cache_peering_choices_total", { choice: "hit" }) ??
            cache.siblingHits;
          cache.ownerFetches = sumSamples(samples, "webcache_cache_peering_choices_total", { choice: "owner" }) ??
            cache.ownerFetches;
        } else await metrics?.body?.cancel();
      }
      return {
        ...base,
        name: ref.name === ref.admin && typeof doc.node === "string" ? doc.node : ref.name,
        role,
        state: ref.state === "unknown" ? "alive" : ref.state,
        reachable: true,
        version: typeof doc.version === "string" ? doc.version : undefined,
        uptimeS: typeof doc.uptimeS === "number" ? doc.uptimeS : undefined,
        cache,
        director: extractDirector(doc),
      };
    } catch (e) {
      const msg = (e as Error).name === "TimeoutError" ? "timed out" : (e as Error).message;
      log.debug("Member status failed", { peer: ref.admin, error: msg });
      return { ...base, error: msg };
    }
  }

  async #collect(now: number): Promise<ClusterStatus> {
    const refs = await this.#opts.members();
    const members = await Promise.all(refs.map((r) => this.#fetchStatus(r)));
    members.sort((a, b) => (a.role === b.role ? a.name.localeCompare(b.name) : a.role === "director" ? -1 : 1));
    // Directors know real servers by address: name them after the cache members listening there.
    const byHttp = new Map(refs.filter((r) => r.http).map((r) => [r.http!, r.name]));
    for (const m of members) {
      for (const svc of m.director?.services ?? []) {
        for (const r of svc.servers) r.node ??= byHttp.get(r.address);
      }
    }
    const intervalMs = this.#prevAt === undefined ? undefined : now - this.#prevAt;
    const totals: ArrayTotals = {
      members: members.length,
      healthy: members.filter((m) => m.reachable && (m.state === "alive" || m.state === "draining")).length,
      caches: members.filter((m) => m.role === "cache").length,
      directors: members.filter((m) => m.role === "director").length,
      requests: 0,
      hits: 0,
      misses: 0,
      hitRatio: null,
      objects: 0,
      bytes: 0,
      icpQueries: 0,
      siblingHits: 0,
      ownerFetches: 0,
    };
    let rate = 0, dHits = 0, dMisses = 0, anyRate = false;
    const perNode: Record<string, number> = {};
    const urls = new Map<string, number>();
    for (const m of members) {
      const prev = this.#prev.get(m.id);
      if (m.cache) {
        const c = m.cache;
        totals.requests += c.requests;
        totals.hits += c.hits;
        totals.misses += c.misses;
        totals.objects += c.objects;
        totals.bytes += c.bytes;
        totals.icpQueries += c.icpQueries;
        totals.siblingHits += c.siblingHits;
        totals.ownerFetches += c.ownerFetches;
        for (const u of c.topUrls) urls.set(u.url, (urls.get(u.url) ?? 0) + u.requests);
        if (prev && now > prev.t && c.requests >= prev.requests && c.hits >= prev.hits && c.misses >= prev.misses) {
          const dt = (now - prev.t) / 1000;
          c.requestRate = (c.requests - prev.requests) / dt;
          const h = c.hits - prev.hits, mi = c.misses - prev.misses;
          c.recentHitRatio = h + mi > 0 ? h / (h + mi) : null;
          rate += c.requestRate;
          dHits += h;
          dMisses += mi;
          anyRate = true;
          perNode[m.name] = c.requestRate;
        }
        this.#prev.set(m.id, { t: now, requests: c.requests, hits: c.hits, misses: c.misses, connections: 0 });
      }
      if (m.director) {
        const conns = m.director.services.reduce((n, s) => n + s.servers.reduce((k, r) => k + r.connections, 0), 0);
        if (prev && now > prev.t && conns >= prev.connections) {
          m.director.connectionRate = (conns - prev.connections) / ((now - prev.t) / 1000);
        }
        this.#prev.set(m.id, { t: now, requests: 0, hits: 0, misses: 0, connections: conns });
      }
    }
    totals.hitRatio = totals.hits + totals.misses > 0 ? totals.hits / (totals.hits + totals.misses) : null;
    if (anyRate) {
      totals.requestRate = rate;
      totals.recentHitRatio = dHits + dMisses > 0 ? dHits / (dHits + dMisses) : null;
      this.#history.push({ t: now, requestRate: rate, hitRatio: totals.recentHitRatio, perNode });
      const max = this.#opts.historyPoints ?? 300;
      if (this.#history.length > max) this.#history.splice(0, this.#history.length - max);
    }
    this.#prevAt = now;
    const topUrls: TopUrl[] = [...urls].map(([url, requests]) => ({ url, requests }))
      .sort((a, b) => b.requests - a.requests || a.url.localeCompare(b.url)).slice(0, TOP_URLS);
    return {
      version: CLUSTER_STATUS_VERSION,
      at: new Date(now).toISOString(),
      askedNode: this.#opts.askedNode ?? members[0]?.name ?? "",
      sampleIntervalMs: intervalMs,
      members,
      totals,
      topUrls,
    };
  }
}
