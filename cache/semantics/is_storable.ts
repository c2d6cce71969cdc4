/**
 * Whether a response may be stored (RFC 9111 §3, §3.5, §5.2.2), with this appliance's choices.
 *
 * A response is stored when all of these hold (checked in this order; the first failure is the
 * `reason`):
 *
 * | reason                | rule |
 * |-----------------------|------|
 * | `method`              | the request method is GET (HEAD answers are never stored; a HEAD is served from a stored GET; other cacheable methods such as POST are not stored) |
 * | `status`              | the status is final and one we understand: not 1xx, not 304 (it updates a stored response instead), and 206 only with `partial` (the caller parsed a single `Content-Range` it can store; RFC 9111 §3.3 stores it "as if it were an incomplete 200") |
 * | `must-understand`     | `must-understand` is present and the status is not one we understand (§5.2.2.3); when it is understood, `no-store` is ignored as §5.2.2.3 asks |
 * | `request-no-store`    | request `no-store` (§5.2.1.5) |
 * | `no-store`            | response `no-store` (§5.2.2.5) |
 * | `private`             | unqualified `private` in a shared cache (§5.2.2.7) |
 * | `authorization`       | shared cache, request had `Authorization`, and the response lacks `public`, `s-maxage` and `must-revalidate` (§3.5) |
 * | `vary-star`           | `Vary: *`: it can never match a later request (§4.1), so storing it only wastes space |
 * | `set-cookie`          | shared cache, `Set-Cookie` present, policy `pass` (default) and the response neither names `set-cookie` in `private=`/`no-cache=` nor is `public`/`s-maxage` — as Varnish's builtin VCL (hit-for-pass) and most CDNs do, to never hand one user's cookie to another |
 * | `no-freshness`        | none of: `public`, `private` (private cache only), `max-age`, `s-maxage` (shared), `Expires`, or a heuristically cacheable status (§3 last bullet) |
 * | `useless`             | with `requireUseful` (default): there is no validator (ETag, Last-Modified) and either unqualified `no-cache` or a freshness lifetime of 0 without a `stale-while-revalidate`/`stale-if-error` window, so every reuse would be a full refetch |
 *
 * Response directives come from the first usable targeted field of `targetedFields` (RFC 9213,
 * e.g. `CDN-Cache-Control`; `Expires` is then ignored), else from `Cache-Control`: a targeted
 * `no-store` or `private` refuses a response `Cache-Control` would let in, and a targeted
 * `max-age` stores one that `Cache-Control: no-store` keeps out of other caches.
 *
 * When storable, `stripFields` lists header fields to remove before storing: the fields named by
 * a qualified `private="..."` (shared cache, §5.2.2.7) or `no-cache="..."` (§5.2.2.4: they must
 * not be sent from cache without revalidation; we never send them from cache at all), plus
 * `set-cookie` under the `strip` policy.
 *
 * @module
 */

import { parseCacheControl } from "./cache_control.ts";
import { freshnessLifetimeMs, type FreshnessOptions, HEURISTICALLY_CACHEABLE_STATUSES } from "./freshness_lifetime.ts";
import { getHeader, type HeaderInput } from "./header_getter.ts";
import { responseCacheControl } from "./targeted_cache_control.ts";

/**
 * Status codes whose semantics this cache understands (RFC 9110 §15), for `must-understand`.
 * 304 is understood but updates a stored response instead of being stored.
 */
export const UNDERSTOOD_STATUSES: ReadonlySet<number> = new Set([
  200,
  201,
  202,
  203,
  204,
  205,
  300,
  301,
  302,
  303,
  307,
  308,
  400,
  401,
  403,
  404,
  405,
  406,
  407,
  408,
  409,
  410,
  411,
  412,
  413,
  414,
  415,
  416,
  417,
  421,
  422,
  426,
  500,
  501,
  502,
  503,
  504,
  505,
]);

/** How responses carrying `Set-Cookie` are treated by a shared cache. */
export type SetCookiePolicy =
  /** Not stored unless explicitly marked shareable (`public`, `s-maxage`) or the cookie is excluded by `private=`/`no-cache=`. */
  | "pass"
  /** Stored without their `Set-Cookie` fields. */
  | "strip"
  /** Stored as they are, cookie included (RFC 9111 allows it; dangerous for sessions). */
  | "store";

