/**
 * Range requests for objects not stored whole (RFC 9111 §3.3-3.4): answered from a stored part
 * when one covers them, else forwarded with their `Range`, the 206 answer relayed and kept as a
 * part, parts of one representation combined, and a completed representation stored as a 200.
 *
 * ```
 * GET + Range, no complete object stored
 *   ├─ a fresh stored part covers the range (or it is unsatisfiable) → HIT 206 (or 416) from the part
 *   └─ otherwise → forward with Range ──┬─ 206, one Content-Range of known length, storable
 *                                       │     → relay, keep the part ──┬─ complete → store as a 200
 *                                       │                              └─ else kept for later ranges
 *                                       └─ anything else (200, 304, multipart, no-store...) → relayed only
 * ```
 *
 * A stored part never answers a request without `Range`, nor a range it does not wholly hold
 * (the view given to `serveStored` cannot read anything else): incomplete responses are never
 * served as complete (§3.3). Parts are taken as incomplete 200 responses for storability and
 * freshness (`isStorable` with `partial`, `evaluateFreshness` with status 200).
 *
 * @module
 */
import { getLogger } from "../core/log.ts";
import type { OriginResponse } from "../http/origin_client.ts";
import { sendOriginError } from "./client_reply.ts";
import { type CacheContext, type Exchange, freshOpts } from "./exchange.ts";
import { type FetchPlan, forwardHeaders } from "./fetch_plan.ts";
import { type PartialMeta, type PartialObject, partialView } from "./partial_store.ts";
import { counters } from "./metrics.ts";
import { relay } from "./pass.ts";
import { serveStored } from "./serve_stored.ts";
import {
  ageHeaderValue,
  correctedInitialAgeMs,
  evaluateFreshness,
  expiresAtMs,
  formatHttpDate,
  isStorable,
  parseCacheControl,
  parseContentRange,
  parseRange,
  parseVary,
  stripHopByHop,
  varyKey,
  varyMatches,
} from "./semantics/mod.ts";
import type { StoredMeta } from "./store/store.ts";

const log = getLogger("cache");

/**
 * Answers a GET with `Range` from a stored part when a fresh one (or one the client accepts
 * stale) holds the whole range, or when the range is unsatisfiable for its complete length.
 *
 * @param ctx the partial store, settings, node name
 * @param ex the request (GET with `Range`)
 * @param plan its primary key
 * @returns true when answered; false when the request must go upstream
 */
export async function servePartial(ctx: CacheContext, ex: Exchange, plan: FetchPlan): Promise<boolean> {
  const { req } = ex;
  const partials = ctx.partials;
  if (!partials || req.method !== "GET" || !req.headers.has("range")) return false;
  let obj: PartialObject | undefined;
  for (const p of partials.variants(plan.primary)) if (varyMatches(p.meta, req.headers)) obj = p;
  if (!obj) return false;
  const m = obj.meta;
  const asStored = { status: 200, headers: m.headers, requestTime: m.requestTime, responseTime: m.responseTime };
  const d = evaluateFreshness(req.headers, asStored, Date.now(), freshOpts(ctx.config, plan.primary));
  if (d.action !== "serve" && d.action !== "serve-stale") return false;
  const r = parseRange(req.headers.get("range"), req.headers.get("if-range"), m, m.length);
  if (r.kind === "full") return false;
  let view;
  if (r.kind === "partial") {
    const bytes = partials.covers(obj, r.start, r.end);
    if (!bytes) return false;
    view = partialView(obj, { start: r.start, end: r.end, bytes });
  } else {
    view = partialView(obj); // 416: no body is read
  }
  const stale = d.action === "serve-stale";
  await serveStored(ctx, ex, {
    obj: view,
    x: stale ? "STALE" : "HIT",
    code: stale ? "TCP_STALE_HIT" : "TCP_MEM_HIT",
    result: stale ? "stale" : "hit",
  });
  return true;
}

/** A 206 answer being kept while it is relayed. */
interface Keeping {
  meta: PartialMeta;
  start: number;
  expected: number;
  chunks: Uint8Array[];
  bytes: number;
}

/**
 * Forwards a GET with `Range` (its conditionals and `If-Range` too), relays the answer, and keeps
 * a storable single-range 206 as a part (see the module doc).
 *
 * @param ctx the fetch stage, partial store, store and settings
 * @param ex the request (GET with `Range`)
 * @param plan what to send
 */
