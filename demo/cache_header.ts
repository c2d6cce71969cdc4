/**
 * Reading which cache answered a response, and how, from the headers Squid-style caches add:
 *
 * ```
 * X-Cache: HIT from cache-2          (the sibling that held the object)
 * X-Cache: MISS from cache-1         (the cache the client talked to; added last)
 * Via: 1.1 cache-2 (webcache/0.1.0), 1.1 cache-1 (webcache/0.1.0)
 * ```
 *
 * The last `X-Cache` entry belongs to the cache that answered the client. A response that this
 * cache missed but an earlier entry shows as a HIT from another node was served by a sibling.
 *
 * @module
 */

/** How one response was served, as far as its headers tell. */
export interface CacheVerdict {
  /** Result word of the answering cache (`HIT`, `MISS`, `STALE`, `REVALIDATED`, ...), or `NONE`. */
  result: string;
  /** Name of the answering cache (from X-Cache, else the last Via entry), or `unknown`. */
  node: string;
  /** The sibling whose HIT served this cache's miss, if any. */
  sibling?: string;
}

/** One `X-Cache` entry. */
export interface XCacheEntry {
  result: string;
  node: string;
}

/**
 * Parses `X-Cache` header values (several headers or one comma-joined) in order.
 *
 * @param values header values as received
 * @returns the entries that parse; others are skipped
 * @example
 * ```ts
 * parseXCache(["HIT from c2", "MISS from c1"]); // [{result:"HIT",node:"c2"},{result:"MISS",node:"c1"}]
 * ```
 */
export function parseXCache(values: readonly string[]): XCacheEntry[] {
  const out: XCacheEntry[] = [];
  for (const v of values) {
    for (const part of v.split(",")) {
      const m = /^\s*([A-Z_]+)(?:\s+from\s+(\S+))?\s*$/i.exec(part);
      if (m) out.push({ result: m[1].toUpperCase(), node: m[2] ?? "unknown" });
    }
  }
  return out;
}

/**
 * Names the node of the last `Via` entry (`1.1 name (comment)` or `name` alone).
 *
 * @param values Via header values
 */
export function lastViaNode(values: readonly string[]): string | undefined {
  const parts = values.join(",").split(",").map((s) => s.replace(/\(.*?\)/g, "").trim()).filter(Boolean);
  const last = parts.at(-1);
  if (!last) return undefined;
  const words = last.split(/\s+/);
  return words.length >= 2 ? words[1] : words[0];
}

/**
 * Decides who answered a response and how.
 *
 * @param headers header lines, names lower-cased
 */
export function cacheVerdict(headers: readonly [string, string][]): CacheVerdict {
  const entries = parseXCache(headers.filter(([k]) => k === "x-cache").map(([, v]) => v));
  const last = entries.at(-1);
  const via = lastViaNode(headers.filter(([k]) => k === "via").map(([, v]) => v));
  const verdict: CacheVerdict = { result: last?.result ?? "NONE", node: last?.node ?? via ?? "unknown" };
  if (last && !last.result.includes("HIT")) {
    const sib = entries.slice(0, -1).reverse().find((e) => e.result.includes("HIT") && e.node !== last.node);
    if (sib) verdict.sibling = sib.node;
  }
  return verdict;
}
