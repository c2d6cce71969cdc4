/**
 * Structured logging: one JSON object per line on stderr, with a named logger per component.
 *
 * Each component (`icp`, `lb.health`, `cache.store`, ...) gets its own logger whose level can be
 * set on its own, like Squid's debug sections. A component's level is found by the longest
 * configured prefix: with `{ "lb": "debug" }`, `lb.health` logs at debug too.
 *
 * Line format (stable field names, for log shippers):
 *
 * ```json
 * {"ts":"2026-11-26T13:40:00.123Z","level":"info","component":"icp","msg":"Listening","port":3130}
 * ```
 *
 * This is the only module that touches `console`.
 *
 * @module
 */

/** Log levels in increasing severity. */
export const LOG_LEVELS = ["debug", "info", "warn", "error", "silent"] as const;
/** A log level name. */
export type LogLevel = typeof LOG_LEVELS[number];
/** Output format: JSON lines (default) or logfmt. */
export type LogFormat = "json" | "logfmt";
/** Extra structured fields attached to one log line. */
export type LogFields = Record<string, unknown>;

const RANK: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

let defaultLevel: LogLevel = "info";
let componentLevels: Record<string, LogLevel> = {};
let format: LogFormat = "json";
let sink: (line: string) => void = (line) => console.error(line);
const loggers = new Map<string, Logger>();

/**
 * Configures every logger, existing and future.
 *
 * @param opts.level default level for components without their own
 * @param opts.components per-component levels, matched by longest prefix
 * @param opts.format `json` or `logfmt`
 */
export function configureLogging(
  opts: { level?: LogLevel; components?: Record<string, LogLevel>; format?: LogFormat },
): void {
  if (opts.level) defaultLevel = opts.level;
  if (opts.components) componentLevels = { ...opts.components };
  if (opts.format) format = opts.format;
  for (const logger of loggers.values()) logger.refreshLevel();
}

/**
 * Redirects log output, for tests that assert on log lines.
 *
 * @param fn receives each formatted line; `undefined` restores stderr
 */
export function setLogSink(fn?: (line: string) => void): void {
  sink = fn ?? ((line) => console.error(line));
}

/** Writes a line to stdout (command output, not a log line); kept here so `console` stays in one file. */
export function printOut(text: string): void {
  console.log(text);
}

/** Writes a line to stderr without structure (CLI error messages meant for people). */
export function printErr(text: string): void {
  console.error(text);
}

function levelFor(component: string): LogLevel {
  let best = "";
  let level = defaultLevel;
  for (const [prefix, l] of Object.entries(componentLevels)) {
    if ((component === prefix || component.startsWith(prefix + ".")) && prefix.length > best.length) {
      best = prefix;
      level = l;
    }
  }
  return level;
}

function logfmtValue(v: unknown): string {
  const s = typeof v === "string" ? v : JSON.stringify(v);
  return /[\s"=]/.test(s ?? "") ? JSON.stringify(s) : String(s);
}

/** A component's logger. Get one with {@link getLogger}. */
export class Logger {
  readonly component: string;
  #rank = RANK.info;

  constructor(component: string) {
    this.component = component;
    this.refreshLevel();
  }

  /** Re-reads the configured level; called by {@link configureLogging}. */
  refreshLevel(): void {
    this.#rank = RANK[levelFor(this.component)];
  }

  /** Whether a line at `level` would be written (to skip building expensive fields). */
  enabled(level: LogLevel): boolean {
    return RANK[level] >= this.#rank;
  }

  /** Logs at debug level. */
  debug(msg: string, fields?: LogFields): void {
    this.#write("debug", msg, fields);
  }
  /** Logs at info level. */
  info(msg: string, fields?: LogFields): void {
    this.#write("info", msg, fields);
  }
  /** Logs at warn level. */
  warn(msg: string, fields?: LogFields): void {
    this.#write("warn", msg, fields);
  }
  /** Logs at error level. */
  error(msg: string, fields?: LogFields): void {
    this.#write("error", msg, fields);
  }

  #write(level: LogLevel, msg: string, fields?: LogFields): void {
    if (RANK[level] < this.#rank) return;
    const ts = new Date().toISOString();
    const extra: LogFields = {};
    if (fields) {
      for (const [k, v] of Object.entries(fields)) extra[k] = v instanceof Error ? v.message : v;
    }
    if (format === "json") {
      sink(JSON.stringify({ ts, level, component: this.component, msg, ...extra }));
    } else {
      const parts = [`ts=${ts}`, `level=${level}`, `component=${this.component}`, `msg=${logfmtValue(msg)}`];
      for (const [k, v] of Object.entries(extra)) parts.push(`${k}=${logfmtValue(v)}`);
      sink(parts.join(" "));
    }
  }
}

/**
 * Returns the logger of a component, creating it on first use.
 *
 * @param component dotted name such as `cache.store`
 * @example
 * ```ts
 * const log = getLogger("icp");
 * log.debug("Dropped message", { from: "10.0.0.2:3130", reason: "short" });
 * ```
 */
export function getLogger(component: string): Logger {
  let logger = loggers.get(component);
  if (!logger) {
    logger = new Logger(component);
    loggers.set(component, logger);
  }
  return logger;
}
