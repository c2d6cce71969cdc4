/**
 * {@link ConfigSyncer}: `cluster.configSync` on a running node. It keeps the config version this
 * node runs (`config_version.ts`), pulls a newer one from a peer that gossips it, and publishes a
 * change made to this node's own file.
 *
 * Pulling, for the newest version a live peer gossips that this node has not refused:
 *
 * 1. fetch the text from that peer (TCP, sealed with the cluster key) and check its hash;
 * 2. keep this node's node-local keys and validate the merged config here (`acceptConfig`);
 * 3. let the role apply what it applies at run time (the `accept` hook, e.g. the director's
 *    services);
 * 4. write the config file (this node's local keys kept) and then the version file, and gossip
 *    the new `configVersion`/`configHash`.
 *
 * A failure in 2 or 3 is a refusal: the running config stays, the version is never tried again,
 * and the refusal (version, hash, reason) is gossiped in this node's record (`configRefused`), so
 * `webcache members` and the dashboard show it. A failure in 1 (peer unreachable, wrong hash) is
 * counted and retried after {@link CONFIG_RETRY_MS}, from any peer that has the version.
 *
 * @module
 */
import { type Appliance, ConfigError, parseYaml, validateConfig } from "../config/mod.ts";
import { getLogger } from "../core/log.ts";
import { type ConfigMessage, MAX_RECORD_BYTES } from "./codec.ts";
import { configHash } from "./config_hash.ts";
import { acceptConfig, classifyChanges, diffConfig, mergeNodeLocal, mergeNodeLocalText } from "./config_sync.ts";
import {
  compareVersions,
  type ConfigVersion,
  isNewerConfig,
  nextVersion,
  readVersionFile,
  startupVersion,
  versionFileOf,
  writeVersionFile,
} from "./config_version.ts";
import { configSyncsTotal, configVersionGauge } from "./metrics.ts";
import { type ConfigRefusal, MAX_REFUSAL_REASON_CHARS, type NodeRecord } from "./node.ts";

const log = getLogger("cluster");

/** A version that could not be fetched from one peer is asked from it again after this long. */
export const CONFIG_RETRY_MS = 2000;

/** A config this node adopted from a peer or published itself. */
export interface ConfigUpdate {
  /** The config, this node's node-local keys kept. */
  cfg: Appliance;
  /** Changed keys a running node may apply (the role applies them). */
  reloadable: string[];
  /** Changed keys that take effect only after a restart. */
  restart: string[];
  /** Name of the peer it came from (this node's own name for a local change). */
  from: string;
  /** Its version counter. */
  version: number;
  /** Whether it is this node's own change (published), not a peer's. */
  local: boolean;
}

/** What the syncer needs from membership. */
export interface ConfigSyncerHooks {
  /** This node's record. */
  local(): NodeRecord;
  /** The other members' records and whether each is alive. */
  peers(): { record: NodeRecord; alive: boolean }[];
  /** Changes this node's record and gossips it. */
  update(patch: Partial<Pick<NodeRecord, "configHash" | "configVersion" | "configRefused">>): void;
  /** Asks a peer's gossip address for its config. */
  fetch(addr: string): Promise<ConfigMessage | undefined>;
  /** The role applies a peer's config before it is adopted; throwing refuses it. */
  accept?: (update: ConfigUpdate) => Promise<void>;
  /** Called after a config was adopted or published. */
  adopted(update: ConfigUpdate): void;
}

/** Options of {@link ConfigSyncer}. */
export interface ConfigSyncerOptions {
  /** The running config. */
  cfg: Appliance;
  /** The file it came from, rewritten on adoption; without it adoption stays in memory. */
  configFile?: string;
  /** The file's text as served to peers. */
  text?: string;
  /** Pull peers' configs (cluster.configSync with a cluster key). */
  enabled: boolean;
  /** Write the version file (cluster.configSync). */
  persist: boolean;
  hooks: ConfigSyncerHooks;
}

const keyOf = (v: ConfigVersion) => `${v.version}/${v.hash}`;
const versionOf = (r: NodeRecord): ConfigVersion => ({ version: r.configVersion ?? 0, hash: r.configHash });

/** The first line of a reason, cut so that the record still fits in {@link MAX_RECORD_BYTES}. */
function fitReason(local: NodeRecord, refusal: ConfigRefusal): ConfigRefusal {
  let reason = refusal.reason.split("\n")[0];
  if (reason.length > MAX_REFUSAL_REASON_CHARS) reason = reason.slice(0, MAX_REFUSAL_REASON_CHARS - 1) + "…";
  const size = (r: string) =>
    new TextEncoder().encode(JSON.stringify({ ...local, configRefused: { ...refusal, reason: r } })).length;
  while (reason.length > 1 && size(reason) > MAX_RECORD_BYTES) reason = reason.slice(0, -11) + "…";
  return { ...refusal, reason };
}

