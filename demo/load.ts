/**
 * The demo's client load: a closed loop of `concurrency` workers, each sending one request at a
 * time on a new TCP connection (so the director schedules every request) to an address such as
 * the VIP, for `requests` requests or `durationMs` milliseconds, whichever ends first. URLs are
 * `/obj/<rank>` with ranks drawn from a seeded Zipf distribution.
 *
 * Each response is classified by {@link cacheVerdict}: which cache answered, its `X-Cache` result,
 * and whether a sibling's hit served it. The report counts them per node.
 *
 * @module
 */
import { cacheVerdict } from "./cache_header.ts";
import { httpGet } from "./_http_get.ts";
import { ZipfSampler } from "./zipf.ts";

/** Options of {@link runLoad}. */
export interface LoadOptions {
  /** Where to send requests (the VIP or a cache). */
  target: { hostname: string; port: number };
  /** Host header; default `HOST:PORT` of the target. */
  host?: string;
  /** Number of distinct URLs (Zipf ranks 1..objects). */
  objects: number;
  /** Zipf exponent; default 0.8. */
  exponent?: number;
  /** Seed of the URL sequence; default 1. */
  seed?: number;
  /** Stop after this many requests. */
  requests?: number;
  /** Stop after this many milliseconds. */
  durationMs?: number;
  /** Requests in flight at once; default 8. */
  concurrency?: number;
  /** Per-request timeout in milliseconds; default 10,000. */
  timeoutMs?: number;
  /** URL path for a rank; default `/obj/<rank>`. */
  pathFor?: (rank: number) => string;
  /** Stops the load early (the report covers what finished). */
  signal?: AbortSignal;
  /** Called after every response or error with the running totals. */
  onProgress?: (p: LoadProgress) => void;
}

/** Running totals passed to `onProgress`. */
export interface LoadProgress {
  /** Requests finished (answered or failed). */
  done: number;
  /** Progress 0..1 against the request count or the duration. */
  fraction: number;
  /** Requests answered with a cache HIT so far. */
  hits: number;
  /** Requests that failed so far. */
  errors: number;
  /** Milliseconds since the load started. */
  elapsedMs: number;
}

/** Counts for one answering cache. */
export interface NodeLoad {
  /** Responses this node answered. */
  responses: number;
  /** Its X-Cache HITs (any result containing HIT). */
  hits: number;
  /** Its misses that a sibling's hit served. */
  siblingHits: number;
  /** Body bytes it sent. */
  bytes: number;
}

/** What a load run saw. */
export interface LoadReport {
  /** Requests started. */
  requests: number;
  /** Responses received (any status). */
  responses: number;
  /** Failed requests by reason (`refused`, `reset`, `timeout`, `malformed`, `short-body`, `other`). */
  errors: Record<string, number>;
  /** Responses by status code. */
  byStatus: Record<string, number>;
  /** Responses by X-Cache result word of the answering cache (`NONE` without X-Cache). */
  byResult: Record<string, number>;
  /** Responses by answering node. */
  byNode: Record<string, NodeLoad>;
  /** Responses with a HIT result. */
  hits: number;
  /** Misses served by a sibling's hit. */
  siblingHits: number;
  /** Body bytes received. */
  bytes: number;
  /** Milliseconds since the load started. */
  elapsedMs: number;
  /** Latency percentiles of answered requests, milliseconds. */
  latencyMs: { p50: number; p90: number; p99: number; max: number };
}

function errorReason(e: unknown): string {
  if (e instanceof Deno.errors.ConnectionRefused) return "refused";
  if (e instanceof Deno.errors.ConnectionReset || e instanceof Deno.errors.BrokenPipe) return "reset";
  if (e instanceof Deno.errors.TimedOut || (e as Error)?.name === "TimeoutError") return "timeout";
  if (e instanceof Deno.errors.BadResource || e instanceof Deno.errors.Interrupted) return "timeout";
  if (e instanceof SyntaxError) return "malformed";
  if (e instanceof RangeError) return "short-body";
  return "other";
}

