/**
 * webcache: a web cache cluster in one executable. `main.ts` parses argv and starts a subcommand;
 * each subcommand lives in `cmd/` and only wires modules together.
 *
 * @module
 */
import { Command, CommanderError } from "commander";
import { cacheCommand } from "./cmd/cache.ts";
import { checkConfigCommand } from "./cmd/check_config.ts";
import { directorCommand } from "./cmd/director.ts";
import { EXIT_CONFIG } from "./cmd/_common.ts";
import { demoCommand } from "./cmd/demo.ts";
import { statusCommand } from "./cmd/status.ts";
import { membersCommand } from "./cmd/members.ts";
import { purgeCommand } from "./cmd/purge.ts";
import { versionCommand } from "./cmd/version.ts";
// Background Workers (the DR/TUN data plane, the IP-in-IP decapsulator) run this same bundle under
// their own name; these modules start them then, and the CLI below must not run.
import { isDataplaneWorker } from "./lb/dataplane/worker.ts";
import { isDecapWorker } from "./netctl/decap_worker.ts";
import { VERSION } from "./core/version.ts";
import { printErr } from "./core/log.ts";
import { ConfigError } from "./config/mod.ts";

/**
 * The last line of defence of "no stack traces, ever": an error nothing else handled is printed
 * as one line (config errors exit 2, everything else 1). Each subcommand reports its own failures
 * with the key, address or path; this only keeps a missed one from dumping a stack.
 */
function exitOnUnhandled(e: unknown): never {
  const msg = e instanceof Error ? e.message : String(e);
  printErr(`webcache: ${msg.split("\n").filter((l) => !/^\s+at /.test(l)).join(" ").trim() || "unknown error"}`);
  Deno.exit(e instanceof ConfigError ? EXIT_CONFIG : 1);
}

/** Builds the whole command tree (exported for tests and documentation). */
export function buildProgram(): Command {
  const program = new Command("webcache")
    .description(
      "A web cache cluster in one executable: an LVS-style director (DR, TUN or proxy forwarding)\n" +
        "in front of HTTP caching proxies that peer over ICP, joined by authenticated gossip.",
    )
    .version(VERSION, "-V, --version", "print the version")
    .showHelpAfterError()
    .exitOverride();
  program.addCommand(versionCommand());
  program.addCommand(checkConfigCommand());
  program.addCommand(statusCommand());
  program.addCommand(demoCommand());
  program.addCommand(cacheCommand());
  program.addCommand(directorCommand());
  program.addCommand(membersCommand());
  program.addCommand(purgeCommand());
  for (const c of program.commands) c.exitOverride();
  return program;
}

if (import.meta.main && !isDataplaneWorker() && !isDecapWorker()) {
  // Not in cache worker threads: their failures go to the main thread's pool, which reports them.
  if (typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope === "undefined") {
    globalThis.addEventListener("unhandledrejection", (ev) => {
      ev.preventDefault();
      exitOnUnhandled(ev.reason);
    });
    globalThis.addEventListener("error", (ev) => {
      ev.preventDefault();
      exitOnUnhandled(ev.error ?? ev.message);
    });
  }
  try {
    await buildProgram().parseAsync(Deno.args, { from: "user" });
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit 0; usage errors exit 2, like bad configs.
      Deno.exit(e.exitCode === 0 ? 0 : EXIT_CONFIG);
    }
    exitOnUnhandled(e);
  }
}
