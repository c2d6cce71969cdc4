/**
 * Delivery of a response being fetched ({@link Inflight}) to one client: the leader's client and
 * every collapsed follower read the same chunks while the object is stored.
 *
 * @module
 */
import { encodeChunk, LAST_CHUNK } from "../http/chunked.ts";
import { latin1Encode } from "../http/head_codec.ts";
import { concatBytes, framingFor, sendError } from "./client_reply.ts";
import type { CacheContext, Exchange } from "./exchange.ts";
import type { Inflight, InflightHead } from "./inflight.ts";
import { type ClientFraming, clientHead, headWithBody, INLINE_BODY_BYTES } from "./response_head.ts";
import { ageHeaderValue, evaluateClientConditional, notModifiedHeaders } from "./semantics/mod.ts";

/** What to send from an inflight. */
export interface InflightServe {
  /** The fetch. */
  f: Inflight;
  /** Its published head. */
  head: InflightHead;
  /** X-Cache value. */
  xCache: string;
  /** A read slot reserved before the fetch started (released here). */
  slot?: object;
  /**
   * The client did not cause this fetch (it joined another's): no Set-Cookie (`response_head.ts`).
   */
  follower?: boolean;
}

/** Head and first body chunk go out in one write up to this size. */
const ONE_WRITE_BYTES = 64 * 1024;

/**
 * Sends an inflight response to one client: 304/412 for its conditionals on a 2xx, else the
 * head and the body as it streams in. Releases `how.slot` when done.
 *
 * @param ctx node name and X-Cache
 * @param ex the request
 * @param how the inflight, its head and X-Cache
 */
export async function serveInflight(ctx: CacheContext, ex: Exchange, how: InflightServe): Promise<void> {
  try {
    const sent = send(ctx, ex, how);
    if (sent instanceof Promise) await sent;
    else if (sent) {
      const whole = sent;
      // The body is already complete (a small response read at once): head and body encoded into
      // the connection's reusable buffer, one write, no allocation, no further async frame.
      try {
        await ex.res.write(headWithBody(whole.text, whole.body, ex.res));
      } catch {
        ex.res.close = true;
      }
    }
  } finally {
    if (how.slot) how.f.unreserve(how.slot);
  }
}

/**
 * Sends the response, or returns its head text and body when the body is complete and small
 * enough to go out with the head in one write (the caller writes them).
 */
function send(
  ctx: CacheContext,
  ex: Exchange,
  how: InflightServe,
): Promise<void> | { text: string; body: Uint8Array } | undefined {
  const { req, res, out } = ex;
  const { head, xCache } = how;
  out.type = head.headers.find(([k]) => k === "content-type")?.[1] ?? "-";
  if (head.status >= 200 && head.status < 300) {
    const cond = evaluateClientConditional(req.method, req.headers, head.headers, head.status);
    if (cond === 304 || cond === 412) {
      out.status = cond;
      if (cond === 412) return sendError(ctx, ex, { status: 412, message: "Precondition failed" });
      return res.write(latin1Encode(clientHead({
        status: 304,
        headers: notModifiedHeaders(head.headers),
        node: ctx.node,
        xCache,
        framing: { kind: "none" },
        close: res.close,
        keepAlive10: req.minor === 0 && !res.close,
        fromStore: how.follower,
        drop: how.follower ? head.initiatorOnly : undefined,
      })));
    }
  }
  const noBody = req.method === "HEAD" || head.status === 204 || head.status === 304 ||
    (head.status >= 100 && head.status < 200);
  const framing: ClientFraming = noBody
    ? (head.bodyBytes !== undefined ? { kind: "length", length: head.bodyBytes } : { kind: "none" })
    : framingFor(req, res, head.bodyBytes);
  const text = clientHead({
    status: head.status,
    reason: head.reason,
    headers: head.headers,
    node: ctx.node,
    xCache,
    // Its age when it arrived (an upstream cache's Age plus the response delay, or the apparent
    // age from Date) plus the time since: a parent cache's copy must not look new downstream.
    age: head.initialAgeMs === undefined || head.responseTime === undefined
      ? undefined
      : ageHeaderValue(head.initialAgeMs + Math.max(0, Date.now() - head.responseTime)),
    framing,
    close: res.close,
    keepAlive10: req.minor === 0 && !res.close,
    fromStore: how.follower,
    drop: how.follower ? head.initiatorOnly : undefined,
  });
  out.status = head.status;
  if (noBody) return res.write(latin1Encode(text)).catch(() => {/* client gone */});
  const chunked = framing.kind === "chunked";
  const whole = chunked ? undefined : how.f.completeBody();
  if (whole && whole.length <= INLINE_BODY_BYTES) return { text, body: whole };
  return streamBody(ex, how, text, chunked);
}

/** Writes the head with the body chunks as they arrive (chunk-encoded when `chunked`). */
async function streamBody(ex: Exchange, how: InflightServe, text: string, chunked: boolean): Promise<void> {
  const { res } = ex;
  const bytes = latin1Encode(text);
  // The head goes out together with the first body chunk (one write for small responses).
  let pending: Uint8Array | undefined = bytes;
  try {
    for await (const chunk of how.f.read(how.slot)) {
      const data = chunked ? encodeChunk(chunk) : chunk;
      if (pending) {
        await res.write(pending.length + data.length <= ONE_WRITE_BYTES ? concatBytes(pending, data) : pending);
        if (pending.length + data.length > ONE_WRITE_BYTES) await res.write(data);
        pending = undefined;
      } else {
        await res.write(data);
      }
    }
    if (pending) await res.write(chunked ? concatBytes(pending, LAST_CHUNK) : pending);
    else if (chunked) await res.write(LAST_CHUNK);
  } catch {
    // The client went away or the origin failed mid-body: the client sees a truncated response.
    if (pending && !res.broken) await res.write(pending).catch(() => {});
    res.close = true;
  }
}
