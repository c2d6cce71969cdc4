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
 * webcache replaces the sibling's `X-Cache` with its own, so for it a miss whose `Via` names
 * another proxy before the answering cache was fetched through that proxy (in the demo: a
 * sibling's hit, since siblings are asked with `only-if-cached`):
 *
 * ```
 * Via: 1.1 cache-2, 1.1 cache-3
 * X-Cache: MISS from cache-3        -> answered by cache-3, served by sibling cache-2
 * ```
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
  /** Result word, upper-cased (`HIT`, `MISS`, ...). */
  result: string;
  /** Node that added the entry, or `unknown`. */
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
 * Names the proxies in `Via`, in order (`1.1 name (comment)` or `name` alone per entry).
 *
 * @param values Via header values
 */
export function viaNodes(values: readonly string[]): string[] {
  const parts = values.join(",").split(",").map((s) => s.replace(/\(.*?\)/g, "").trim()).filter(Boolean);
  return parts.map((p) => {
    const words = p.split(/\s+/);
    return words.length >= 2 ? words[1] : words[0];
  });
}

/**
 * Names the node of the last `Via` entry.
 *
 * @param values Via header values
 */
export function lastViaNode(values: readonly string[]): string | undefined {
  return viaNodes(values).at(-1);
}

/**
 * Decides who answered a response and how.
 *
 * @param headers header lines, names lower-cased
 */
export function cacheVerdict(headers: readonly [string, string][]): CacheVerdict {
  const entries = parseXCache(headers.filter(([k]) => k === "x-cache").map(([, v]) => v));
  const last = entries.at(-1);
  const vias = viaNodes(headers.filter(([k]) => k === "via").map(([, v]) => v));
  const verdict: CacheVerdict = { result: last?.result ?? "NONE", node: last?.node ?? vias.at(-1) ?? "unknown" };
  if (last && !last.result.includes("HIT")) {
    const sib = entries.slice(0, -1).reverse().find((e) => e.result.includes("HIT") && e.node !== last.node);
    if (sib) verdict.sibling = sib.node;
    else if (vias.length >= 2 && vias.at(-1) === last.node && vias.at(-2) !== last.node) verdict.sibling = vias.at(-2);
  }
  return verdict;
}
