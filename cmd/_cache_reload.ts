/**
 * SIGHUP on `webcache cache` (and a config adopted through `cluster.configSync`): reopens the
 * access log in every worker (logrotate: rename, then HUP), reads the config file again and puts
 * into effect in place what can change without a restart, in the main process and every worker:
 *
 * - `log.*` (levels, format)
 * - `cache.origins`, `cache.defaultOrigin`, `cache.acl.*`
 * - freshness rules: `cache.refreshPatterns`, `cache.heuristicPercent`, `cache.heuristicMaxS`,
 *   `cache.staleIfErrorS`, `cache.targetedCacheControl`, `cache.maxObjectBytes`
 * - `cache.memory.*` (memory tier limits), `cache.collapse.*`, `cache.origin.*`, `cache.accessLog`
 * - `cache.peers` (when peering runs), `cache.weight` (gossiped to the directors)
 * - `cache.shutdownGraceMs`, `cache.shutdownDelayMs` (read when the cache stops)
 *
 * - TLS listeners' certificate and key files (`cache.listen[].tls`), re-read on every SIGHUP even
 *   when the config is unchanged (a renewed certificate keeps its file name); established
 *   connections keep theirs, and unusable files keep the old certificate with a warning
 *
 * Every other changed key (listeners, workers, cache directories, VIP, peering mode...) is logged
 * as needing a restart. A config that does not load (YAML error, invalid value) is logged and the
 * running one kept: the process never exits on a reload.
 *
 * @module
 */
import { diffConfig, isReloadable, type Membership } from "../cluster/mod.ts";
import { type Appliance, type ConfigOverride, loadConfig } from "../config/mod.ts";
import { configureLogging, getLogger } from "../core/log.ts";
import type { CacheService } from "../cache/cache_service.ts";
import type { WorkerPool } from "../cache/worker_pool.ts";
import type { PeeringNode } from "../cache/peering/mod.ts";

const log = getLogger("cache");

/** Key paths (exact or prefixes ending in `.`) the cache puts into effect on a reload. */
const IN_PLACE = [
  "log.",
  "cache.origins",
  "cache.defaultOrigin",
  "cache.acl.",
  "cache.heuristicPercent",
  "cache.heuristicMaxS",
  "cache.refreshPatterns",
  "cache.staleIfErrorS",
  "cache.targetedCacheControl",
  "cache.maxObjectBytes",
  "cache.memory.",
  "cache.collapse.",
  "cache.origin.",
  "cache.accessLog",
  "cache.weight",
  "cache.shutdownGraceMs",
  "cache.shutdownDelayMs",
];

/**
 * Whether a reload puts the key at `path` into effect in place (`cache.peers` only with peering).
 *
 * @param path a dotted key path, e.g. `cache.origins.www.example.org`
 * @param peering whether the peering node runs
 */
export function cacheReloadHandles(path: string, peering = false): boolean {
  if (path === "cache.peers" || path.startsWith("cache.peers.")) return peering;
  return IN_PLACE.some((p) => p.endsWith(".") ? path.startsWith(p) : path === p || path.startsWith(`${p}.`));
}

/**
 * The keys changed from `boot` to `next` that need a restart: not reloadable per the schema, or
 * not applied in place by the cache.
 *
 * @param boot the config the process started with
 * @param next the config just loaded
 * @param peering whether the peering node runs
 */
export function cacheRestartKeys(boot: Appliance, next: Appliance, peering = false): string[] {
  return diffConfig(boot, next).filter((k) => !(cacheReloadHandles(k, peering) && isReloadable(k)));
}

/** What a reload acts on. */
export interface CacheReloadTarget {
  /** The config the process started with (restart-needing keys are those that differ from it). */
  boot: Appliance;
  /** The main process's service. */
  service: CacheService;
  /** The other workers. */
  pool: WorkerPool;
  /** Peering, when it runs (`cache.peers`). */
  peering?: PeeringNode;
  /** Membership, when it runs (`cache.weight`). */
  membership?: Membership;
  /** Whether the cache is stopping (the weight stays 0). */
  stopping?: () => boolean;
}

/**
 * Reopens the access logs of the main process and every worker.
 *
 * @returns the errors (empty when every log was reopened)
 */
export async function reopenAccessLogs(t: Pick<CacheReloadTarget, "service" | "pool">): Promise<string[]> {
  const errors = await t.pool.reopenLogs();
  try {
    await t.service.accessLog.reopen();
  } catch (e) {
    errors.push((e as Error).message);
  }
  return errors;
}

/**
 * Puts `next` into effect in place where it can (see the module doc) and logs the rest.
 *
 * @param t what to apply it to
 * @param current the config in effect
 * @param next the config to apply
 * @returns the config now in effect (`next`)
 */
export async function applyCacheConfig(t: CacheReloadTarget, current: Appliance, next: Appliance): Promise<Appliance> {
  const changed = diffConfig(current, next);
  const peering = t.peering !== undefined;
  const applied = changed.filter((k) => cacheReloadHandles(k, peering) && isReloadable(k));
  if (applied.some((k) => k.startsWith("log."))) {
    configureLogging({ level: next.log.level, components: next.log.components, format: next.log.format });
  }
  const errors: string[] = [];
  try {
    await t.service.reconfigure(next.cache);
  } catch (e) {
    errors.push((e as Error).message);
  }
  errors.push(...await t.pool.reload(next));
  if (t.peering && applied.some((k) => k.startsWith("cache.peers"))) {
    await t.peering.setConfigured(next.cache.peers).catch((e) => errors.push((e as Error).message));
  }
  if (t.membership && applied.includes("cache.weight") && !t.stopping?.()) {
    t.membership.update({ weight: next.cache.weight });
  }
  for (const error of new Set(errors)) log.error("Reload partly failed", { error });
  const restart = cacheRestartKeys(t.boot, next, peering);
  if (restart.length) log.warn("Changed keys need a restart", { keys: restart.join(",") });
  log.info("Configuration reloaded", { applied: applied.join(",") || "-" });
  return next;
}

/**
 * The SIGHUP handler's work: reopen the access logs, then reload `file` (with the command-line
 * overrides) and apply it. Never throws: failures are logged and the running config kept.
 *
 * @param t what to apply it to
 * @param current the config in effect
 * @param source the config file and the command-line overrides, or undefined without `--config`
 * @returns the config in effect afterwards
 */
export async function reloadCache(
  t: CacheReloadTarget,
  current: Appliance,
  source: { file: string; overrides: ConfigOverride[] } | undefined,
): Promise<Appliance> {
  const reopenErrors = await reopenAccessLogs(t);
  for (const error of new Set(reopenErrors)) log.error("Cannot reopen the access log", { error });
  // Certificates first, config or not: each TLS listener logs its own outcome (every worker too).
  t.service.reloadCertificates();
  t.pool.reloadCertificates();
  if (!source) {
    log.info("SIGHUP: access log reopened; no --config file to reload");
    return current;
  }
  let next: Appliance;
  try {
    next = await loadConfig(source.file, source.overrides);
  } catch (e) {
    log.error("Reload failed, keeping the running configuration", { file: source.file, error: (e as Error).message });
    return current;
  }
  try {
    return await applyCacheConfig(t, current, next);
  } catch (e) {
    log.error("Reload failed", { error: (e as Error).message });
    return current;
  }
}
