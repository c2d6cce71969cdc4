/**
 * `webcache version`: prints the version, Deno and V8 versions.
 *
 * @module
 */
import { Command, Option } from "commander";
import { printOut } from "../core/log.ts";
import { VERSION } from "../core/version.ts";

/** Builds the `version` subcommand. */
export function versionCommand(): Command {
  return new Command("version")
    .description("print the webcache version")
    .addOption(new Option("--json", "machine-readable output"))
    .action((opts: { json?: boolean }) => {
      const info = { webcache: VERSION, deno: Deno.version.deno, v8: Deno.version.v8 };
      printOut(opts.json ? JSON.stringify(info) : `webcache ${VERSION} (deno ${info.deno}, v8 ${info.v8})`);
    });
}
