/**
 * Updating stored responses' header fields from a newer response that carries no content
 * (RFC 9111 §3.2): a 304 answering a revalidation (§4.3.4) and a 200 answering an inbound HEAD
 * (§4.3.5). The field rules are `mergeHeadersFrom304` (`semantics/`): every field of the new
 * response replaces the stored one of that name (Cache-Control, Content-Type, ETag, Expires,
 * Set-Cookie, ...), except hop-by-hop fields, the framing and body fields (Content-Length,
 * Content-Encoding, Content-Range, Transfer-Encoding) and fields a qualified `no-cache=`/`private=`
 * names. Each updated response takes the new exchange's request and response times, so its age
 * and freshness start again.
 *
 * A 304 updates every stored variant of the URL it selects (a strong ETag selects all with that
 * ETag; a weak one or Last-Modified the most recent match), not only the one revalidated. When it
 * does not select the revalidated one (its ETag changed under a stale If-Modified-Since), or
 * changes its Vary (the stored variants are keyed by the old Vary and the requests' values of the
 * new fields were never kept, so they cannot be re-keyed), the caller fetches again without
 * conditions (§4.3.3) and, for a Vary change, drops the URL's variants first. A HEAD
 * 200 updates each stored GET response that could have answered the request when its validators
 * and length agree; when they do not, the representation changed and the caller drops the URL.
 *
 * @module
 */
import type { HeaderList } from "../http/header_list.ts";
import {
  expiresAtMs,
  freshenFromHead,
  getHeader,
  mergeHeadersFrom304,
  parseVary,
  select304Targets,
  varyMatches,
} from "./semantics/mod.ts";
import type { Store, StoredMeta } from "./store/store.ts";
import { withoutCookies } from "./response_head.ts";

/** The new exchange whose fields update stored responses. */
export interface UpdateSource {
  /** The new response's fields as received. */
  fields: [string, string][];
  /** When its request was sent, ms since epoch. */
  requestTime: number;
  /** When it arrived, ms since epoch. */
  responseTime: number;
  /** Freshness options for the new `expiresAt`. */
  fresh: { shared: boolean; heuristicPercent: number; heuristicMaxS: number };
  /** The Vary a response is stored under, from its Vary field (trusted forwarding fields added). */
  varyWith?: (vary: string[] | "*") => string[] | "*";
}

/** What a 304 did: the revalidated response's new metadata, or why it must be fetched again. */
export type NotModifiedResult =
  | { kind: "updated"; meta: StoredMeta; updated: number }
  /** `not-selected`: the 304's validators do not select it (§4.3.4); `vary-changed`: its Vary changed. */
  | { kind: "refetch"; reason: "not-selected" | "vary-changed" };

/** The stored response `meta` with `headers` and the new exchange's times. */
function updatedMeta(meta: StoredMeta, headers: [string, string][], src: UpdateSource): StoredMeta {
  const m: StoredMeta = {
    ...meta,
    headers,
    requestTime: src.requestTime,
    responseTime: src.responseTime,
    expiresAt: 0,
  };
  m.expiresAt = expiresAtMs(m, src.fresh);
  return m;
}

/** Whether merged headers keep the Vary the response was stored under. */
function sameVary(meta: StoredMeta, merged: [string, string][], src: UpdateSource): boolean {
  const parsed = parseVary(getHeader(merged, "vary"));
  const v = src.varyWith ? src.varyWith(parsed) : parsed;
  return v !== "*" && v.join(",") === meta.vary.join(",");
}

/** Stored headers updated from a 304: Set-Cookie is never stored (served from storage to anyone). */
function merge304(headers: [string, string][], src: UpdateSource): [string, string][] {
  return withoutCookies(mergeHeadersFrom304(headers, src.fields, { responseTime: src.responseTime }));
}

/**
 * Applies a 304 that answered the revalidation of `old` (RFC 9111 §4.3.4).
 *
 * @param store where the URL's variants are
 * @param old the stored response that was revalidated
 * @param src the 304's fields and times
 * @returns `updated` with the revalidated response's new metadata, or `refetch`
 */
export async function applyNotModified(store: Store, old: StoredMeta, src: UpdateSource): Promise<NotModifiedResult> {
  const stored = await store.variants(old.primary);
  // The variant as stored now (it may have been replaced since the lookup).
  const current = stored.find((m) => m.variant === old.variant) ?? old;
  const others = stored.filter((m) => m.variant !== old.variant);
  const targets = select304Targets([current, ...others], src.fields, { validatedWith: current });
  if (!targets.includes(current)) {
    // A weak validator selects only the most recent match among the variants; the 304 still
    // answered the conditional request made with this one's validators.
    if (select304Targets([current], src.fields, { validatedWith: current }).length === 0) {
      return { kind: "refetch", reason: "not-selected" };
    }
    targets.push(current);
  }
  const merged = merge304(current.headers, src);
  if (!sameVary(current, merged, src)) return { kind: "refetch", reason: "vary-changed" };
  const meta = updatedMeta(current, merged, src);
  await store.updateMeta(meta);
  let updated = 1;
  for (const m of targets) {
    if (m === current) continue;
    const h = merge304(m.headers, src);
    if (sameVary(m, h, src)) {
      if (await store.updateMeta(updatedMeta(m, h, src))) updated++;
    } else {
      await store.delete(m.primary, m.variant); // keyed by a Vary the origin no longer sends
    }
  }
  return { kind: "updated", meta, updated };
}

/**
 * Applies a 200 answering an inbound HEAD to the stored GET responses that could have answered
 * the request (RFC 9111 §4.3.5). Other statuses change nothing.
 *
 * @param store where the URL's variants are
 * @param target the URL's primary key and the request's fields (for Vary)
 * @param src the HEAD response's status, fields and times
 * @returns how many were updated, and whether one turned out changed (the caller drops the URL)
 */
export async function applyHeadResponse(
  store: Store,
  target: { primary: string; reqHeaders: HeaderList },
  src: UpdateSource & { status: number },
): Promise<{ updated: number; changed: boolean }> {
  if (src.status !== 200) return { updated: 0, changed: false };
  let updated = 0;
  for (const meta of await store.variants(target.primary)) {
    if (meta.status !== 200 || !varyMatches(meta, target.reqHeaders)) continue;
    const d = freshenFromHead(meta, 200, src.fields, { responseTime: src.responseTime });
    if (d.action === "stale" || !sameVary(meta, d.headers, src)) return { updated, changed: true };
    if (await store.updateMeta(updatedMeta(meta, withoutCookies(d.headers), src))) updated++;
  }
  return { updated, changed: false };
}
