/**
 * Reading a few counters out of Prometheus text exposition format (what `/metrics` serves), for
 * figures the roles count only as metrics (ICP queries sent, sibling hits).
 *
 * ```
 * # TYPE webcache_icp_queries_sent_total counter
 * webcache_icp_queries_sent_total{peer="127.0.0.1:3130"} 59
 * ```
 *
 * @module
 */

/** One sample line: metric name, labels, value. */
export interface PromSample {
  /** Metric name. */
  name: string;
  /** Label values by name. */
  labels: Record<string, string>;
  /** Sample value. */
  value: number;
}

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\d+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/**
 * Parses sample lines, skipping comments and lines that do not parse.
 *
 * @param text the exposition text
 */
export function parsePromText(text: string): PromSample[] {
  const out: PromSample[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = LINE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(LABEL)) labels[l[1]] = l[2].replace(/\\(.)/g, "$1");
    const value = Number(m[3]);
    if (Number.isFinite(value)) out.push({ name: m[1], labels, value });
  }
  return out;
}

/**
 * Sums the samples of one metric whose labels include `where`.
 *
 * @param samples parsed samples
 * @param name metric name
 * @param where required label values
 * @returns the sum, or undefined when no sample matched
 */
export function sumSamples(
  samples: readonly PromSample[],
  name: string,
  where: Record<string, string> = {},
): number | undefined {
  let found = false;
  let sum = 0;
  for (const s of samples) {
    if (s.name !== name) continue;
    if (Object.entries(where).some(([k, v]) => s.labels[k] !== v)) continue;
    found = true;
    sum += s.value;
  }
  return found ? sum : undefined;
}