/** Options of {@link isStorable}. */
export interface StorableOptions {
  /** True for a shared cache (this appliance: always true). */
  shared: boolean;
  /** Statuses cacheable without explicit freshness; default `HEURISTICALLY_CACHEABLE_STATUSES`. */
  heuristicStatuses?: ReadonlySet<number>;
  /** `Set-Cookie` handling in a shared cache; default `pass`. */
  setCookie?: SetCookiePolicy;
  /** Refuse responses that could never be reused without a full refetch (see module doc); default true. */
  requireUseful?: boolean;
  /** Heuristic parameters (used by `requireUseful`). */
  heuristicPercent?: number;
  /** Cap of heuristic lifetimes in seconds (used by `requireUseful`). */
  heuristicMaxS?: number;
  /** Floor of heuristic lifetimes in seconds (used by `requireUseful`). */
  heuristicMinS?: number;
  /** Targeted cache-control fields in precedence order (RFC 9213); default none. */
  targetedFields?: readonly string[];
  /** A 206 may be stored: the caller keeps parts (single range, known length); default false. */
  partial?: boolean;
}

/** Result of {@link isStorable}. */
export interface StorableDecision {
  /** True when the response may be stored. */
  storable: boolean;
  /** `ok` or the first rule that failed (see the module doc table). */
  reason: string;
  /** Lower-case header names to remove before storing (empty when none). */
  stripFields: string[];
}

/**
 * Decides whether a response may be stored (see the module doc for the rules and reasons).
 *
 * @param req the request method and header fields
 * @param res the response status and header fields
 * @param opts shared cache, heuristic statuses and the `Set-Cookie` policy
 * @returns whether to store, why not, and which fields to strip first
 * @example
 * ```ts
 * isStorable({ method: "GET", headers: [] }, { status: 200, headers: [["cache-control", "private"]] }, { shared: true });
 * // { storable: false, reason: "private", stripFields: [] }
 * ```
 */
export function isStorable(
  req: { method: string; headers: HeaderInput },
  res: { status: number; headers: HeaderInput },
  opts: StorableOptions,
): StorableDecision {
  const no = (reason: string): StorableDecision => ({ storable: false, reason, stripFields: [] });
  if (req.method !== "GET") return no("method");
  const status = res.status;
  if (status < 200 || status > 599 || (status === 206 && !opts.partial) || status === 304) return no("status");
  const policy = responseCacheControl(res.headers, opts.targetedFields);
  const cc = policy.cc;
  const understood = UNDERSTOOD_STATUSES.has(status);
  if (cc.mustUnderstand && !understood) return no("must-understand");
  const reqCc = parseCacheControl(getHeader(req.headers, "cache-control"));
  if (reqCc.noStore) return no("request-no-store");
  if (cc.noStore && !(cc.mustUnderstand && understood)) return no("no-store");
  if (opts.shared && cc.private && cc.privateFields === undefined) return no("private");
  if (
    opts.shared && getHeader(req.headers, "authorization") !== null && !cc.public && cc.sMaxAge === undefined &&
    !cc.mustRevalidate
  ) {
    return no("authorization");
  }
  const vary = getHeader(res.headers, "vary");
  if (vary !== null && vary.split(",").some((v) => v.trim() === "*")) return no("vary-star");

  const strip = new Set<string>();
  if (opts.shared) { for (const f of cc.privateFields ?? []) strip.add(f); }
  for (const f of cc.noCacheFields ?? []) strip.add(f);
  if (opts.shared && getHeader(res.headers, "set-cookie") !== null && !strip.has("set-cookie")) {
    const policy = opts.setCookie ?? "pass";
    if (policy === "strip") strip.add("set-cookie");
    else if (policy === "pass" && !cc.public && cc.sMaxAge === undefined) return no("set-cookie");
  }

  const heuristicStatuses = opts.heuristicStatuses ?? HEURISTICALLY_CACHEABLE_STATUSES;
  const explicit = cc.public || (!opts.shared && cc.private) || cc.maxAge !== undefined ||
    (opts.shared && cc.sMaxAge !== undefined) || (policy.useExpires && getHeader(res.headers, "expires") !== null);
  if (!explicit && !heuristicStatuses.has(status)) return no("no-freshness");

  if (opts.requireUseful ?? true) {
    const lifeOpts: FreshnessOptions = {
      shared: opts.shared,
      heuristicPercent: opts.heuristicPercent,
      heuristicMaxS: opts.heuristicMaxS,
      heuristicMinS: opts.heuristicMinS,
      heuristicStatuses,
      responseTime: 0,
      status,
      cacheControl: policy,
    };
    const hasValidator = getHeader(res.headers, "etag") !== null || getHeader(res.headers, "last-modified") !== null;
    const alwaysRevalidate = cc.noCache && cc.noCacheFields === undefined;
    if (
      !hasValidator && (alwaysRevalidate ||
        (!cc.staleWhileRevalidate && !cc.staleIfError && freshnessLifetimeMs(res.headers, lifeOpts).lifetimeMs <= 0))
    ) {
      return no("useless");
    }
  }
  return { storable: true, reason: "ok", stripFields: [...strip] };
}
