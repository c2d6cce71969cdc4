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
 *                                       ├─ 200 (the origin ignored Range), storable → relay, store it whole
 *                                       └─ anything else (304, multipart, no-store...) → relayed only
 *
 * GET without Range, nothing complete stored, a stored part with a strong ETag missing one run of bytes
 *   └─ forward asking for that run (Range + If-Range: ETag, RFC 9110 §13.1.5)
 *        ├─ 206 for exactly that run, same ETag → combine, store the whole as a 200, serve it (MISS)
 *        ├─ another 206 → dropped; the request continues as a plain miss
 *        └─ anything else (200: the representation changed) → relayed, a storable 200 stored whole
 * ```
 *
 * A stored part never answers a request without `Range`, nor a range it does not wholly hold
 * (the view given to `serveStored` cannot read anything else): incomplete responses are never
 * served as complete (§3.3). Parts are taken as incomplete 200 responses for storability and
 * freshness (`isStorable` with `partial`, `evaluateFreshness` with status 200).
 *
 * @module
 */
import { withoutCookies } from "./response_head.ts";
import { getLogger } from "../core/log.ts";
import type { OriginResponse } from "../http/origin_client.ts";
import { sendOriginError } from "./client_reply.ts";
import { type CacheContext, type Exchange, freshOpts } from "./exchange.ts";
import { type FetchPlan, forwardHeaders } from "./fetch_plan.ts";
import { completeMeta, type PartialMeta, type PartialObject, partialView } from "./partial_store.ts";
import { counters } from "./metrics.ts";
import { relay } from "./pass.ts";
import { serveStored } from "./serve_stored.ts";
import {
  ageHeaderValue,
  correctedInitialAgeMs,
  evaluateFreshness,
  expiresAtMs,
  formatHttpDate,
  getHeader,
  isStorable,
  parseCacheControl,
  parseContentRange,
  parseEntityTag,
  parseRange,
  parseVary,
  stripHopByHop,
  varyKey,
  varyMatches,
} from "./semantics/mod.ts";
import type { StoredObject } from "./store/store.ts";

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

/** An answer being kept while it is relayed: a 206 part, or a whole 200 (`start` undefined). */
interface Keeping {
  meta: PartialMeta;
  /** First byte position of a part; undefined for a complete 200. */
  start?: number;
  /** Bytes announced (Content-Range or Content-Length); undefined when not known in advance. */
  expected?: number;
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
  plan.headers = forwardHeaders(req, { host: plan.host, node: ctx.node, cacheable: false, forwarded: ctx.forwarded });
  const requestTime = Date.now();
  let r: OriginResponse;
  try {
    r = await ctx.fetch.upstream.send(plan, out);
  } catch (e) {
    return await sendOriginError(ctx, ex, e as Error);
  }
  const responseTime = Date.now();
  await relayAndKeep(ctx, ex, plan, r, { requestTime, responseTime });
}

/** Relays an upstream answer to the client, keeping a copy when {@link keepable} says so. */
async function relayAndKeep(
  ctx: CacheContext,
  ex: Exchange,
  plan: FetchPlan,
  r: OriginResponse,
  t: { requestTime: number; responseTime: number },
): Promise<void> {
  const { out } = ex;
  const { requestTime, responseTime } = t;
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
  if (keep && complete && (keep.expected === undefined || keep.bytes === keep.expected)) await storeKept(ctx, keep);
}

/**
 * What to keep from this answer: a storable single-range 206 (a part), or a storable 200 (an
 * origin that ignored `Range` sent the whole representation: stored as such). Undefined otherwise.
 */
function keepable(
  ctx: CacheContext,
  ex: Exchange,
  plan: FetchPlan,
  r: OriginResponse,
  o: { headers: [string, string][]; requestTime: number; responseTime: number },
): Keeping | undefined {
  const status = r.head.status;
  if (!ctx.partials || (status !== 206 && status !== 200) || r.framing.kind === "none") return undefined;
  if (parseCacheControl(ex.req.headers.get("cache-control")).noStore) return undefined;
  const announced = r.framing.kind === "length" ? r.framing.length : undefined;
  let start: number | undefined;
  let expected = announced;
  let length = 0;
  if (status === 206) {
    const cr = parseContentRange(r.head.headers.get("content-range"));
    if (!cr) return undefined;
    start = cr.start;
    expected = cr.end - cr.start + 1;
    length = cr.length;
    if (announced !== undefined && announced !== expected) return undefined;
  } else if (r.head.headers.has("content-range")) {
    return undefined;
  }
  if ((expected ?? 0) > ctx.config.maxObjectBytes) return undefined;
  const vary = ctx.forwarded.varyWith(parseVary(r.head.headers.get("vary")));
  if (vary === "*") return undefined;
  // Kept parts are served to other clients: never with this client's Set-Cookie.
  let headers = withoutCookies(o.headers).filter(([k]) => k !== "content-range" && k !== "content-length");
  if (!headers.some(([k]) => k === "date")) headers.push(["date", formatHttpDate(o.responseTime)]);
  const d = isStorable({ method: "GET", headers: ex.req.headers }, { status, headers }, {
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
    length,
  };
  return { meta, start, expected, chunks: [], bytes: 0 };
}

/** Stores what was kept: a part goes to the partial store; a complete representation to the store. */
async function storeKept(ctx: CacheContext, k: Keeping): Promise<void> {
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
  if (k.start === undefined) {
    if (body.length > ctx.config.maxObjectBytes) return;
    ctx.partials!.delete(k.meta.primary);
    await storeWhole(ctx, { ...k.meta, length: body.length }, body);
    return;
  }
  const put = ctx.partials!.put(k.meta, k.start, body);
  if (put.kind === "refused") log.debug("Partial response not kept", { url: k.meta.primary, reason: put.reason });
  if (put.kind === "complete" && put.body.length <= ctx.config.maxObjectBytes) {
    await storeWhole(ctx, put.meta, put.body);
  }
}

/** Stores a complete representation as a 200 in the main store; returns it as a stored object. */
async function storeWhole(ctx: CacheContext, m: PartialMeta, body: Uint8Array): Promise<StoredObject> {
  const meta = completeMeta(m, body.length);
  meta.expiresAt = expiresAtMs(meta, freshOpts(ctx.config, m.primary));
  try {
    const w = await ctx.store.openWrite(meta);
    try {
      await w.write(body);
      await w.commit();
      const st = ctx.store.stats();
      counters.storedObjects = st.objects;
      counters.storedBytes = st.bytes;
    } catch (e) {
      await w.abort();
      throw e;
    }
  } catch (e) {
    log.debug("Complete response not stored", { url: m.primary, error: e });
  }
  return {
    meta,
    body,
    openBody: (range) =>
      new ReadableStream({
        start: (c) => {
          c.enqueue(range ? body.subarray(range.start, range.end + 1) : body);
          c.close();
        },
      }),
  };
}

/** The one run of bytes a partial representation lacks, or undefined when it lacks none or several. */
export function singleGap(obj: PartialObject): { start: number; end: number } | undefined {
  const gaps: { start: number; end: number }[] = [];
  let at = 0;
  for (const s of obj.segments) {
    if (s.start > at) gaps.push({ start: at, end: s.start - 1 });
    at = s.start + s.bytes.length;
  }
  if (at < obj.meta.length) gaps.push({ start: at, end: obj.meta.length - 1 });
  return gaps.length === 1 ? gaps[0] : undefined;
}

/**
 * Completes a stored part for a GET without `Range` (see the module doc): asks upstream only for
 * the missing bytes, conditional on the part's strong ETag, and serves the combined response.
 *
 * @param ctx the fetch stage, partial store, store and settings
 * @param ex the request (GET without `Range`; nothing complete stored for it)
 * @param plan its primary key, origin and host
 * @returns true when answered; false when the request must continue as a plain miss
 */
export async function completePartial(ctx: CacheContext, ex: Exchange, plan: FetchPlan): Promise<boolean> {
  const { req, out } = ex;
  const partials = ctx.partials;
  if (!partials || req.method !== "GET" || req.headers.has("range")) return false;
  if (parseCacheControl(req.headers.get("cache-control")).noStore) return false;
  let obj: PartialObject | undefined;
  for (const p of partials.variants(plan.primary)) if (varyMatches(p.meta, req.headers)) obj = p;
  const etag = obj && getHeader(obj.meta.headers, "etag");
  const tag = parseEntityTag(etag);
  if (!obj || !etag || !tag || tag.weak || obj.meta.length > ctx.config.maxObjectBytes) return false;
  const gap = singleGap(obj);
  if (!gap) return false;
  out.code = "TCP_MISS";
  out.result = "miss";
  const headers = forwardHeaders(req, { host: plan.host, node: ctx.node, cacheable: true, forwarded: ctx.forwarded });
  headers.push(["range", `bytes=${gap.start}-${gap.end}`], ["if-range", etag.trim()]);
  const ask: FetchPlan = { ...plan, method: "GET", headers };
  const requestTime = Date.now();
  let r: OriginResponse;
  try {
    r = await ctx.fetch.upstream.send(ask, out);
  } catch (e) {
    await sendOriginError(ctx, ex, e as Error);
    return true;
  }
  const responseTime = Date.now();
  if (r.head.status !== 206) {
    // If-Range did not match (a new representation, usually a 200): relay it as the miss would.
    await relayAndKeep(ctx, ex, plan, r, { requestTime, responseTime });
    return true;
  }
  const cr = parseContentRange(r.head.headers.get("content-range"));
  const keep = cr && cr.start === gap.start && cr.end === gap.end && cr.length === obj.meta.length
    ? keepable(ctx, ex, plan, r, { headers: stripHopByHop(r.head.headers.fields), requestTime, responseTime })
    : undefined;
  const sameTag = keep && getHeader(keep.meta.headers, "etag")?.trim() === etag.trim();
  if (!keep || !sameTag || r.framing.kind !== "length") {
    r.abort();
    return false;
  }
  let body: Uint8Array;
  try {
    const w = r.readWhole();
    body = w instanceof Promise ? await w : w;
  } catch {
    return false;
  }
  counters.originBytes += body.length;
  const put = partials.put(keep.meta, gap.start, body);
  if (put.kind !== "complete") return false;
  const whole = await storeWhole(ctx, put.meta, put.body);
  await serveStored(ctx, ex, { obj: whole, x: "MISS", code: "TCP_MISS", result: "miss" });
  return true;
}
