/**
 * Choosing members for a role: the cache role's siblings (live caches other than itself) and the
 * director's real servers (live caches of a service). Pure functions over
 * {@link NodeRecord}s, so roles can call them in their `change` listener.
 *
 * @module
 */
import type { NodeRecord, NodeRole, NodeState } from "./node.ts";

/** Filter of {@link liveMembers}. */
export interface MemberFilter {
  /** Only this role. */
  role?: NodeRole;
  /** Only members whose record names this service (`cache.service`). */
  service?: string;
  /** Leave out this node id (usually the local node). */
  exclude?: string;
  /** States counted as live; default `alive` only (draining members take no new work). */
  states?: readonly NodeState[];
}

/**
 * The members that should get work, sorted by name for stable hash rings.
 *
 * @example
 * ```ts
 * const siblings = liveMembers(m.members(), { role: "cache", exclude: m.local.id });
 * ```
 */
export function liveMembers(records: readonly NodeRecord[], f: MemberFilter = {}): NodeRecord[] {
  const states = f.states ?? ["alive"];
  return records
    .filter((r) =>
      states.includes(r.state) && (f.role === undefined || r.role === f.role) &&
      (f.service === undefined || r.service === f.service) && r.id !== f.exclude
    )
    .sort((a, b) => a.name.localeCompare(b.name));
}
