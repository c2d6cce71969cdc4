/**
 * `webcache check-config [FILE]`: validates appliance.yaml and prints a summary, or every problem
 * with its key path and value and exits with status 2.
 *
 * @module
 */
import { Command } from "commander";
import { type Appliance, ConfigError, loadConfig } from "../config/mod.ts";
import { printErr, printOut } from "../core/log.ts";
import { readTlsFiles } from "../http/tls_files.ts";
import { EXIT_CONFIG, type SharedOptions, sharedOverrides } from "./_common.ts";

function summary(file: string, cfg: Appliance): string {
  const lines = [`${file}: OK`];
  lines.push(
    `  cluster ${cfg.cluster.name}: gossip ${cfg.cluster.gossipListen}, peers ${JSON.stringify(cfg.cluster.peers)}`,
  );
  lines.push(`  admin ${cfg.admin.listen}`);
  for (const s of cfg.director.services) {
    const vip = s.transparent ? `*:${s.port} (transparent)` : `${s.vip}:${s.port}`;
    lines.push(
      `  director service ${s.name ?? vip}: ${vip} ${s.scheduler} ${s.method}, ${s.reals.length} real server(s)` +
        (s.persistence.timeoutS ? `, persistent ${s.persistence.timeoutS}s /${s.persistence.netmask}` : ""),
    );
  }
  for (const l of cfg.cache.listen) {
    lines.push(`  cache listener ${l.address} ${l.mode}${l.tls ? ` tls ${l.tls.cert}` : ""}`);
  }
  lines.push(
    `  cache store: memory ${cfg.cache.memory.maxBytes} bytes, ${cfg.cache.store.dirs.length} dir(s), ${cfg.cache.store.policy}`,
  );
  lines.push(`  icp ${cfg.icp.enabled ? `port ${cfg.icp.port}` : "off"}`);
  return lines.join("\n");
}

/** Builds the `check-config` subcommand. */
export function checkConfigCommand(): Command {
  return new Command("check-config")
    .description("validate an appliance.yaml; exit status 2 on any problem")
    .argument("[file]", "configuration file", "appliance.yaml")
    .addHelpText(
      "after",
      "\nFlags override the file exactly as they do for the roles, so the effective configuration is checked.",
    )
    .option("-q, --quiet", "print nothing when the file is valid")
    .option("--json", "print the validated configuration, defaults filled in, as JSON")
    .option("--peers <list>", "check with this cluster.peers, as a role given the flag would run")
    .option("--admin <addr:port>", "check with this admin.listen")
    .option("--log-level <level>", "check with this log.level")
    .action(async (file: string, opts: SharedOptions & { quiet?: boolean; json?: boolean }) => {
      try {
        const cfg = await loadConfig(file, sharedOverrides(opts));
        // Certificate and key files are checked as the cache will read them (key mode included).
        cfg.cache.listen.forEach((l, i) => {
          if (!l.tls) return;
          try {
            readTlsFiles({ certFile: l.tls.cert, keyFile: l.tls.key });
          } catch (e) {
            printErr(`${file}: cache.listen[${i}].tls: ${(e as Error).message}`);
            Deno.exit(EXIT_CONFIG);
          }
        });
        if (opts.json) printOut(JSON.stringify(cfg, null, 2));
        else if (!opts.quiet) printOut(summary(file, cfg));
      } catch (e) {
        if (e instanceof ConfigError) {
          printErr(e.message);
          Deno.exit(EXIT_CONFIG);
        }
        throw e;
      }
    });
}
