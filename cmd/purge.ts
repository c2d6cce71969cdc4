/**
 * `webcache purge URL | --prefix URL | --regex RE [--admin ADDR:PORT] [--token-file FILE] [--json]`:
 * purges an object, every URL under a prefix, or every URL a regular expression matches, on every
 * cache of the cluster.
 *
 * It asks a local cache's admin endpoint (`POST /purge` with a JSON body, plus `Authorization:
 * Bearer <admin.token>` when a token is known), and that cache sends the purge to every other cache
 * over the gossip transport sealed with the cluster key (`cache/purge_fanout.ts`). So the CLI
 * needs no cluster key, only what the admin endpoint asks of any client (`admin.allow` or the
 * token), and the client must be in `cache.acl.purge` unless it shows the token.
 *
 * The admin address comes from `--admin`, else `admin.listen` of `--config`, else 127.0.0.1:9090;
 * the token from `--token-file`, else `WEBCACHE_ADMIN_TOKEN`, else `admin.token` of `--config`.
 *
 * Exit status: 0 every other cache acknowledged, 3 some did not (they converge by ban list sync),
 * 1 the cache could not be asked or refused, 2 bad usage or config.
 *
 * @module
 */
import { Command } from "commander";
import type { PurgeResult } from "../cache/purge_request.ts";
import { printErr, printOut } from "../core/log.ts";
import { EXIT_CONFIG, loadOrExit } from "./_common.ts";

/** Exit status when some caches did not acknowledge. */
export const EXIT_PARTIAL = 3;

const WILDCARD = /^(0\.0\.0\.0|\[?::\]?):/;

interface PurgeOptions {
  prefix?: string;
  regex?: string;
  admin?: string;
  config?: string;
  tokenFile?: string;
  json?: boolean;
}

/**
 * One line about a purge's outcome.
 *
 * @example
 * ```ts
 * formatPurgeResult({ id: "x", kind: "url", pattern: "http://h/a", deleted: 3, nodes: 2, acked: 2, failed: [] });
 * // "purged url http://h/a: 3 object(s) deleted; 2 of 2 other caches acknowledged"
 * ```
 */
export function formatPurgeResult(r: PurgeResult): string {
  const what = r.kind === "url" ? `${r.deleted} object(s) deleted` : "banned (objects go when next looked up)";
  const missing = r.failed.length ? `; not acknowledged: ${r.failed.join(", ")}` : "";
  return `purged ${r.kind} ${r.pattern}: ${what}; ${r.acked} of ${r.nodes} other caches acknowledged${missing}`;
}

/** Builds the `purge` subcommand. */
export function purgeCommand(): Command {
  return new Command("purge")
    .description("purge a URL, a prefix or a regex on every cache of the cluster (asks a local cache)")
    .argument("[url]", "the URL to purge, e.g. http://www.example.org/a.css")
    .option("--prefix <url>", "purge every URL starting with this one")
    .option("--regex <re>", "purge every URL (http://host/path?query) this regular expression matches")
    .option("--admin <addr:port>", "admin endpoint of the cache to ask (default admin.listen, or 127.0.0.1:9090)")
    .option("-c, --config <file>", "appliance.yaml to read admin.listen and admin.token from")
    .option("--token-file <file>", "file holding admin.token (else WEBCACHE_ADMIN_TOKEN, else the config's)")
    .option("--json", "print the result as JSON")
    .action(async (url: string | undefined, opts: PurgeOptions) => {
      const given = [url, opts.prefix, opts.regex].filter((v) => v !== undefined);
      if (given.length !== 1) {
        printErr("give exactly one of URL, --prefix URL or --regex RE");
        Deno.exit(EXIT_CONFIG);
      }
      const body = url !== undefined ? { url } : opts.prefix !== undefined ? { prefix: opts.prefix } : {
        regex: opts.regex,
      };
      const cfg = opts.config ? await loadOrExit(opts.config, []) : undefined;
      const admin = (opts.admin ?? cfg?.admin.listen ?? "127.0.0.1:9090").replace(WILDCARD, "127.0.0.1:");
      let token = Deno.env.get("WEBCACHE_ADMIN_TOKEN") ?? cfg?.admin.token;
      if (opts.tokenFile) {
        try {
          token = (await Deno.readTextFile(opts.tokenFile)).trim();
        } catch (e) {
          const why = e instanceof Deno.errors.NotFound ? "file not found" : (e as Error).message;
          printErr(`--token-file: cannot read "${opts.tokenFile}": ${why}`);
          Deno.exit(EXIT_CONFIG);
        }
      }
      let res: Response;
      try {
        res = await fetch(`http://${admin}/purge`, {
          method: "POST",
          headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
          body: JSON.stringify(body),
          signal: AbortSignal.timeout(30_000),
        });
      } catch (e) {
        printErr(`Cannot ask ${admin} to purge: ${(e as Error).message}`);
        Deno.exit(1);
      }
      if (!res.ok) {
        printErr(`Cannot purge: ${admin} answered ${res.status}: ${(await res.text()).trim()}`);
        Deno.exit(1);
      }
      const result = await res.json() as PurgeResult;
      printOut(opts.json ? JSON.stringify(result) : formatPurgeResult(result));
      Deno.exit(result.acked === result.nodes ? 0 : EXIT_PARTIAL);
    });
}
