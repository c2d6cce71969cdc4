/**
 * `webcache members [--admin ADDR:PORT] [--json] [--status STATE] [--role ROLE]`: lists the
 * cluster as a running node sees it, like `serf members`, by asking that node's admin endpoint
 * (`/members`). The Config column is each node's config version (`v` counter, then hash, see
 * `cluster/config_version.ts`); nodes whose hash differs from the asked node's are marked with `*`,
 * and a node that refused a newer version (`cluster.configSync`) is listed below the table with
 * the reason, marked `!`.
 *
 * The admin address comes from `--admin`, else `admin.listen` of `--config`, else
 * 127.0.0.1:9090; a bearer token (for addresses outside `admin.allow`) from
 * `WEBCACHE_ADMIN_TOKEN` or `admin.token`.
 *
 * Exit status: 0 listed, 1 the node could not be asked, 2 bad usage or config.
 *
 * @module
 */
import { Command } from "commander";
import type { MembersDocument } from "../cluster/mod.ts";
import { parseHostPort } from "../core/addr.ts";
import { printErr, printOut } from "../core/log.ts";
import { EXIT_CONFIG, loadOrExit } from "./_common.ts";

/**
 * Formats the `/members` document as a table: the asked node first, the others by name.
 *
 * @param doc the document from `/members`
 * @param self the asked node, when filtering removed it from `doc.members` (default the first)
 */
export function formatMembers(doc: MembersDocument, self = doc.members[0]): string {
  // Directors with director.ha: their role in the VIP group and, as MASTER, the VIPs they hold.
  const withHa = doc.members.some((m) => m.ha);
  const rows = [["Node", "Address", "Role", "Status", "Weight", "Service", ...(withHa ? ["HA (VIPs)"] : []), "Config"]];
  const others = doc.members.filter((m) => m !== self).sort((a, b) => a.name.localeCompare(b.name));
  const sorted = doc.members.includes(self) ? [self, ...others] : others;
  for (const m of sorted) {
    const ha = m.ha ? `${m.ha.role} ${m.ha.group}${m.ha.vips ? ` (${m.ha.vips})` : ""}` : "-";
    rows.push([
      m.name,
      m.addrs.gossip,
      m.role,
      m.state,
      String(m.weight),
      m.service ?? "-",
      ...(withHa ? [ha] : []),
      `v${m.configVersion ?? 0} ${m.configHash}` + (m.configDiffers ? " *" : "") + (m.configRefused ? " !" : ""),
    ]);
  }
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const lines = rows.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]))).join("  ").trimEnd());
  const refused = sorted.filter((m) => m.configRefused);
  if (sorted.some((m) => m.configDiffers) || refused.length) lines.push("");
  if (sorted.some((m) => m.configDiffers)) {
    lines.push(`* config differs from ${self.name}'s (v${doc.configVersion ?? 0} ${doc.configHash})`);
  }
  for (const m of refused) {
    const r = m.configRefused!;
    lines.push(`! ${m.name} refused config v${r.version} ${r.hash}: ${r.reason}`);
  }
  return lines.join("\n");
}

/** Builds the `members` subcommand. */
export function membersCommand(): Command {
  return new Command("members")
    .description("list the cluster members a running node knows (asks its admin endpoint)")
    .option("--admin <addr:port>", "admin endpoint of the node to ask (default admin.listen, or 127.0.0.1:9090)")
    .option("-c, --config <file>", "appliance.yaml to read admin.listen and admin.token from")
    .option("--json", "print the member list as JSON")
    .option("--status <state>", "only members in this state (alive, suspect, dead, left, draining)")
    .option("--role <role>", "only members of this role (director, cache)")
    .action(async (opts: { admin?: string; config?: string; json?: boolean; status?: string; role?: string }) => {
      const cfg = opts.config ? await loadOrExit(opts.config, []) : undefined;
      const addr = opts.admin ?? cfg?.admin.listen ?? "127.0.0.1:9090";
      let host: string;
      let port: number;
      try {
        ({ host, port } = parseHostPort(addr));
      } catch (e) {
        printErr(`--admin: ${(e as Error).message}`);
        Deno.exit(EXIT_CONFIG);
      }
      if (host === "0.0.0.0") host = "127.0.0.1";
      if (host === "::") host = "::1";
      const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}/members`;
      const token = Deno.env.get("WEBCACHE_ADMIN_TOKEN") ?? cfg?.admin.token;
      let doc: MembersDocument;
      try {
        const res = await fetch(url, {
          headers: token ? { authorization: `Bearer ${token}` } : {},
          signal: AbortSignal.timeout(5000),
        });
        if (!res.ok) {
          await res.body?.cancel();
          throw new Error(`HTTP ${res.status}${res.status === 404 ? " (the node runs no cluster membership)" : ""}`);
        }
        doc = await res.json();
      } catch (e) {
        printErr(`Cannot list members: asking ${url} failed: ${(e as Error).message}`);
        Deno.exit(1);
      }
      const [self, ...rest] = doc.members;
      const keep = (m: MembersDocument["members"][number]) =>
        (!opts.status || m.state === opts.status) && (!opts.role || m.role === opts.role);
      const filtered = { ...doc, members: [self, ...rest.filter(keep)] };
      if (!keep(self)) filtered.members = rest.filter(keep);
      if (opts.json) printOut(JSON.stringify(filtered, null, 2));
      else printOut(filtered.members.length ? formatMembers(filtered, self) : "no members match");
    });
}