export async function rangeMiss(ctx: CacheContext, ex: Exchange, plan: FetchPlan): Promise<void> {
  const { req, out } = ex;
  out.code = "TCP_MISS";
  out.result = "miss";
  plan.method = "GET";
  plan.headers = forwardHeaders(req, { host: plan.host, node: ctx.node, cacheable: false });
  const requestTime = Date.now();
  let r: OriginResponse;
  try {
    r = await ctx.fetch.upstream.send(plan, out);
  } catch (e) {
    return await sendOriginError(ctx, ex, e as Error);
  }
  const responseTime = Date.now();
  const headers = stripHopByHop(r.head.headers.fields);
  out.status = r.head.status;
  out.type = r.head.headers.get("content-type") ?? "-";
  const ageMs = correctedInitialAgeMs({ headers: r.head.headers.fields, requestTime, responseTime });
  const age = r.head.headers.get("age") !== null || ageMs >= 1000 ? ageHeaderValue(ageMs) : undefined;
  const keep = keepable(ctx, ex, plan, r, { headers, requestTime, responseTime });
  const complete = await relay(ctx, ex, {
    r,
    headers,
    age,
    sink: keep
      ? (c) => {
        keep.chunks.push(c);
        keep.bytes += c.length;
      }
      : undefined,
  });
  if (keep && complete && keep.bytes === keep.expected) await storePart(ctx, keep);
}

/** The part to keep from this answer, or undefined when it is not a storable single-range 206. */
function keepable(
  ctx: CacheContext,
  ex: Exchange,
  plan: FetchPlan,
  r: OriginResponse,
  o: { headers: [string, string][]; requestTime: number; responseTime: number },
): Keeping | undefined {
  const partials = ctx.partials;
  if (!partials || r.head.status !== 206) return undefined;
  if (parseCacheControl(ex.req.headers.get("cache-control")).noStore) return undefined;
  const cr = parseContentRange(r.head.headers.get("content-range"));
  if (!cr) return undefined;
  const expected = cr.end - cr.start + 1;
  if (r.framing.kind === "length" && r.framing.length !== expected) return undefined;
  if (r.framing.kind === "none" || expected > ctx.config.maxObjectBytes) return undefined;
  const vary = parseVary(r.head.headers.get("vary"));
  if (vary === "*") return undefined;
  let headers = o.headers.filter(([k]) => k !== "content-range" && k !== "content-length");
  if (!headers.some(([k]) => k === "date")) headers.push(["date", formatHttpDate(o.responseTime)]);
  const d = isStorable({ method: "GET", headers: ex.req.headers }, { status: 206, headers }, {
    ...freshOpts(ctx.config, plan.primary),
    partial: true,
  });
  if (!d.storable) return undefined;
  if (d.stripFields.length) headers = headers.filter(([k]) => !d.stripFields.includes(k));
  const meta: PartialMeta = {
    primary: plan.primary,
    variant: varyKey(vary, ex.req.headers),
    headers,
    vary,
    requestTime: o.requestTime,
    responseTime: o.responseTime,
    length: cr.length,
  };
  return { meta, start: cr.start, expected, chunks: [], bytes: 0 };
}

/** Adds a received part; a part that completes the representation is stored as a 200. */
async function storePart(ctx: CacheContext, k: Keeping): Promise<void> {
  let body: Uint8Array;
  if (k.chunks.length === 1) body = k.chunks[0];
  else {
    body = new Uint8Array(k.bytes);
    let at = 0;
    for (const c of k.chunks) {
      body.set(c, at);
      at += c.length;
    }
  }
  const put = ctx.partials!.put(k.meta, k.start, body);
  if (put.kind === "refused") log.debug("Partial response not kept", { url: k.meta.primary, reason: put.reason });
  if (put.kind !== "complete" || put.body.length > ctx.config.maxObjectBytes) return;
  const m = put.meta;
  const meta: StoredMeta = {
    primary: m.primary,
    variant: m.variant,
    status: 200,
    headers: m.headers,
    vary: m.vary,
    requestTime: m.requestTime,
    responseTime: m.responseTime,
    expiresAt: 0,
    bodyBytes: put.body.length,
  };
  meta.expiresAt = expiresAtMs(meta, freshOpts(ctx.config, m.primary));
  try {
    const w = await ctx.store.openWrite(meta);
    try {
      await w.write(put.body);
      await w.commit();
      const st = ctx.store.stats();
      counters.storedObjects = st.objects;
      counters.storedBytes = st.bytes;
    } catch (e) {
      await w.abort();
      throw e;
    }
  } catch (e) {
    log.debug("Combined response not stored", { url: m.primary, error: e });
  }
}
