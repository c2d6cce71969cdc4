/**
 * Squid's access.log result and hierarchy codes, chosen the way Squid chooses them, so Squid log
 * analysers (calamaris, squidanalyzer, SARG) read webcache's `access.log` unchanged.
 *
 * Result codes (the part before `/status`):
 *
 * | code | when |
 * |---|---|
 * | `TCP_HIT` | a fresh copy read from a cache directory (disk) |
 * | `TCP_MEM_HIT` | a fresh copy held in memory |
 * | `TCP_IMS_HIT` | a conditional request answered 304 from a fresh copy (either tier) |
 * | `TCP_REFRESH_UNMODIFIED` / `TCP_REFRESH_MODIFIED` | revalidated: origin said 304 / sent a new object |
 * | `TCP_REFRESH_FAIL_OLD` | revalidation failed, the stale copy was served (stale-if-error) |
 * | `TCP_REFRESH_FAIL_ERR` | revalidation failed and the error was sent |
 *
 * Hierarchy codes (before `/peer`): `HIER_NONE` (no fetch: a hit or an error), `HIER_DIRECT`
 * (the origin), `SIBLING_HIT` / `PARENT_HIT` (ICP said HIT), `FIRST_PARENT_MISS` (every ICP
 * answer was a MISS, the first parent to answer fetched it), `CARP` (the peer owns the URL by
 * hashing, as with Squid's CARP), `FIRST_UP_PARENT` (a parent chosen without ICP).
 *
 * @module
 */

/** The Squid hierarchy codes webcache writes. */
export type HierarchyCode =
  | "HIER_NONE"
  | "HIER_DIRECT"
  | "SIBLING_HIT"
  | "PARENT_HIT"
  | "FIRST_PARENT_MISS"
  | "FIRST_UP_PARENT"
  | "CARP";

/**
 * The result code of a fresh hit: `TCP_HIT` when the object came off disk, `TCP_MEM_HIT` when
 * memory held it.
 *
 * @param obj the stored object served (its `tier`)
 * @returns the Squid code
 * @example
 * ```ts
 * hitCode({ tier: "disk" }); // "TCP_HIT"
 * ```
 */
export function hitCode(obj: { tier?: "memory" | "disk" }): "TCP_HIT" | "TCP_MEM_HIT" {
  return obj.tier === "disk" ? "TCP_HIT" : "TCP_MEM_HIT";
}

/**
 * The hierarchy code of a fetch from a peer.
 *
 * @param choice the peer choice: its type and, when the selector knows it, how it was chosen
 * @returns the explicit code, else `SIBLING_HIT` for a sibling and `FIRST_UP_PARENT` for a parent
 */
export function peerHierarchy(choice: { type: "sibling" | "parent"; hierarchy?: HierarchyCode }): HierarchyCode {
  return choice.hierarchy ?? (choice.type === "sibling" ? "SIBLING_HIT" : "FIRST_UP_PARENT");
}
