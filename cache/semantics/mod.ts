/**
 * HTTP caching semantics as pure functions: RFC 9111 (HTTP Caching), the caching-related parts
 * of RFC 9110 (conditional requests, ranges, dates, hop-by-hop fields, `Via`), RFC 5861
 * (`stale-while-revalidate`, `stale-if-error`), RFC 8246 (`immutable`) and RFC 9213 (targeted
 * cache control such as `CDN-Cache-Control`, via each rule's `targetedFields` option).
 *
 * Nothing here does I/O, reads a clock or logs: times come in as `now`/`requestTime`/
 * `responseTime` in milliseconds since the epoch. Header inputs are a Web `Headers` (anything
 * with `get(name)`) or a header list `[name, value][]` as in `StoredMeta.headers`; header outputs
 * are lists with lower-case names.
 *
 * How the request state machine uses it, in order:
 *
 * | step                               | functions |
 * |------------------------------------|-----------|
 * | forward a request / response       | {@link stripHopByHop}, {@link appendVia} |
 * | find the object                    | {@link cacheKey}, {@link varyMatches} (or {@link varyKey}), {@link normalizeAcceptEncoding} |
 * | decide whether the hit may be used | {@link evaluateFreshness} (→ serve, serve-stale, serve-stale-revalidate, revalidate, miss-only-if-cached) |
 * | serve it                           | {@link evaluateClientConditional} (304/412), {@link notModifiedHeaders}, {@link parseRange}, {@link contentRangeHeader}, {@link currentAgeMs}, {@link ageHeaderValue}, {@link formatHttpDate}, {@link xCacheValue} |
 * | revalidate                         | {@link conditionalHeadersFor}, then {@link select304Targets} and {@link mergeHeadersFrom304} on a 304; {@link freshenFromHead} after an inbound HEAD |
 * | relay an origin/peer response      | `Age: ageHeaderValue(correctedInitialAgeMs(...))` — never `0` when upstream sent an `Age` (a parent cache's copy is not new) |
 * | origin failed                      | {@link staleIfErrorAllowed} (errors: no response, or 500, 502, 503, 504 — not 501) |
 * | store the response                 | {@link isStorable} (and its `stripFields`), {@link parseVary}, {@link varyKey}, {@link expiresAtMs}; a 206 part: {@link parseContentRange} and `isStorable` with `partial` |
 * | after unsafe methods               | {@link invalidationTargets} |
 *
 * @module
 */

export * from "./header_getter.ts";
export * from "./http_date.ts";
export * from "./cache_control.ts";
export * from "./targeted_cache_control.ts";
export * from "./freshness_lifetime.ts";
export * from "./refresh_rules.ts";
export * from "./current_age.ts";
export * from "./evaluate_freshness.ts";
export * from "./expires_at.ts";
export * from "./is_storable.ts";
export * from "./vary.ts";
export * from "./cache_key.ts";
export * from "./normalize_url.ts";
export * from "./entity_tag.ts";
export * from "./conditional_request.ts";
export * from "./merge_headers_from_304.ts";
export * from "./freshen_from_head.ts";
export * from "./range.ts";
export * from "./content_range.ts";
export * from "./hop_by_hop.ts";
export * from "./via.ts";
export * from "./invalidation_targets.ts";
