/**
 * `webcache status [--admin ADDR:PORT] [--watch [SECONDS]] [--json]`: one view of the whole cluster
 * from any node: members and roles, health, per-cache request rate, hit ratio, stored objects and
 * bytes, ICP queries and sibling hits, and each director's service table.
 *
 * @module
 */
import { Command, Option } from "commander";
import { printErr, printOut } from "../core/log.ts";
import { ClusterStatusClient } from "../status/client.ts";
import type { ClusterStatus } from "../status/cluster_status.ts";
import { renderClusterStatus } from "../status/render.ts";
import { loadOrExit } from "./_common.ts";

interface StatusOptions {
  config?: string;
  admin?: string;
  tokenFile?: string;
  watch?: string | boolean;
  json?: boolean;
}

const WILDCARD = /^(0\.0\.0\.0|\[?::\]?):/;

/** Builds the `status` subcommand. */
export function statusCommand(): Command {
  return new Command("status")
    .description("show the whole cluster (members, health, rates, hit ratios, director services) from any node")
    .option("-c, --config <file>", "appliance.yaml, for admin.listen and admin.token")
    .option("--admin <addr:port>", "admin endpoint of the node to ask (default admin.listen, 127.0.0.1:9090)")
    .option("--token-file <file>", "file holding admin.token (else WEBCACHE_ADMIN_TOKEN, else the config's)")
    .addOption(new Option("--watch [seconds]", "refresh in place every SECONDS (default 2) until Ctrl-C"))
    .option("--json", "print the aggregated document as JSON")
    .action(async (opts: StatusOptions) => {
      const cfg = await loadOrExit(opts.config, []);
      const admin = (opts.admin ?? cfg.admin.listen).replace(WILDCARD, "127.0.0.1:");
      let token = Deno.env.get("WEBCACHE_ADMIN_TOKEN") ?? cfg.admin.token;
      if (opts.tokenFile) {
        try {
          token = (await Deno.readTextFile(opts.tokenFile)).trim();
        } catch (e) {
          const why = e instanceof Deno.errors.NotFound ? "file not found" : (e as Error).message;
          printErr(`--token-file: cannot read "${opts.tokenFile}": ${why}`);
          Deno.exit(2);
        }
      }
      const client = new ClusterStatusClient(admin, { token });
      const show = (doc: ClusterStatus) =>
        printOut(opts.json ? JSON.stringify(doc, null, 2) : renderClusterStatus(doc));
      try {
        if (opts.watch === undefined || opts.watch === false) {
          let doc = await client.fetch();
          if (doc.sampleIntervalMs === undefined) {
            // A first sample has no rates: take a second one a little over a second later.
            await new Promise((r) => setTimeout(r, 1100));
            doc = await client.fetch();
          }
          show(doc);
          return;
        }
        const seconds = opts.watch === true ? 2 : Number(opts.watch);
        if (!(seconds >= 0.5 && seconds <= 3600)) {
          printErr(`--watch: "${opts.watch}" is not a number of seconds in 0.5-3600`);
          Deno.exit(2);
        }
        await watch(client, seconds * 1000, opts.json ?? false);
      } catch (e) {
        printErr((e as Error).message);
        Deno.exit(1);
      }
    });
}

async function watch(client: ClusterStatusClient, intervalMs: number, json: boolean): Promise<void> {
  const ac = new AbortController();
  const stop = () => ac.abort();
  Deno.addSignalListener("SIGINT", stop);
  Deno.addSignalListener("SIGTERM", stop);
  const tty = Deno.stdout.isTerminal();
  try {
    while (!ac.signal.aborted) {
      let text: string;
      try {
        const doc = await client.fetch();
        text = json ? JSON.stringify(doc) : renderClusterStatus(doc);
      } catch (e) {
        text = `${new Date().toISOString()} ${(e as Error).message}`;
      }
      // On a terminal: home, draw, clear what is left of the previous frame. Elsewhere: one block per refresh.
      printOut(tty && !json ? `\x1b[H${text.replaceAll("\n", "\x1b[K\n")}\x1b[K\x1b[J` : text);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, intervalMs);
        ac.signal.addEventListener("abort", () => {
          clearTimeout(t);
          resolve();
        }, { once: true });
      });
    }
  } finally {
    Deno.removeSignalListener("SIGINT", stop);
    Deno.removeSignalListener("SIGTERM", stop);
  }
}
