/**
 * What a purge asks for, from an HTTP `PURGE` or the admin endpoint's `POST /purge`, turned into a
 * {@link Ban}; and {@link PurgeResult}, what the cluster answered.
 *
 * HTTP: `PURGE <url>` purges that URL (every variant). With `X-Purge-Type: prefix` it purges every
 * URL starting with it; with `X-Purge-Type: regex` and `X-Purge-Regex: <RE>`, every URL (the
 * normalised `http://host/path?query`) the JavaScript regular expression matches.
 *
 * @module
 */
import { type Ban, type BanKind, MAX_BAN_PATTERN_BYTES } from "../cluster/ban_codec.ts";
import { compileBan } from "./ban_list.ts";

/** What the cluster did with one purge. */
export interface PurgeResult {
  /** The ban's id. */
  id: string;
  /** url, prefix or regex. */
  kind: BanKind;
  /** The normalised URL, prefix or regular expression. */
  pattern: string;
  /** Objects deleted at once on every node together (url purges; prefix and regex act on lookup). */
  deleted: number;
  /** Other caches in the cluster it was sent to. */
  nodes: number;
  /** Of those, how many acknowledged. */
  acked: number;
  /** Names of the caches that did not acknowledge (they converge by ban list sync). */
  failed: string[];
}

/** A purge request checked: kind and pattern, or why it is refused (400). */
export type PurgeSpec = { kind: BanKind; pattern: string } | { error: string };

/**
 * Checks a purge's kind and pattern.
 *
 * @param kind `url`, `prefix` or `regex` (any case; empty means url)
 * @param pattern the normalised URL or prefix, or the regular expression
 */
export function purgeSpec(kind: string, pattern: string): PurgeSpec {
  const k = (kind || "url").trim().toLowerCase();
  if (k !== "url" && k !== "prefix" && k !== "regex") {
    return { error: `Unknown purge type "${kind.slice(0, 40)}" (use url, prefix or regex)` };
  }
  if (!pattern) return { error: `A ${k} purge needs a pattern` };
  if (new TextEncoder().encode(pattern).length > MAX_BAN_PATTERN_BYTES) {
    return { error: `The purge pattern exceeds ${MAX_BAN_PATTERN_BYTES} bytes` };
  }
  try {
    compileBan(k, pattern);
  } catch (e) {
    return { error: (e as Error).message };
  }
  return { kind: k, pattern };
}

/**
 * A new ban issued now by this node.
 *
 * @param spec kind and pattern
 * @param origin this node's name
 * @param now issue time, ms since the epoch
 */
export function newBan(spec: { kind: BanKind; pattern: string }, origin: string, now: number = Date.now()): Ban {
  const id = crypto.randomUUID().replaceAll("-", "");
  return { id, kind: spec.kind, pattern: spec.pattern, timeMs: now, origin: origin.slice(0, 200) };
}
