/**
 * Small responses the cache writes itself (errors, gateway failures), and the client framing of
 * relayed bodies.
 *
 * @module
 */
import { getLogger } from "../core/log.ts";
import { latin1Encode } from "../http/head_codec.ts";
import { OriginError, type OriginResponse } from "../http/origin_client.ts";
import type { ServerRequest, ServerResponse } from "../http/server.ts";
import { DestinationDeniedError } from "./destination_guard.ts";
import type { Exchange } from "./exchange.ts";
import { type ClientFraming, clientHead } from "./response_head.ts";

const log = getLogger("cache");

/**
 * `a` followed by `b` in one new buffer.
 *
 * @param a first bytes
 * @param b bytes after them
 * @returns the concatenation
 */
export function concatBytes(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

/** Who answers in an error response's Via and X-Cache. */
export interface ReplyIdentity {
  /** Node name for Via. */
  node: string;
  /** X-Cache value (`MISS from <node>`). */
  xMiss: string;
}

/**
 * Writes a plain-text response the cache makes itself (`cache-control: no-store`); records the
 * status in `ex.out`.
 *
 * @param who node name and X-Cache
 * @param ex the request
 * @param opts status, message (the body) and extra fields
 */
export async function sendError(
  who: ReplyIdentity,
  ex: Exchange,
  opts: { status: number; message: string; extra?: [string, string][] },
): Promise<void> {
  const { req, res } = ex;
  ex.out.status = opts.status;
  const body = new TextEncoder().encode(opts.message + "\n");
  const head = clientHead({
    status: opts.status,
    headers: [["content-type", "text/plain; charset=utf-8"], ["cache-control", "no-store"]],
    node: who.node,
    xCache: who.xMiss,
    extra: opts.extra ?? [],
    framing: { kind: "length", length: body.length },
    close: res.close,
    keepAlive10: req.minor === 0 && !res.close,
  });
  const h = latin1Encode(head);
  if (req.method === "HEAD") return await res.write(h);
  const buf = new Uint8Array(h.length + body.length);
  buf.set(h);
  buf.set(body, h.length);
  await res.write(buf);
}

/**
 * Answers a failed origin or peer request: 504 for a timeout, 403 for a destination refused on
 * connect, else 502.
 *
 * @param who node name and X-Cache
 * @param ex the request
 * @param e why the fetch failed
 */
export async function sendOriginError(who: ReplyIdentity, ex: Exchange, e: Error): Promise<void> {
  if (e instanceof DestinationDeniedError) return await sendDenied(who, ex, e.message);
  const timeout = e instanceof OriginError && e.reason === "timeout";
  const status = timeout ? 504 : 502;
  ex.out.status = status;
  ex.out.result = "error";
  if (e instanceof OriginError && e.reason === "tls") {
    // A certificate the cache does not trust is a configuration or security problem: say so.
    log.warn("Origin TLS failed", { url: ex.out.url, error: e.message });
  } else {
    log.debug("Origin failed", { url: ex.out.url, error: e });
  }
  const message = `${timeout ? "Gateway timeout" : "Bad gateway"}: ${e.message}`;
  return await sendError(who, ex, { status, message });
}

/**
 * Answers 403 for a destination the guard refuses (`destination_guard.ts`), logged as denied.
 *
 * @param who node name and X-Cache
 * @param ex the request
 * @param message why, e.g. `Destination 127.0.0.1:80 is not allowed: loopback`
 */
export async function sendDenied(who: ReplyIdentity, ex: Exchange, message: string): Promise<void> {
  ex.out.code = "TCP_DENIED";
  ex.out.result = "denied";
  log.info("Denied destination", { from: ex.req.client.hostname, target: ex.req.target.slice(0, 200), message });
  return await sendError(who, ex, { status: 403, message });
}

/**
 * How a relayed body is framed to the client: its length when known, else chunked for HTTP/1.1
 * or close-delimited for HTTP/1.0 (which sets `res.close`).
 *
 * @param req the client's request
 * @param res its response (closed after a close-delimited body)
 * @param length the body length when known
 * @param r the origin response, when relaying one (a body-less one keeps its length or has none)
 * @returns the framing
 */
export function framingFor(
  req: ServerRequest,
  res: ServerResponse,
  length: number | undefined,
  r?: OriginResponse,
): ClientFraming {
  if (r && r.framing.kind === "none") {
    return length !== undefined ? { kind: "length", length } : { kind: "none" };
  }
  if (length !== undefined) return { kind: "length", length };
  if (req.method === "HEAD") return { kind: "none" };
  if (req.minor === 1) return { kind: "chunked" };
  res.close = true;
  return { kind: "close" };
}
