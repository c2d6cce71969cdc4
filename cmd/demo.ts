/**
 * `webcache demo`: one command that brings up a whole cluster on this machine (an origin with a
 * few thousand objects, three caches peering over ICP, a director in front), drives a Zipf load
 * through it with a progress bar, prints a summary checked against the nodes' own counters, and
 * stays up (with a live dashboard) until Ctrl-C, then removes everything it made.
 *
 * @module
 */
import { Command, Option } from "commander";
import { configureLogging, printErr } from "../core/log.ts";
import { runDemo } from "../demo/run_demo.ts";

interface DemoFlags {
  method?: "proxy" | "dr" | "tun";
  requests: string;
  loadSeconds: string;
  concurrency: string;
  objects: string;
  zipf: string;
  seed: string;
  peering: "icp" | "hash" | "hash+icp" | "none";
  scheduler: string;
  persistence: string;
  json?: boolean;
  once?: boolean;
  duration?: string;
  logLevel: string;
  staticPeers?: boolean;
  directors: "1" | "2";
}

function positive(flag: string, v: string, opts: { integer?: boolean; max?: number } = {}): number {
  const n = Number(v);
  if (!(n > 0) || (opts.integer && !Number.isInteger(n)) || (opts.max !== undefined && n > opts.max)) {
    printErr(
      `${flag}: "${v}" is not a positive ${opts.integer ? "integer" : "number"}` +
        (opts.max !== undefined ? ` up to ${opts.max}` : ""),
    );
    Deno.exit(2);
  }
  return n;
}

/** Builds the `demo` subcommand. */
export function demoCommand(): Command {
  return new Command("demo")
    .description("run a whole cluster on this machine (origin, 3 caches, director), load it, summarise, keep it up")
    .addOption(
      new Option("--method <method>", "director forwarding (default: dr as root, else proxy on loopback)").choices([
        "proxy",
        "dr",
        "tun",
      ]),
    )
    .option("--requests <n>", "client requests to send", "10000")
    .option("--load-seconds <s>", "upper bound of the load phase, seconds", "60")
    .option("--concurrency <n>", "requests in flight", "16")
    .option("--objects <n>", "objects on the origin", "3000")
    .option("--zipf <s>", "Zipf exponent of URL popularity", "0.8")
    .option("--seed <n>", "seed of object sizes and the request sequence", "1")
    .addOption(
      new Option("--peering <mode>", "how caches share misses").choices(["icp", "hash", "hash+icp", "none"]).default(
        "icp",
      ),
    )
    .addOption(
      new Option("--scheduler <name>", "director scheduler").choices([
        "rr",
        "wrr",
        "lc",
        "wlc",
        "sed",
        "nq",
        "lblc",
        "lblcr",
        "dh",
        "sh",
        "mh",
      ]).default("wlc"),
    )
    .option("--persistence <s>", "director persistence timeout, seconds (0 off)", "0")
    .addOption(
      new Option(
        "--directors <n>",
        "directors: 2 runs director HA (active-backup, DR/TUN in namespaces) and crashes the MASTER mid-load",
      ).choices(["1", "2"]).default("1"),
    )
    .option("--static-peers", "list peers and real servers in each node's config instead of cluster membership")
    .option("--json", "print the summary (and node addresses) as one JSON document on stdout")
    .option("--once", "exit right after the summary")
    .option("--duration <s>", "stay up this many seconds after the summary (default: until Ctrl-C)")
    .addOption(
      new Option("--log-level <level>", "log level of the nodes (logs go to files in the demo's folder)").choices([
        "debug",
        "info",
        "warn",
        "error",
      ]).default("warn"),
    )
    .action(async (f: DemoFlags) => {
      // The demo's own log lines (origin, dashboard) would interleave with its output: warnings only.
      configureLogging({ level: "warn" });
      const code = await runDemo({
        method: f.method,
        requests: positive("--requests", f.requests, { integer: true, max: 10_000_000 }),
        loadSeconds: positive("--load-seconds", f.loadSeconds, { max: 86400 }),
        concurrency: positive("--concurrency", f.concurrency, { integer: true, max: 1024 }),
        objects: positive("--objects", f.objects, { integer: true, max: 1_000_000 }),
        zipf: positive("--zipf", f.zipf, { max: 10 }),
        seed: Number.isInteger(Number(f.seed)) ? Number(f.seed) : positive("--seed", f.seed, { integer: true }),
        peering: f.peering,
        scheduler: f.scheduler,
        persistenceS: f.persistence === "0" ? 0 : positive("--persistence", f.persistence, { integer: true }),
        json: f.json,
        once: f.once,
        durationS: f.duration === undefined ? undefined : positive("--duration", f.duration, { max: 86400 * 365 }),
        logLevel: f.logLevel,
        membership: !f.staticPeers,
        directors: f.directors === "2" ? 2 : 1,
      });
      Deno.exit(code);
    });
}
