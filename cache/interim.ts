/**
 * Interim responses (RFC 9110 §15.2): a 100 Continue, 102 Processing or 103 Early Hints the
 * origin sends before its final answer is relayed to the client that asked, in order, as soon as
 * it arrives. Interim responses are never stored and never merged into the final response: the
 * origin client hands each head over separately and returns only the final one.
 *
 * Not relayed:
 * - to an HTTP/1.0 client (RFC 9110 §15.2: "A server MUST NOT send a 1xx response to an HTTP/1.0
 *   client");
 * - a 100 Continue when the cache already sent its own for this request (it answers
 *   `Expect: 100-continue` itself, RFC 9110 §10.1.1): a second one would tell the client nothing;
 * - to collapsed followers and stale-while-revalidate refreshes: only the client whose request
 *   went upstream gets them (followers join once the final head is known).
 *
 * Hop-by-hop fields and framing fields are dropped from a relayed interim head (a 1xx has no
 * content, RFC 9110 §8.6).
 *
 * @module
 */
import type { ResponseHead } from "../http/head_codec.ts";
import { latin1Encode } from "../http/head_codec.ts";
import type { ServerRequest, ServerResponse } from "../http/server.ts";
import { stripHopByHop } from "./semantics/mod.ts";

/** Fields never sent in an interim response (a 1xx has no content to frame). */
const FRAMING: ReadonlySet<string> = new Set(["content-length", "transfer-encoding"]);

/** Reason phrases of the interim statuses, used when the origin sent none. */
const INTERIM_REASONS: Record<number, string> = { 100: "Continue", 102: "Processing", 103: "Early Hints" };

/**
 * The bytes of an interim response as relayed: status line, end-to-end fields, blank line.
 *
 * @param head the interim head from the origin
 * @returns the serialised head
 * @example
 * ```ts
 * interimHeadBytes(head); // "HTTP/1.1 103 Early Hints\r\nlink: </s.css>; rel=preload\r\n\r\n"
 * ```
 */
export function interimHeadBytes(head: ResponseHead): Uint8Array {
  let s = `HTTP/1.1 ${head.status} ${head.reason || INTERIM_REASONS[head.status] || ""}\r\n`;
  for (const [k, v] of stripHopByHop(head.headers.fields)) if (!FRAMING.has(k)) s += `${k}: ${v}\r\n`;
  return latin1Encode(s + "\r\n");
}

/**
 * The relay of interim responses to one client, for `OriginRequestInit.onInterim`; undefined when
 * the client must not get any (HTTP/1.0).
 *
 * @param req the client's request
 * @param res its response; interim heads are written before the final one
 * @param opts `sent100`: the cache already answered `Expect: 100-continue` itself
 * @returns the callback (it never throws: a client gone just stops the relay), or undefined
 */
export function interimRelay(
  req: ServerRequest,
  res: ServerResponse,
  opts: { sent100?: boolean } = {},
): ((head: ResponseHead) => Promise<void>) | undefined {
  if (req.minor === 0) return undefined;
  let gone = false;
  return async (head) => {
    if (gone || res.broken || (head.status === 100 && opts.sent100)) return;
    try {
      await res.write(interimHeadBytes(head));
    } catch {
      gone = true;
    }
  };
}