/**
 * Computes the q-quantile (0..1) of sorted numbers by nearest rank.
 *
 * @param sorted ascending values
 * @param q quantile
 */
export function quantile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return 0;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}

/**
 * Runs the load to completion.
 *
 * @param opts target, workload and limits
 * @returns the report
 * @throws {RangeError} when neither `requests` nor `durationMs` is given, or they are not positive
 */
export async function runLoad(opts: LoadOptions): Promise<LoadReport> {
  const limit = opts.requests ?? Infinity;
  const durationMs = opts.durationMs ?? Infinity;
  if (limit === Infinity && durationMs === Infinity) {
    throw new RangeError("Cannot run load: give a request count or a duration");
  }
  if (!(limit > 0) || !(durationMs > 0)) {
    throw new RangeError(`Cannot run load: requests ${opts.requests} and duration ${opts.durationMs} must be positive`);
  }
  const zipf = new ZipfSampler(opts.objects, { exponent: opts.exponent ?? 0.8, seed: opts.seed ?? 1 });
  const pathFor = opts.pathFor ?? ((rank: number) => `/obj/${rank}`);
  const host = opts.host ?? `${opts.target.hostname}:${opts.target.port}`;
  const timeoutMs = opts.timeoutMs ?? 10_000;
  const report: LoadReport = {
    requests: 0,
    responses: 0,
    errors: {},
    byStatus: {},
    byResult: {},
    byNode: {},
    hits: 0,
    siblingHits: 0,
    bytes: 0,
    elapsedMs: 0,
    latencyMs: { p50: 0, p90: 0, p99: 0, max: 0 },
  };
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + durationMs;
  let errorCount = 0;

  const progress = () => {
    if (!opts.onProgress) return;
    const elapsedMs = performance.now() - started;
    const done = report.responses + errorCount;
    const fraction = Math.max(
      limit === Infinity ? 0 : done / limit,
      durationMs === Infinity ? 0 : elapsedMs / durationMs,
    );
    opts.onProgress({ done, fraction: Math.min(1, fraction), hits: report.hits, errors: errorCount, elapsedMs });
  };

  const worker = async () => {
    while (report.requests < limit && performance.now() < deadline && !opts.signal?.aborted) {
      report.requests++;
      const path = pathFor(zipf.next());
      const t0 = performance.now();
      const timeout = AbortSignal.timeout(timeoutMs);
      const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;
      try {
        const res = await httpGet(opts.target, { path, host, signal });
        latencies.push(performance.now() - t0);
        report.responses++;
        report.bytes += res.bodyBytes;
        report.byStatus[res.status] = (report.byStatus[res.status] ?? 0) + 1;
        const v = cacheVerdict(res.headers);
        report.byResult[v.result] = (report.byResult[v.result] ?? 0) + 1;
        const node = report.byNode[v.node] ??= { responses: 0, hits: 0, siblingHits: 0, bytes: 0 };
        node.responses++;
        node.bytes += res.bodyBytes;
        if (v.result.includes("HIT")) {
          node.hits++;
          report.hits++;
        }
        if (v.sibling) {
          node.siblingHits++;
          report.siblingHits++;
        }
      } catch (e) {
        const reason = timeout.aborted ? "timeout" : errorReason(e);
        report.errors[reason] = (report.errors[reason] ?? 0) + 1;
        errorCount++;
      }
      progress();
    }
  };
  const workers = Math.max(1, Math.min(opts.concurrency ?? 8, 1024));
  await Promise.all(Array.from({ length: workers }, worker));
  report.elapsedMs = Math.round(performance.now() - started);
  latencies.sort((a, b) => a - b);
  const r = (x: number) => Math.round(x * 100) / 100;
  report.latencyMs = {
    p50: r(quantile(latencies, 0.5)),
    p90: r(quantile(latencies, 0.9)),
    p99: r(quantile(latencies, 0.99)),
    max: r(latencies.at(-1) ?? 0),
  };
  return report;
}
