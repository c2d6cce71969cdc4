/**
 * Pass: a request the cache forwards without storing the answer (methods other than GET/HEAD, a
 * Range request for an object not stored), streaming the response to the client, then
 * invalidating the URL and its Location/Content-Location after an unsafe method (RFC 9111 §4.4).
 *
 * @module
 */
import { encodeChunk, LAST_CHUNK } from "../http/chunked.ts";
import { latin1Encode } from "../http/head_codec.ts";
import type { OriginResponse } from "../http/origin_client.ts";
import { RequestBodyError } from "../http/server.ts";
import { concatBytes, framingFor, sendOriginError } from "./client_reply.ts";
import type { CacheContext, Exchange } from "./exchange.ts";
import type { FetchPlan } from "./fetch_plan.ts";
import { counters } from "./metrics.ts";
import { clientHead, peerCopy, withoutCookies } from "./response_head.ts";
import { ageHeaderValue, correctedInitialAgeMs, invalidationTargets, stripHopByHop } from "./semantics/mod.ts";

/** Request bodies up to this size are buffered and sent with Content-Length; larger ones stream chunked. */
export const BUFFERED_BODY_BYTES = 1024 * 1024;

/** Head and first body chunk go out in one write up to this size. */
const ONE_WRITE_BYTES = 64 * 1024;

/**
 * Prepares the body of a request with one: answers `Expect: 100-continue` (the cache reads the
 * body itself, RFC 9110 §10.1.1), then buffers a small body (origins that refuse chunked requests
 * keep working, and a retry on a stale pooled connection stays possible) or streams a large one.
 *
 * @param ex the request
 * @param plan receives the body
 * @returns whether the cache sent a 100 Continue itself
 */
export async function readRequestBody(ex: Exchange, plan: FetchPlan): Promise<boolean> {
  const { req, res } = ex;
  let sent100 = false;
  if (req.framing.kind !== "none" && /^100-continue$/i.test(req.headers.get("expect") ?? "")) {
    await res.write(latin1Encode("HTTP/1.1 100 Continue\r\n\r\n"));
    sent100 = true;
  }
  if (req.framing.kind === "length" && req.framing.length <= BUFFERED_BODY_BYTES) {
    const parts: Uint8Array[] = [];
    for await (const c of req.body()) parts.push(c);
    plan.body = parts.length === 1 ? parts[0] : parts.reduce((a, b) => concatBytes(a, b), new Uint8Array(0));
  } else if (req.framing.kind !== "none") {
    plan.body = req.body();
  }
  return sent100;
}

/**
 * Forwards without storing, streams the answer, invalidates after unsafe methods.
 *
 * @param ctx the fetch stage, invalidation, node name
 * @param ex the request
 * @param plan what to send
 */
export async function pass(ctx: CacheContext, ex: Exchange, plan: FetchPlan): Promise<void> {
  const { req, out } = ex;
  out.code = "TCP_MISS";
  out.result = "pass";
  let r: OriginResponse;
  const requestTime = Date.now();
  try {
    r = await ctx.fetch.upstream.send(plan, out);
  } catch (e) {
    if (e instanceof RequestBodyError) throw e; // the client's fault: answered 400/408 by the handler
    return await sendOriginError(ctx, ex, e as Error);
  }
  const responseTime = Date.now();
  let headers = stripHopByHop(r.head.headers.fields);
  // A peer's stored copy: no cookie of another client may come through it.
  if (peerCopy(out.hierarchy, r.head.headers.get("x-cache"))) headers = withoutCookies(headers);
  const targets = invalidationTargets(req.method, plan.primary, r.head.status, headers);
  if (targets.length) {
    // Location/Content-Location keys are resolved against the request URL (same host only).
    await ctx.invalidate(targets);
  }
  out.status = r.head.status;
  out.type = r.head.headers.get("content-type") ?? "-";
  // An upstream Age is kept, corrected by the response delay (RFC 9111 §4.2.3); a first-hand
  // answer (no Age, current Date) gets none, as it was generated for this request (§5.1).
  const ageMs = correctedInitialAgeMs({ headers: r.head.headers.fields, requestTime, responseTime });
  const age = r.head.headers.get("age") !== null || ageMs >= 1000 ? ageHeaderValue(ageMs) : undefined;
  await relay(ctx, ex, { r, headers, age });
}

/**
 * Streams an origin response to the client without storing it.
 *
 * @param ctx node name and X-Cache
 * @param ex the request
 * @param o the response, the fields to send, its `Age`, and an optional `sink` that sees every
 *   body chunk as it is read (to keep a copy; it only has them all when the result is true)
 * @returns true when the whole body was read from upstream and written to the client
 */
export async function relay(
  ctx: CacheContext,
  ex: Exchange,
  o: { r: OriginResponse; headers: [string, string][]; age?: string; sink?: (chunk: Uint8Array) => void },
): Promise<boolean> {
  const { req, res } = ex;
  const { r } = o;
  const framing = framingFor(req, res, r.framing.kind === "length" ? r.framing.length : r.declaredLength, r);
  const head = latin1Encode(clientHead({
    status: r.head.status,
    reason: r.head.reason,
    headers: o.headers,
    node: ctx.node,
    xCache: ctx.xMiss,
    age: o.age,
    framing,
    close: res.close,
    keepAlive10: req.minor === 0 && !res.close,
  }));
  if (r.framing.kind === "none" || req.method === "HEAD") {
    r.abort();
    try {
      await res.write(head);
    } catch { /* client gone */ }
    return false;
  }
  // The head goes out with the first body chunk (one write for small responses).
  let pending: Uint8Array | undefined = head;
  let complete = false;
  try {
    for await (const chunk of r.body()) {
      counters.originBytes += chunk.length;
      o.sink?.(chunk);
      const data = framing.kind === "chunked" ? encodeChunk(chunk) : chunk;
      if (pending) {
        if (pending.length + data.length <= ONE_WRITE_BYTES) await res.write(concatBytes(pending, data));
        else {
          await res.write(pending);
          await res.write(data);
        }
        pending = undefined;
      } else {
        await res.write(data);
      }
    }
    complete = true;
    if (pending) await res.write(framing.kind === "chunked" ? concatBytes(pending, LAST_CHUNK) : pending);
    else if (framing.kind === "chunked") await res.write(LAST_CHUNK);
  } catch {
    r.abort();
    if (pending && !res.broken) await res.write(pending).catch(() => {});
    res.close = true;
    return false;
  }
  if (!complete) res.close = true;
  return complete;
}
