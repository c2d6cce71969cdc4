/**
 * Wiring shared by the role subcommands: the common flags (`--config`, `--peers`, `--log-level`,
 * `--admin`), turning flags into config overrides, and reporting config errors with exit status 2.
 *
 * @module
 */
import { type Command, Option } from "commander";
import { type Appliance, ConfigError, type ConfigOverride, loadConfig } from "../config/mod.ts";
import { configureLogging, type LogLevel, printErr } from "../core/log.ts";

/** Exit status for bad configuration or usage (as `check-config` documents). */
export const EXIT_CONFIG = 2;

/** The shared options as commander parses them. */
export interface SharedOptions {
  config?: string;
  peers?: string;
  logLevel?: LogLevel;
  admin?: string;
}

/** Adds the flags every role takes. */
export function addSharedOptions(cmd: Command): Command {
  return cmd
    .option("-c, --config <file>", "appliance.yaml to load (default: none, built-in defaults)")
    .option("--peers <list>", "cluster seeds HOST:PORT,... or 'auto' to find the cluster by multicast")
    .addOption(
      new Option("--log-level <level>", "default log level").choices(["debug", "info", "warn", "error", "silent"]),
    )
    .option("--admin <addr:port>", "admin endpoint address (default 127.0.0.1:9090)");
}

/**
 * A numeric flag's value for a config override: the number when the text is one, else the text
 * itself, so validation reports `--workers: cache.workers: "abc" is a string, expected number`
 * (never `NaN`).
 *
 * @param v the flag text
 */
export function numericFlag(v: string): number | string {
  return /^\s*-?\d+(\.\d+)?\s*$/.test(v) ? Number(v) : v;
}

/** Turns the shared flags into config overrides. */
export function sharedOverrides(opts: SharedOptions): ConfigOverride[] {
  const out: ConfigOverride[] = [];
  if (opts.peers !== undefined) {
    const value = opts.peers === "auto" ? "auto" : opts.peers.split(",").map((s) => s.trim()).filter(Boolean);
    out.push({ path: ["cluster", "peers"], value, flag: "--peers" });
  }
  if (opts.logLevel !== undefined) out.push({ path: ["log", "level"], value: opts.logLevel, flag: "--log-level" });
  if (opts.admin !== undefined) out.push({ path: ["admin", "listen"], value: opts.admin, flag: "--admin" });
  return out;
}

/**
 * Loads the configuration for a role, applies overrides and logging; on a config error prints every
 * problem and exits with status 2.
 */
export async function loadOrExit(file: string | undefined, overrides: ConfigOverride[]): Promise<Appliance> {
  try {
    const cfg = await loadConfig(file, overrides);
    configureLogging({ level: cfg.log.level, components: cfg.log.components, format: cfg.log.format });
    return cfg;
  } catch (e) {
    if (e instanceof ConfigError) {
      printErr(e.message);
      Deno.exit(EXIT_CONFIG);
    }
    throw e;
  }
}
