/**
 * The dashboard's routes on an {@link AdminServer}:
 *
 * | path              | what                                                             |
 * |-------------------|------------------------------------------------------------------|
 * | `/`, `/dashboard` | the self-contained web page ({@link DASHBOARD_HTML})             |
 * | `/cluster/status` | JSON {@link ClusterStatus} of the whole cluster; `?history=1`    |
 * |                   | adds the rate/hit-ratio history the charts draw                  |
 *
 * The node aggregates: it lists the members (from the membership module, or its own `/members`
 * route) and asks each member's `/status`, sending the shared `admin.token`. The AdminServer's
 * access control covers `/cluster/status` like every other route; the page itself is static and
 * public (no data in it), and takes the token from its URL fragment (`/dashboard#token=…`), which
 * the browser never sends to the server.
 *
 * @module
 */
import { ClusterAggregator } from "../status/aggregator.ts";
import type { ClusterStatus } from "../status/cluster_status.ts";
import { CLUSTER_STATUS_PATH } from "../status/client.ts";
import { adminMembers, type MemberSource } from "../status/members.ts";
import { DASHBOARD_HTML } from "./dashboard_page.ts";
import type { AdminServer } from "./server.ts";

/** Options of {@link registerDashboard}. */
export interface DashboardOptions {
  /** Lists the cluster's members; default: this node's own `/members` (or itself alone). */
  members?: MemberSource;
  /** admin.token, sent to the other members' admin endpoints. */
  token?: string;
  /** This node's name, shown as the node that was asked. */
  node: string;
}

/**
 * Registers `/`, `/dashboard` and `/cluster/status` on an admin server.
 *
 * @param admin the node's admin server (started or not)
 * @param opts member source, token and node name
 * @returns the aggregator, whose history the page draws
 * @example
 * ```ts
 * registerDashboard(admin, { node: cfg.cluster.nodeName ?? "cache-1", token: cfg.admin.token });
 * ```
 */
export function registerDashboard(admin: AdminServer, opts: DashboardOptions): ClusterAggregator {
  const self = () => {
    const a = admin.addr;
    const host = a.hostname === "0.0.0.0" ? "127.0.0.1" : a.hostname === "::" ? "[::1]" : a.hostname;
    return `${host.includes(":") && !host.startsWith("[") ? `[${host}]` : host}:${a.port}`;
  };
  const members: MemberSource = opts.members ?? (() => adminMembers(self(), { token: opts.token })());
  const aggregator = new ClusterAggregator({ members, token: opts.token, askedNode: opts.node });
  const page = () =>
    new Response(DASHBOARD_HTML, {
      headers: {
        "content-type": "text/html; charset=utf-8",
        "cache-control": "no-store",
        // Everything is inline; nothing may be loaded from elsewhere.
        "content-security-policy":
          "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'self'",
        "x-frame-options": "DENY",
      },
    });
  // The page holds no data (it fetches /cluster/status with the token from its #fragment), so it is
  // served to anyone who reaches the endpoint; the data route keeps the endpoint's access control.
  admin.route("/", page, { public: true });
  admin.route("/dashboard", page, { public: true });
  admin.route(CLUSTER_STATUS_PATH, async (req) => {
    const history = new URL(req.url).searchParams.get("history") === "1";
    let doc: ClusterStatus;
    try {
      doc = await aggregator.collect({ history });
    } catch (e) {
      return Response.json({ error: `Cannot list cluster members: ${(e as Error).message}` }, { status: 502 });
    }
    return Response.json(doc, { headers: { "cache-control": "no-store" } });
  });
  return aggregator;
}