/** Pulls newer configs from peers and publishes local changes (see the module doc). */
export class ConfigSyncer {
  #cfg: Appliance;
  #text?: string;
  readonly #file?: string;
  readonly #enabled: boolean;
  readonly #persist: boolean;
  readonly #hooks: ConfigSyncerHooks;
  readonly #refused = new Map<string, string>();
  readonly #failedAt = new Map<string, number>();
  #refusal?: ConfigRefusal;
  #queue: Promise<unknown> = Promise.resolve();
  #scheduled = false;
  #retryTimer?: ReturnType<typeof setTimeout>;
  #stopped = false;

  /**
   * The version a node starts with: the saved counter when the file is unchanged, one more when
   * it was edited since, 0 without a version file (see `config_version.ts`); writes the version
   * file when `persist` and it changed.
   *
   * @param cfg the running config
   * @param configFile its file, if any
   * @param persist whether to write the version file (cluster.configSync)
   * @returns the version and the file's text
   */
  static async initial(
    cfg: Appliance,
    configFile: string | undefined,
    persist: boolean,
  ): Promise<{ version: ConfigVersion; text?: string }> {
    const hash = await configHash(cfg);
    if (!configFile) return { version: { version: 0, hash } };
    const text = await Deno.readTextFile(configFile);
    const vf = versionFileOf(configFile);
    let saved: ConfigVersion | undefined;
    try {
      saved = await readVersionFile(vf);
    } catch (e) {
      log.warn("Ignoring the config version file", { file: vf, error: (e as Error).message });
    }
    const version = { version: startupVersion(saved, hash), hash };
    if (saved && saved.hash !== hash) {
      log.info("The config file changed since the last run: it runs as a new version", {
        configVersion: version.version,
        configHash: hash,
      });
    }
    if (persist && version.version > 0 && (saved?.hash !== hash || saved?.version !== version.version)) {
      await writeVersionFile(vf, version).catch((e) =>
        log.warn("Cannot save the config version; a restart may run it as the next one", {
          file: vf,
          error: (e as Error).message,
        })
      );
    }
    configVersionGauge.set(version.version);
    return { version, text };
  }

  constructor(opts: ConfigSyncerOptions) {
    this.#cfg = opts.cfg;
    this.#text = opts.text;
    this.#file = opts.configFile;
    this.#enabled = opts.enabled;
    this.#persist = opts.persist;
    this.#hooks = opts.hooks;
  }

  /** The config this node runs now. */
  get config(): Appliance {
    return this.#cfg;
  }

  /** The newest version this node refused, and why. */
  get refusal(): ConfigRefusal | undefined {
    return this.#refusal;
  }

