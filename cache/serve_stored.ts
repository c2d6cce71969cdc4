/**
 * Hit delivery on the slow path: a stored object sent to one client, after evaluating the
 * client's conditionals (304/412, RFC 9110 §13) and Range (206/416, RFC 9110 §14). The plain GET
 * hit of the fast path is `PreparedHit` (`response_head.ts`).
 *
 * @module
 */
import { latin1Encode } from "../http/head_codec.ts";
import { sendError } from "./client_reply.ts";
import type { CacheContext, Exchange } from "./exchange.ts";
import type { CacheResult } from "./metrics.ts";
import { clientHead, headInRoom } from "./response_head.ts";
import {
  ageHeaderValue,
  contentRangeHeader,
  currentAgeMs,
  evaluateClientConditional,
  notModifiedHeaders,
  parseRange,
} from "./semantics/mod.ts";
import type { StoredMeta, StoredObject } from "./store/store.ts";

/** How a stored object is served: its X-Cache word and access-log code and result. */
export interface StoredServe {
  /** The stored object. */
  obj: StoredObject;
  /** X-Cache word (`MISS` for a response completed from stored parts and the origin). */
  x: "HIT" | "STALE" | "REVALIDATED" | "MISS";
  /** Squid result code. */
  code: string;
  /** Metrics result. */
  result: CacheResult;
}

/** Bodies up to this size go out in the same write as the head. */
const ONE_WRITE_BYTES = 64 * 1024;

/**
 * Sends a stored object to the client: 304 or 412 when its conditionals say so, 206 or 416 for a
 * Range on a stored 200, else the object (head only for HEAD).
 *
 * @param ctx node name and X-Cache
 * @param ex the request
 * @param how the object and how it is logged
 */
export async function serveStored(ctx: CacheContext, ex: Exchange, how: StoredServe): Promise<void> {
  const { req, res, out } = ex;
  const meta = how.obj.meta;
  const age = ageHeaderValue(currentAgeMs(meta, Date.now()));
  const xCache = `${how.x} from ${ctx.node}`;
  out.code = how.code;
  out.result = how.result;
  out.type = meta.headers.find(([k]) => k === "content-type")?.[1] ?? "-";
  const cond = evaluateClientConditional(req.method, req.headers, meta.headers, meta.status);
  if (cond === 304) {
    out.status = 304;
    if (how.code === "TCP_MEM_HIT" || how.code === "TCP_HIT") out.code = "TCP_IMS_HIT";
    const head = clientHead({
      status: 304,
      headers: notModifiedHeaders(meta.headers),
      node: ctx.node,
      xCache,
      age,
      framing: { kind: "none" },
      close: res.close,
      keepAlive10: req.minor === 0 && !res.close,
      fromStore: true,
    });
    return await res.write(latin1Encode(head));
  }
  if (cond === 412) {
    out.status = 412;
    return await sendError(ctx, ex, { status: 412, message: "Precondition failed" });
  }
  const r = rangeOf(ex, meta);
  if (r === "unsatisfiable") {
    out.status = 416;
    const extra: [string, string][] = [["content-range", contentRangeHeader(null, meta.bodyBytes)]];
    return await sendError(ctx, ex, { status: 416, message: "Range not satisfiable", extra });
  }
  const status = r ? 206 : meta.status;
  const extra: [string, string][] = r ? [["content-range", contentRangeHeader(r, meta.bodyBytes)]] : [];
  out.status = status;
  const length = r ? r.end - r.start + 1 : meta.bodyBytes;
  const head = latin1Encode(clientHead({
    status,
    headers: meta.headers,
    node: ctx.node,
    xCache,
    age,
    extra,
    framing: { kind: "length", length },
    close: res.close,
    keepAlive10: req.minor === 0 && !res.close,
    fromStore: true, // never another client's Set-Cookie
  }));
  if (req.method === "HEAD") return await res.write(head);
  await writeBody(ex, how.obj, head, r);
}

/** The byte range a GET of a stored 200 asks for: undefined for the whole object. */
function rangeOf(ex: Exchange, meta: StoredMeta): { start: number; end: number } | "unsatisfiable" | undefined {
  const { req } = ex;
  if (req.method !== "GET" || meta.status !== 200 || !req.headers.has("range")) return undefined;
  const r = parseRange(req.headers.get("range"), req.headers.get("if-range"), meta, meta.bodyBytes);
  if (r.kind === "unsatisfiable") return "unsatisfiable";
  if (r.kind === "partial") return { start: r.start, end: r.end };
  return undefined;
}

/**
 * Writes the head and the (ranged) body: one write for small in-memory bodies and for bodies with
 * headroom (a disk tier's read buffer), else streamed.
 */
async function writeBody(
  ex: Exchange,
  obj: StoredObject,
  head: Uint8Array,
  range: { start: number; end: number } | undefined,
): Promise<void> {
  const { res } = ex;
  if (obj.body) {
    const body = range ? obj.body.subarray(range.start, range.end + 1) : obj.body;
    const one = headInRoom(obj, body, head);
    if (one) return await res.write(one);
    if (body.length <= ONE_WRITE_BYTES) {
      const buf = new Uint8Array(head.length + body.length);
      buf.set(head);
      buf.set(body, head.length);
      return await res.write(buf);
    }
    await res.write(head);
    return await res.write(body);
  }
  await res.write(head);
  const reader = obj.openBody(range).getReader();
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) break;
      await res.write(value);
    }
  } catch (e) {
    res.close = true;
    throw e;
  } finally {
    reader.releaseLock();
  }
}
