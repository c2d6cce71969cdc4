/**
 * Where the aggregator finds the cluster: gossip records (`NodeRecord`, from a node's `/members`)
 * or a plain list of admin addresses. Both become {@link MemberRef}s.
 *
 * @module
 */
import type { ConfigRefusal, NodeRecord, NodeRole, NodeState } from "../cluster/node.ts";

/** The config version a member gossips (`cluster/config_version.ts`) and a refusal, if any. */
export interface MemberConfig {
  /** Version counter (0: never published). */
  version: number;
  /** Hash of the cluster-wide part. */
  hash: string;
  /** The newest version it refused, and why. */
  refused?: ConfigRefusal;
}

/** A member to ask for its `/status`. */
export interface MemberRef {
  /** Stable id (gossip id, or the admin address). */
  id: string;
  /** Node name (the admin address until its /status names it). */
  name: string;
  /** Role, `unknown` until its /status says. */
  role: NodeRole | "unknown";
  /** Gossip state, `unknown` without gossip. */
  state: NodeState | "unknown";
  /** Admin endpoint `HOST:PORT`, empty when the member advertises none. */
  admin: string;
  /** Cache: its HTTP `HOST:PORT`, to name it in directors' server tables. */
  http?: string;
  /** Why its admin endpoint cannot be asked from here, when it cannot. */
  unreachableBecause?: string;
  /** Its config version, from gossip. */
  config?: MemberConfig;
}

/** Lists the members to ask; called on every collection. */
export type MemberSource = () => Promise<MemberRef[]>;

const WILDCARD = new Set(["0.0.0.0", "::", "[::]"]);

function hostOf(hostPort: string): string {
  const i = hostPort.lastIndexOf(":");
  return i > 0 ? hostPort.slice(0, i) : hostPort;
}

function portOf(hostPort: string): string {
  const i = hostPort.lastIndexOf(":");
  return i > 0 ? hostPort.slice(i + 1) : "";
}

function isLoopback(host: string): boolean {
  return host.startsWith("127.") || host === "::1" || host === "[::1]" || host === "localhost";
}

/**
 * Turns gossip records into member refs. An admin address bound to the wildcard is reached at
 * the host of the member's gossip address. Another node's admin endpoint on loopback (the default
 * `admin.listen`) cannot be reached from here: such a member is listed with the reason.
 *
 * @param records membership records as `/members` returns them
 * @param opts.self id of the node that listed them; opts.selfAdmin the address it was reached at
 */
export function memberRefsFromRecords(
  records: readonly NodeRecord[],
  opts: { self?: string; selfAdmin?: string } = {},
): MemberRef[] {
  return records.map((r) => {
    let admin = r.addrs?.admin ?? "";
    const gossipHost = r.addrs?.gossip ? hostOf(r.addrs.gossip) : "127.0.0.1";
    let unreachableBecause: string | undefined;
    if (r.id === opts.self && opts.selfAdmin) {
      admin = opts.selfAdmin;
    } else if (admin && WILDCARD.has(hostOf(admin))) {
      admin = `${WILDCARD.has(gossipHost) ? "127.0.0.1" : gossipHost}:${portOf(admin)}`;
    } else if (admin && isLoopback(hostOf(admin)) && !isLoopback(gossipHost) && !WILDCARD.has(gossipHost)) {
      unreachableBecause = `its admin endpoint listens on ${admin} only (admin.listen)`;
    }
    const ref: MemberRef = { id: r.id, name: r.name, role: r.role, state: r.state, admin, http: r.addrs?.http };
    if (unreachableBecause) ref.unreachableBecause = unreachableBecause;
    if (typeof r.configHash === "string") {
      ref.config = { version: r.configVersion ?? 0, hash: r.configHash };
      if (r.configRefused) ref.config.refused = r.configRefused;
    }
    return ref;
  });
}

/**
 * Member refs for a plain list of admin addresses (no gossip): names and roles come from each
 * node's `/status` once asked.
 *
 * @param addrs `HOST:PORT` admin addresses
 * @throws {TypeError} for an address without a port
 */
export function memberRefsFromAddresses(addrs: readonly string[]): MemberRef[] {
  return addrs.map((a) => {
    if (!/^.+:\d{1,5}$/.test(a)) throw new TypeError(`Cannot use admin address "${a}": expected HOST:PORT`);
    return { id: a, name: a, role: "unknown", state: "unknown", admin: a };
  });
}

/** A source that always returns the same refs (tests, the demo, `--member` lists). */
export function staticMembers(refs: readonly MemberRef[]): MemberSource {
  return () => Promise.resolve(refs.map((r) => ({ ...r })));
}

function isRecordList(v: unknown): v is NodeRecord[] {
  return Array.isArray(v) && v.every((r) => typeof r === "object" && r !== null && "id" in r && "role" in r);
}

/**
 * A source that asks a node's admin endpoint for `/members` (registered by the cluster module).
 * A node without membership (404) is a cluster of one: itself.
 *
 * @param admin `HOST:PORT` of the node to ask
 * @param opts.token bearer token for nodes outside admin.allow; opts.timeoutMs per request (default 2000)
 */
export function adminMembers(admin: string, opts: { token?: string; timeoutMs?: number } = {}): MemberSource {
  return async () => {
    const headers: HeadersInit = opts.token ? { authorization: `Bearer ${opts.token}` } : {};
    const res = await fetch(`http://${admin}/members`, {
      headers,
      signal: AbortSignal.timeout(opts.timeoutMs ?? 2000),
    });
    if (res.status === 404) {
      await res.body?.cancel();
      return memberRefsFromAddresses([admin]);
    }
    if (!res.ok) {
      await res.body?.cancel();
      throw new Error(`Cannot list members from ${admin}: HTTP ${res.status}`);
    }
    const body: unknown = await res.json();
    const list = isRecordList(body) ? body : (body as { members?: unknown })?.members;
    if (!isRecordList(list)) throw new TypeError(`Cannot list members from ${admin}: /members is not a member list`);
    const self = (body as { self?: unknown })?.self;
    return memberRefsFromRecords(list, { self: typeof self === "string" ? self : undefined, selfAdmin: admin });
  };
}