  /** This node's config for a peer that asks, or undefined without a file. */
  message(): ConfigMessage | undefined {
    if (this.#text === undefined) return undefined;
    const v = versionOf(this.#hooks.local());
    return { type: "config", version: v.version, hash: v.hash, text: this.#text };
  }

  /** Looks for a newer version among the peers (after each member change); one pull at a time. */
  poke(): void {
    if (!this.#enabled || this.#stopped || this.#scheduled) return;
    this.#scheduled = true;
    this.#queue = this.#queue.then(async () => {
      this.#scheduled = false;
      if (!this.#stopped && await this.#pullOnce()) this.poke();
    });
  }

  /**
   * Publishes a change to this node's own config file (SIGHUP): reads the file, keeps the running
   * node-local keys, and when the cluster-wide part changed runs it as version
   * `max(own, every seen) + 1`, which the other nodes then pull.
   *
   * @returns the version this node runs afterwards
   * @throws {ConfigError} when the file does not validate (the running config stays)
   * @throws {Error} without a config file
   */
  publish(): Promise<ConfigVersion> {
    const run = this.#queue.then(() => this.#publish());
    this.#queue = run.catch(() => {});
    return run;
  }

  async #publish(): Promise<ConfigVersion> {
    if (!this.#file) throw new Error("Cannot publish a config change: the node runs without a config file");
    const text = await Deno.readTextFile(this.#file);
    const cfg = validateConfig(mergeNodeLocal(parseYaml(text, this.#file), this.#cfg), { source: this.#file });
    const hash = await configHash(cfg);
    const local = this.#hooks.local();
    const mine = versionOf(local);
    this.#text = text;
    if (hash === mine.hash) return mine;
    const seen = this.#hooks.peers().map((p) => p.record.configVersion ?? 0);
    if (this.#refusal) seen.push(this.#refusal.version);
    const v = { version: nextVersion(mine.version, seen), hash };
    if (this.#persist) await writeVersionFile(versionFileOf(this.#file), v);
    const changes = classifyChanges(diffConfig(this.#cfg, cfg));
    this.#cfg = cfg;
    this.#refusal = undefined;
    this.#hooks.update({ configHash: hash, configVersion: v.version, configRefused: undefined });
    configVersionGauge.set(v.version);
    configSyncsTotal.inc({ result: "published" });
    log.info("Published a config change", { configVersion: v.version, configHash: hash });
    this.#hooks.adopted({ cfg, ...changes, from: local.name, version: v.version, local: true });
    return v;
  }

  /** Pulls the newest acceptable version once; true when one was adopted. */
  async #pullOnce(): Promise<boolean> {
    const mine = versionOf(this.#hooks.local());
    const now = Date.now();
    let best: ConfigVersion | undefined;
    let from: NodeRecord[] = [];
    let waiting = false;
    for (const { record, alive } of this.#hooks.peers()) {
      const v = versionOf(record);
      if (!alive || !isNewerConfig(v, mine) || this.#refused.has(keyOf(v))) continue;
      if (now - (this.#failedAt.get(`${record.id} ${keyOf(v)}`) ?? -Infinity) < CONFIG_RETRY_MS) {
        waiting = true;
        continue;
      }
      const c = best ? compareVersions(v, best) : 1;
      if (c > 0) [best, from] = [v, [record]];
      else if (c === 0) from.push(record);
    }
    if (!best) {
      if (waiting) this.#retryLater();
      return false;
    }
    // Any peer that has the version serves it; spread the fetches over them.
    return await this.#pull(from[Math.floor(Math.random() * from.length)], best);
  }

  async #pull(peer: NodeRecord, v: ConfigVersion): Promise<boolean> {
    let msg: ConfigMessage | undefined;
    let got: Awaited<ReturnType<typeof acceptConfig>>;
    try {
      msg = await this.#hooks.fetch(peer.addrs.gossip);
      if (!msg) throw new Error("the peer did not send its config");
      if (msg.hash !== v.hash || msg.version !== v.version) {
        throw new Error(`it sent version ${msg.version} (${msg.hash}), not the gossiped ${v.version} (${v.hash})`);
      }
      got = await acceptConfig(msg.text, msg.hash, this.#cfg);
    } catch (e) {
      if (e instanceof ConfigError) return this.#refuse(v, (e as Error).message, peer.name);
      this.#failedAt.set(`${peer.id} ${keyOf(v)}`, Date.now());
      if (this.#failedAt.size > 1000) this.#failedAt.clear();
      configSyncsTotal.inc({ result: "failed" });
      log.warn("Cannot fetch a peer's config; will retry", {
        peer: peer.name,
        configVersion: v.version,
        error: (e as Error).message,
      });
      this.#retryLater();
      return false;
    }
    if (this.#stopped) return false;
    const update: ConfigUpdate = { cfg: got.cfg, ...got.changes, from: peer.name, version: v.version, local: false };
    try {
      await this.#hooks.accept?.(update);
    } catch (e) {
      return this.#refuse(v, `this node cannot apply it: ${(e as Error).message}`, peer.name);
    }
    this.#text = await this.#save(msg.text, v);
    this.#cfg = got.cfg;
    const patch: Parameters<ConfigSyncerHooks["update"]>[0] = { configHash: v.hash, configVersion: v.version };
    if (this.#refusal && compareVersions(v, this.#refusal) >= 0) {
      this.#refusal = undefined;
      patch.configRefused = undefined;
    }
    this.#hooks.update(patch);
    configVersionGauge.set(v.version);
    configSyncsTotal.inc({ result: "adopted" });
    log.info("Adopted a newer config from a peer", {
      peer: peer.name,
      configVersion: v.version,
      configHash: v.hash,
      reloadable: update.reloadable.join(","),
      restartNeeded: update.restart.join(","),
    });
    this.#hooks.adopted(update);
    return true;
  }

  /** Writes the adopted config (own node-local keys kept) and then its version; returns the text. */
  async #save(peerText: string, v: ConfigVersion): Promise<string> {
    const own = this.#file ? await Deno.readTextFile(this.#file).catch(() => "") : "";
    const text = mergeNodeLocalText(peerText, own);
    if (!this.#file) return text;
    try {
      const tmp = `${this.#file}.sync-${crypto.randomUUID().slice(0, 8)}`;
      await Deno.writeTextFile(tmp, text);
      await Deno.rename(tmp, this.#file);
      if (this.#persist) await writeVersionFile(versionFileOf(this.#file), v);
    } catch (e) {
      log.error("Cannot save the adopted config; it runs until a restart", {
        file: this.#file,
        error: (e as Error).message,
      });
    }
    return text;
  }

  #refuse(v: ConfigVersion, reason: string, from: string): false {
    const refusal = fitReason(this.#hooks.local(), { version: v.version, hash: v.hash, reason });
    this.#refused.set(keyOf(v), refusal.reason);
    configSyncsTotal.inc({ result: "refused" });
    log.warn("Refused a peer's config; the running config stays", {
      peer: from,
      configVersion: v.version,
      configHash: v.hash,
      reason: refusal.reason,
    });
    if (!this.#refusal || compareVersions(v, this.#refusal) > 0) {
      this.#refusal = refusal;
      this.#hooks.update({ configRefused: refusal });
    }
    return false;
  }

  #retryLater(): void {
    if (this.#retryTimer !== undefined || this.#stopped) return;
    this.#retryTimer = setTimeout(() => {
      this.#retryTimer = undefined;
      this.poke();
    }, CONFIG_RETRY_MS);
  }

  /** Stops pulling and waits for a pull in flight. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#retryTimer);
    await this.#queue.catch(() => {});
  }
}
