/**
 * Heuristic freshness parameters chosen by URL: Squid's `refresh_pattern`.
 *
 * ```
 * refresh_pattern [-i] REGEX MIN PERCENT MAX        (Squid; MIN and MAX in minutes)
 * cache.refreshPatterns: [{ regex, minS, percent, maxS, ignoreCase }]   (here; seconds)
 * ```
 *
 * The rules are tried in order against the cache key (the normalised absolute URL, e.g.
 * `http://example.org/a.css?v=1`); the first whose regex matches anywhere in it gives the
 * parameters; when none matches, the default rule does (`cache.heuristicPercent`, 0 s,
 * `cache.heuristicMaxS`: the behaviour without patterns). They only matter for responses without
 * explicit freshness (no `max-age`, `s-maxage`, `Expires` or targeted field lifetime) whose
 * status allows heuristics (RFC 9111 §4.2.2):
 *
 * ```
 * lifetime = clamp(percent / 100 × (Date − Last-Modified), minS, maxS)    with Last-Modified
 *          = min(minS, maxS)                                              without
 * ```
 *
 * Squid's options that override explicit freshness (`override-expire`, `ignore-no-store`,
 * `ignore-reload`, …) are not offered: they break RFC 9111.
 *
 * @module
 */

/** One rule: URL pattern → heuristic parameters. */
export interface RefreshPattern {
  /** ECMAScript regular expression matched anywhere in the cache key. */
  readonly regex: string;
  /** Floor of a heuristic lifetime in seconds (Squid's MIN, in minutes there). */
  readonly minS: number;
  /** Heuristic lifetime as a percentage of (Date − Last-Modified). */
  readonly percent: number;
  /** Cap of a heuristic lifetime in seconds (Squid's MAX, in minutes there). */
  readonly maxS: number;
  /** Match case-insensitively (Squid's `-i`); default false. */
  readonly ignoreCase?: boolean;
}

/** The parameters of {@link freshnessLifetimeMs}'s heuristic for one URL. */
export interface HeuristicParams {
  /** Percentage of (Date − Last-Modified). */
  readonly heuristicPercent: number;
  /** Floor in seconds. */
  readonly heuristicMinS: number;
  /** Cap in seconds. */
  readonly heuristicMaxS: number;
}

/**
 * Compiles a rule's regex.
 *
 * @param p the rule
 * @returns the compiled expression
 * @throws {SyntaxError} when `p.regex` is not a valid regular expression
 */
export function compileRefreshPattern(p: Pick<RefreshPattern, "regex" | "ignoreCase">): RegExp {
  return new RegExp(p.regex, p.ignoreCase ? "i" : "");
}

/** First-match refresh rules; see the module doc. */
export class RefreshRules {
  readonly #rules: { re: RegExp; params: HeuristicParams }[];
  readonly #fallback: HeuristicParams;

  /**
   * Compiles the rules.
   *
   * @param patterns the rules in order
   * @param fallback the parameters when no rule matches
   * @throws {SyntaxError} when a regex is invalid (config validation reports it first)
   * @example
   * ```ts
   * const rules = new RefreshRules([{ regex: "\\.css$", minS: 60, percent: 20, maxS: 3600 }],
   *   { heuristicPercent: 10, heuristicMinS: 0, heuristicMaxS: 86400 });
   * rules.forUrl("http://example.org/a.css").heuristicMinS; // 60
   * ```
   */
  constructor(patterns: readonly RefreshPattern[], fallback: HeuristicParams) {
    this.#rules = patterns.map((p) => ({
      re: compileRefreshPattern(p),
      params: Object.freeze({ heuristicPercent: p.percent, heuristicMinS: p.minS, heuristicMaxS: p.maxS }),
    }));
    this.#fallback = Object.freeze({ ...fallback });
  }

  /**
   * The heuristic parameters for a URL: the first matching rule's, else the fallback.
   *
   * @param url the cache key (normalised absolute URL)
   * @returns frozen parameters (the same object for every URL a rule matches)
   */
  forUrl(url: string): HeuristicParams {
    for (const r of this.#rules) if (r.re.test(url)) return r.params;
    return this.#fallback;
  }
}
