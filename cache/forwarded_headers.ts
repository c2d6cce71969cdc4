/**
 * Client-supplied forwarding fields (`X-Forwarded-Host`, `Forwarded`, `X-Original-URL`, … the
 * list is `FORWARDING_HEADERS` in `config/cache_schema.ts`): a client can claim with them a host,
 * scheme, URL or address an origin may believe and answer differently for, under a URL the cache
 * keys without them (cache poisoning). The cache removes them from every client request unless
 * `cache.trustForwardedHeaders` keeps them, and then they join the cache key as an implied `Vary`.
 *
 * `X-Forwarded-For` is the cache's own: the client address the cache saw, appended to the client's
 * list only when that list is trusted.
 *
 * @module
 */
import { FORWARDING_HEADERS } from "../config/cache_schema.ts";

const ALL: ReadonlySet<string> = new Set(FORWARDING_HEADERS);

/** Which client forwarding fields go to the origin, and which of them join the key. */
export class ForwardedHeaders {
  readonly #trusted: ReadonlySet<string>;
  readonly #trustXff: boolean;
  /** Kept fields that join the cache key (lower-case), in configuration order. */
  readonly keyed: readonly string[];

  /**
   * @param trusted lower-case names from `cache.trustForwardedHeaders`
   */
  constructor(trusted: readonly string[]) {
    this.#trusted = new Set(trusted);
    this.#trustXff = this.#trusted.has("x-forwarded-for");
    this.keyed = Object.freeze([...this.#trusted].filter((n) => n !== "x-forwarded-for"));
  }

  /**
   * Whether a client request field is removed before forwarding.
   *
   * @param name lower-case field name
   * @returns true for an untrusted forwarding field (and always for `x-forwarded-for`, which
   *   {@link xForwardedFor} rebuilds)
   */
  drops(name: string): boolean {
    if (ALL.has(name)) return name === "x-forwarded-for" || !this.#trusted.has(name);
    // CGI-style servers map `_` and `-` alike (X_Forwarded_Host becomes HTTP_X_FORWARDED_HOST):
    // underscore spellings are always dropped, trusted or not.
    return name.includes("_") && ALL.has(name.replaceAll("_", "-"));
  }

  /**
   * The `X-Forwarded-For` value to send.
   *
   * @param clientValue the client's own field, if any
   * @param client the client address the cache saw (or the PROXY protocol source)
   * @returns the client address, after the client's list when that is trusted
   */
  xForwardedFor(clientValue: string | null, client: string): string {
    return this.#trustXff && clientValue ? `${clientValue}, ${client}` : client;
  }

  /**
   * The Vary list of a response with the kept fields added (they are part of the key).
   *
   * @param vary the response's own Vary field names, or `*`
   * @returns the names to key variants by
   */
  varyWith(vary: string[] | "*"): string[] | "*" {
    if (vary === "*" || this.keyed.length === 0) return vary;
    const out = [...vary];
    for (const n of this.keyed) if (!out.includes(n)) out.push(n);
    return out;
  }
}
