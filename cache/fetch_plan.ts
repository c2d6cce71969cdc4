/**
 * `FetchPlan`: the request the cache sends upstream for a miss, a revalidation or a pass, and the
 * request fields it forwards.
 *
 * @module
 */
import type { ResponseHead } from "../http/head_codec.ts";
import type { HeaderList } from "../http/header_list.ts";
import type { ServerRequest } from "../http/server.ts";
import type { OriginEndpoint } from "../http/origin_client.ts";
import type { ForwardedHeaders } from "./forwarded_headers.ts";
import { stripHopByHop } from "./semantics/mod.ts";
import type { StoredMeta } from "./store/store.ts";

/** A fetch the miss path, a revalidation or a pass starts. */
export interface FetchPlan {
  /** Request method (a cacheable HEAD is fetched as GET). */
  method: string;
  /** Absolute URL. */
  url: string;
  /** Primary cache key. */
  primary: string;
  /** The origin server. */
  origin: OriginEndpoint;
  /** Host field value sent. */
  host: string;
  /** Origin-form target. */
  path: string;
  /** Request fields to send (hop-by-hop and client-only removed, Host/Via/X-F-F added). */
  headers: [string, string][];
  /** The client's request fields (for storability and Vary). */
  reqHeaders: HeaderList;
  /** Request body of a pass. */
  body?: Uint8Array | AsyncIterable<Uint8Array>;
  /** May the response be stored. */
  store: boolean;
  /** The stored object being revalidated. */
  revalidating?: StoredMeta;
  /** Already waited for another worker's fetch of this URL (does not wait twice). */
  waitedElsewhere?: boolean;
  /** Already asked another worker for its copy (does not ask twice). */
  pulled?: boolean;
  /** Relays interim (1xx) responses to the client whose request this is (`interim.ts`). */
  onInterim?: (head: ResponseHead) => Promise<void>;
  /** A forward/transparent request: the origin connection must pass the destination guard. */
  guarded?: boolean;
}

/** Fields never forwarded to the origin on a cacheable fetch (the cache evaluates them itself). */
const CLIENT_ONLY = new Set([
  "range",
  "if-range",
  "if-none-match",
  "if-modified-since",
  "if-match",
  "if-unmodified-since",
]);

/** Fields the cache replaces or frames itself. */
const HOP_EXTRA = new Set(["host", "content-length", "transfer-encoding", "x-forwarded-for", "via", "expect"]);

/**
 * The plan of a revalidation as a plain fetch: no validators sent, nothing to freshen.
 *
 * @param plan a revalidation's plan
 * @returns a copy without `If-None-Match`/`If-Modified-Since` and `revalidating`
 */
export function unconditional(plan: FetchPlan): FetchPlan {
  const headers = plan.headers.filter(([k]) => k !== "if-none-match" && k !== "if-modified-since");
  return { ...plan, headers, revalidating: undefined };
}

/** This node's Via entry (`1.1 <node>`), built once per node name rather than per request. */
function viaOf(node: string): string {
  if (node !== lastViaNode) {
    lastViaNode = node;
    lastVia = `1.1 ${node}`;
  }
  return lastVia;
}
let lastViaNode = "";
let lastVia = "1.1 ";

/**
 * The request fields to forward: Host first, the client's end-to-end fields (minus the client's
 * own conditionals and Range on a cacheable fetch, and the forwarding fields not trusted), then
 * Via and X-Forwarded-For with this hop.
 *
 * @param req the client's request
 * @param opts the Host value, this node's name, whether the fetch is cacheable, and which client
 *   forwarding fields are kept
 * @returns the fields, names lower-case
 */
export function forwardHeaders(
  req: ServerRequest,
  opts: { host: string; node: string; cacheable: boolean; forwarded: ForwardedHeaders },
): [string, string][] {
  const h: [string, string][] = [["host", opts.host]];
  for (const [k, v] of stripHopByHop(req.headers.fields)) {
    if (HOP_EXTRA.has(k) || opts.forwarded.drops(k)) continue;
    if (opts.cacheable && CLIENT_ONLY.has(k)) continue;
    h.push([k, v]);
  }
  const via = req.headers.get("via");
  h.push(["via", via ? `${via}, ${viaOf(opts.node)}` : viaOf(opts.node)]);
  h.push(["x-forwarded-for", opts.forwarded.xForwardedFor(req.headers.get("x-forwarded-for"), req.client.hostname)]);
  return h;
}
