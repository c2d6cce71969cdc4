/**
 * Fake cluster nodes for tests of the aggregation: real AdminServers on loopback whose `/status`
 * sections carry counters the test sets, and an optional `/members` route. Private to `status/`
 * and its tests.
 *
 * @module
 */
import { AdminServer } from "../admin/server.ts";
import type { NodeRecord, NodeRole, NodeState } from "../cluster/node.ts";

/** A fake node; change `section` between collections, then `stop()`. */
export interface FakeNode {
  /** Its admin server. */
  admin: AdminServer;
  /** `127.0.0.1:PORT` of its admin endpoint. */
  addr: string;
  /** Node name. */
  name: string;
  /** Role reported in /status. */
  role: NodeRole;
  /** The section reported under `cache` or `director` in /status. */
  section: Record<string, unknown>;
  /** Extra top-level sections (e.g. `icp`). */
  extra: Record<string, unknown>;
  /** Stops its admin server. */
  stop(): Promise<void>;
}

/**
 * Starts a fake node on an ephemeral loopback port.
 *
 * @param name node name; role its role; opts.allow/token the admin access control
 */
export function startFakeNode(
  name: string,
  role: NodeRole,
  opts: { allow?: string[]; token?: string; section?: Record<string, unknown>; extra?: Record<string, unknown> } = {},
): FakeNode {
  const admin = new AdminServer({
    hostname: "127.0.0.1",
    port: 0,
    allow: opts.allow ?? ["127.0.0.0/8"],
    token: opts.token,
    node: name,
    role,
  });
  const node: FakeNode = {
    admin,
    addr: "",
    name,
    role,
    section: opts.section ?? {},
    extra: opts.extra ?? {},
    stop: () => admin.stop(),
  };
  admin.status(role, () => node.section);
  for (const key of Object.keys(node.extra)) admin.status(key, () => node.extra[key]);
  admin.start();
  node.addr = `127.0.0.1:${admin.addr.port}`;
  return node;
}

/** The gossip record a fake node would advertise. */
export function recordOf(node: FakeNode, state: NodeState = "alive"): NodeRecord {
  return {
    id: `id-${node.name}`,
    name: node.name,
    role: node.role,
    addrs: { gossip: "127.0.0.1:7946", admin: node.addr },
    weight: 1,
    state,
    configHash: "0123456789abcdef",
    incarnation: 1,
  };
}

/** Registers `/members` on `node` returning the given records. */
export function serveMembers(node: FakeNode, records: () => NodeRecord[]): void {
  node.admin.route("/members", () => Response.json(records()));
}
