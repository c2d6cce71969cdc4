/**
 * Text rendering of a {@link ClusterStatus} for `webcache status`: a header line, the member
 * table (like `varnishstat`'s counters beside `serf members`), and one table per director service
 * in the layout of `ipvsadm -Ln --stats`. Pure: returns a string.
 *
 * @module
 */
import type { ClusterStatus, MemberStatus, ServiceRow } from "./cluster_status.ts";

/** Formats a byte count with binary units: `1.5 MiB`. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** Formats a ratio 0..1 as a percentage, `-` when null or undefined. */
export function formatPercent(r: number | null | undefined): string {
  return r === null || r === undefined ? "-" : `${(r * 100).toFixed(1)}%`;
}

/** Formats seconds as `3d4h`, `2h5m`, `4m10s` or `9s`. */
export function formatDuration(s: number | undefined): string {
  if (s === undefined) return "-";
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), sec = s % 60;
  if (d > 0) return `${d}d${h}h`;
  if (h > 0) return `${h}h${m}m`;
  if (m > 0) return `${m}m${sec}s`;
  return `${sec}s`;
}

function formatRate(r: number | undefined): string {
  return r === undefined ? "-" : r >= 100 ? r.toFixed(0) : r.toFixed(1);
}

/** Lays out rows as columns; numeric-looking cells are right-aligned. */
export function table(header: string[], rows: string[][], indent = ""): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const numeric = (s: string) => /^[-+]?[\d.,]+( ?[%A-Za-z/]+)?$|^-$/.test(s);
  const line = (cells: string[], isHeader: boolean) =>
    indent + cells.map((c, i) => {
      const right = !isHeader ? numeric(c) && i > 0 : rows.some((r) => numeric(r[i] ?? "")) && i > 0;
      return right ? c.padStart(widths[i]) : c.padEnd(widths[i]);
    }).join("  ").trimEnd();
  return [line(header, true), ...rows.map((r) => line(r, false))].join("\n");
}

function health(m: MemberStatus): string {
  if (!m.reachable) return m.state === "unknown" || m.state === "alive" ? "down" : `${m.state}!`;
  return m.state;
}

function memberRow(m: MemberStatus): string[] {
  const c = m.cache;
  return [
    m.name,
    m.role,
    health(m),
    m.admin || "-",
    formatDuration(m.uptimeS),
    c ? formatRate(c.requestRate) : m.director ? formatRate(m.director.connectionRate) : "-",
    c ? formatPercent(c.hitRatio) : "-",
    c ? String(c.objects) : "-",
    c ? formatBytes(c.bytes) : "-",
    c ? String(c.icpQueries) : "-",
    c ? String(c.siblingHits) : "-",
  ];
}

function serviceTable(director: string, s: ServiceRow): string {
  const persist = s.persistenceS > 0 ? ` persistent ${s.persistenceS}s (${s.persistenceEntries} templates)` : "";
  const head = `${director}: TCP  ${s.address} ${s.scheduler}${persist}  [${s.name}]`;
  const rows = s.servers.map((r) => [
    `-> ${r.address}${r.node ? ` (${r.node})` : ""}`,
    r.method,
    String(r.weight),
    r.health,
    String(r.activeConns),
    String(r.inactiveConns),
    String(r.connections),
    formatPercent(r.share),
    String(r.packetsIn),
    String(r.packetsOut),
    formatBytes(r.bytesIn),
    formatBytes(r.bytesOut),
  ]);
  return head + "\n" +
    table(
      [
        "-> RemoteAddress",
        "Fwd",
        "Weight",
        "Health",
        "ActConn",
        "InActConn",
        "Conns",
        "Split",
        "InPkts",
        "OutPkts",
        "InBytes",
        "OutBytes",
      ],
      rows,
      "  ",
    );
}

/**
 * Renders the whole status for a terminal.
 *
 * @param doc the aggregated document
 * @returns lines joined by `\n`, no trailing newline
 */
export function renderClusterStatus(doc: ClusterStatus): string {
  const t = doc.totals;
  const out: string[] = [];
  const rate = t.requestRate === undefined ? "" : `  ${formatRate(t.requestRate)} req/s`;
  const recent = t.recentHitRatio === undefined ? "" : ` (recent ${formatPercent(t.recentHitRatio)})`;
  out.push(
    `webcache cluster at ${doc.at.slice(0, 19).replace("T", " ")}Z, asked ${doc.askedNode || "?"}: ` +
      `${t.members} members (${t.healthy} healthy), ${t.directors} directors, ${t.caches} caches`,
  );
  out.push(
    `array: ${t.requests} requests${rate}, hit ratio ${formatPercent(t.hitRatio)}${recent}, ` +
      `${t.objects} objects ${formatBytes(t.bytes)}, ICP queries ${t.icpQueries}, sibling hits ${t.siblingHits}`,
  );
  out.push("");
  out.push(table(
    ["NAME", "ROLE", "HEALTH", "ADMIN", "UP", "REQ/S", "HIT%", "OBJECTS", "STORED", "ICP-Q", "SIB-HITS"],
    doc.members.map(memberRow),
  ));
  const problems = doc.members.filter((m) => m.error);
  if (problems.length) {
    out.push("");
    for (const m of problems) out.push(`! ${m.name}: ${m.error}`);
  }
  for (const m of doc.members) {
    for (const s of m.director?.services ?? []) {
      out.push("");
      out.push(serviceTable(m.name, s));
    }
  }
  if (doc.topUrls.length) {
    out.push("");
    out.push(table(["TOP URL", "REQUESTS"], doc.topUrls.map((u) => [u.url, String(u.requests)])));
  }
  return out.join("\n");
}
