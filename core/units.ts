/**
 * Units in config and on the command line: byte sizes (`512MiB`, `1GiB`, `10MB`) and durations
 * (`500ms`, `30s`, `5m`). Pure functions.
 *
 * @module
 */

const SIZE_UNITS: Record<string, number> = {
  "": 1,
  b: 1,
  k: 1024,
  kb: 1000,
  kib: 1024,
  m: 1024 ** 2,
  mb: 1000 ** 2,
  mib: 1024 ** 2,
  g: 1024 ** 3,
  gb: 1000 ** 3,
  gib: 1024 ** 3,
  t: 1024 ** 4,
  tb: 1000 ** 4,
  tib: 1024 ** 4,
};

/**
 * Parses a byte size: a number with an optional unit (B, KB, KiB, MB, MiB, GB, GiB, TB, TiB; K/M/G
 * mean binary units as in Squid). Numbers pass through.
 *
 * @returns the size in bytes
 * @throws {SyntaxError} when the text is not a size
 * @example
 * ```ts
 * parseSize("1GiB"); // 1073741824
 * ```
 */
export function parseSize(s: string | number): number {
  if (typeof s === "number") {
    if (!Number.isFinite(s) || s < 0) throw new RangeError(`${s} is not a byte size`);
    return Math.floor(s);
  }
  const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(s);
  const mult = m ? SIZE_UNITS[m[2].toLowerCase()] : undefined;
  if (!m || mult === undefined) throw new SyntaxError(`"${s}" is not a size such as 512MiB or 1GiB`);
  return Math.floor(Number(m[1]) * mult);
}

/** Formats bytes with a binary unit, e.g. `1.5 GiB`. */
export function formatSize(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${n} B` : `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/**
 * Parses a duration such as `500ms`, `30s`, `5m`, `1h`; a bare number is in `bareUnit`.
 *
 * @returns milliseconds
 * @throws {SyntaxError} when the text is not a duration
 */
export function parseDurationMs(s: string | number, bareUnit: "ms" | "s" = "ms"): number {
  if (typeof s === "number") return s * DURATION_UNITS[bareUnit];
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$/.exec(s);
  if (!m) throw new SyntaxError(`"${s}" is not a duration such as 500ms, 30s or 5m`);
  return Number(m[1]) * DURATION_UNITS[m[2] ?? bareUnit];
}
