/**
 * Hop-by-hop header fields (RFC 9110 §7.6.1): removed by every intermediary before forwarding
 * a message and never stored (RFC 9111 §3.1).
 *
 * @module
 */

import type { HeaderList } from "./header_getter.ts";

/**
 * Fields that are always hop-by-hop: `Connection`, `Keep-Alive`, `Proxy-Connection` (non-standard,
 * still sent by old clients), `TE`, `Trailer`, `Transfer-Encoding`, `Upgrade`,
 * `Proxy-Authenticate` and `Proxy-Authorization` (meant for this proxy, RFC 9110 §11.7).
 */
export const HOP_BY_HOP_FIELDS: ReadonlySet<string> = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
  "proxy-authenticate",
  "proxy-authorization",
]);

/**
 * Fields a `Connection` option cannot remove: a client must not be able to strip the request's
 * routing (`Host`) or framing (`Content-Length`) from what the cache forwards.
 */
const PROTECTED_FIELDS: ReadonlySet<string> = new Set(["host", "content-length"]);

/**
 * The lower-case field names a message's `Connection` field(s) declare hop-by-hop, plus
 * {@link HOP_BY_HOP_FIELDS}.
 *
 * @param headers the message's header list
 * @returns the set of names to remove
 */
export function hopByHopNames(headers: readonly (readonly [string, string])[]): Set<string> {
  const names = new Set(HOP_BY_HOP_FIELDS);
  for (const [n, v] of headers) {
    const lower = n.toLowerCase();
    if (lower !== "connection" && lower !== "proxy-connection") continue;
    for (const opt of v.split(",")) {
      const name = opt.trim().toLowerCase();
      if (name.length > 0 && !PROTECTED_FIELDS.has(name)) names.add(name);
    }
  }
  return names;
}

/**
 * Removes hop-by-hop fields: those of {@link HOP_BY_HOP_FIELDS} and those named by `Connection`
 * (except `Host` and `Content-Length`, see above).
 *
 * @param headers a header list (names in any case)
 * @returns a new list with lower-case names, in the original order
 * @example
 * ```ts
 * stripHopByHop([["Connection", "close, X-Foo"], ["X-Foo", "1"], ["ETag", '"a"']]); // [["etag", '"a"']]
 * ```
 */
export function stripHopByHop(headers: readonly (readonly [string, string])[]): HeaderList {
  // Runs twice per miss: only the names Connection adds beyond HOP_BY_HOP_FIELDS are collected
  // (usually none: "keep-alive" or "close"), so the common case copies no set.
  let extra: string[] | undefined;
  for (const [n, v] of headers) {
    if (n.length !== 10 && n.length !== 16) continue;
    const lower = n.toLowerCase();
    if (lower !== "connection" && lower !== "proxy-connection") continue;
    for (const opt of v.split(",")) {
      const name = opt.trim().toLowerCase();
      if (name.length > 0 && !PROTECTED_FIELDS.has(name) && !HOP_BY_HOP_FIELDS.has(name)) (extra ??= []).push(name);
    }
  }
  const out: HeaderList = [];
  for (const field of headers) {
    const n = field[0];
    const name = n.toLowerCase();
    if (HOP_BY_HOP_FIELDS.has(name) || (extra !== undefined && extra.includes(name))) continue;
    // A field whose name is already lower-case (every parsed one) is shared, not copied: header
    // tuples are never changed in place, and the stored object keeps fewer arrays.
    out.push(name === n ? field as [string, string] : [name, field[1]]);
  }
  return out;
}
