/**
 * `Via` (RFC 9110 §7.6.3) and Squid's `X-Cache` header values.
 *
 * @module
 */

/**
 * The `Via` member this node adds: `received-protocol SP received-by`. For HTTP the protocol
 * name is omitted (`1.1 cache1`); others keep it (`WS/1.0 cache1`).
 *
 * @param protocolVersion the protocol of the received message, e.g. `HTTP/1.1`, `1.1` or `HTTP/2`
 * @param node this node's name (pseudonym or host[:port]); should not reveal internal addresses
 * @returns e.g. `1.1 cache1`
 * @example
 * ```ts
 * viaValue("HTTP/1.1", "cache1"); // "1.1 cache1"
 * ```
 */
export function viaValue(protocolVersion: string, node: string): string {
  const p = protocolVersion.trim();
  const version = p.toUpperCase().startsWith("HTTP/") ? p.slice(5) : p;
  return `${version} ${node}`;
}

/**
 * Appends this node's member to an existing `Via` value.
 *
 * @param existing the received `Via`, or `null`
 * @param protocolVersion as for {@link viaValue}
 * @param node this node's name
 * @returns e.g. `1.0 fred, 1.1 cache1`
 */
export function appendVia(existing: string | null, protocolVersion: string, node: string): string {
  const own = viaValue(protocolVersion, node);
  return existing === null || existing.trim() === "" ? own : `${existing}, ${own}`;
}

/** Result words of Squid-style `X-Cache`. */
export type XCacheResult = "HIT" | "MISS" | "STALE" | "REVALIDATED";

/**
 * Squid-style `X-Cache` value: `HIT from cache1`.
 *
 * @param result what happened to the request
 * @param node this node's name
 */
export function xCacheValue(result: XCacheResult, node: string): string {
  return `${result} from ${node}`;
}
