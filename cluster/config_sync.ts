/**
 * `cluster.configSync`: pieces for adopting a newer config from a peer.
 *
 * A node whose record shows a newer config version (`configVersion` and `configHash`, see
 * `config_version.ts`) asks that peer over TCP (`configRequest` → `config`, codec.ts). The
 * exchange is sealed with the cluster key like all gossip, which is what makes the config
 * *signed*: only holders of the cluster key can produce it, and in insecure mode sync is refused.
 * The receiver checks that the text hashes to the advertised hash, takes only its cluster-wide
 * keys (its own node-local keys, {@link NODE_LOCAL_KEYS}, stay), validates the merged result as
 * it would run it, and sorts the changed keys into those a running node may change (their schema
 * description says `Reload: yes`) and those that need a restart. A merged config that does not
 * validate is refused by this node (membership.ts keeps the old one and gossips why).
 * When it writes the adopted config to its own file ({@link mergeNodeLocalText}), the node-local
 * keys stay those of its own file, so a restart comes back as the same node.
 *
 * @module
 */
import { parseDocument } from "yaml";
import { ApplianceSchema } from "../config/schema.ts";
import { type Appliance, parseYaml, validateConfig } from "../config/mod.ts";
import { configHash, NODE_LOCAL_KEYS } from "./config_hash.ts";

/** Changed key paths, sorted by whether a running node may apply them. */
export interface ConfigChanges {
  /** Keys whose schema says `Reload: yes`. */
  reloadable: string[];
  /** Keys that take effect only after a restart (`Reload: no`, or not stated). */
  restart: string[];
}

function isObj(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === "object" && !Array.isArray(v);
}

/**
 * Lists the key paths whose values differ; lists are compared whole (`director.services`).
 *
 * @example
 * ```ts
 * diffConfig({ a: { b: 1, c: 2 } }, { a: { b: 1, c: 3 } }); // ["a.c"]
 * ```
 */
export function diffConfig(a: unknown, b: unknown): string[] {
  const walk = (x: unknown, y: unknown, path: string): string[] => {
    if (isObj(x) && isObj(y)) {
      const keys = [...new Set([...Object.keys(x), ...Object.keys(y)])].sort();
      return keys.flatMap((k) => walk(x[k], y[k], path ? `${path}.${k}` : k));
    }
    return JSON.stringify(x) === JSON.stringify(y) ? [] : [path];
  };
  return walk(a, b, "");
}

// deno-lint-ignore no-explicit-any
type AnySchema = any;

function unwrap(s: AnySchema): AnySchema {
  let cur = s;
  for (let i = 0; i < 10 && cur?._zod?.def?.innerType; i++) cur = cur._zod.def.innerType;
  return cur;
}

/**
 * Whether a running node may change the key at `path`, as its schema description says
 * (`Reload: yes`); the nearest described ancestor decides when the key itself says nothing, and
 * no statement at all means a restart.
 */
export function isReloadable(path: string): boolean {
  let node: AnySchema = ApplianceSchema;
  let verdict = false;
  for (const seg of path.split(".")) {
    const shape = unwrap(node)?._zod?.def?.shape;
    if (!shape || !(seg in shape)) break;
    node = shape[seg];
    const m = /Reload: (yes|no)/i.exec(node.description ?? unwrap(node)?.description ?? "");
    if (m) verdict = m[1].toLowerCase() === "yes";
  }
  return verdict;
}

/** Sorts changed paths into reloadable and restart-needing ones. */
export function classifyChanges(paths: readonly string[]): ConfigChanges {
  const out: ConfigChanges = { reloadable: [], restart: [] };
  for (const p of paths) (isReloadable(p) ? out.reloadable : out.restart).push(p);
  return out;
}

function setPath(obj: Record<string, unknown>, path: string, value: unknown): void {
  const segs = path.split(".");
  let cur = obj;
  for (const s of segs.slice(0, -1)) {
    if (!isObj(cur[s])) cur[s] = {};
    cur = cur[s] as Record<string, unknown>;
  }
  if (value === undefined) delete cur[segs[segs.length - 1]];
  else cur[segs[segs.length - 1]] = value;
}

function getPath(obj: unknown, path: string): unknown {
  let cur = obj;
  for (const s of path.split(".")) cur = isObj(cur) ? cur[s] : undefined;
  return cur;
}

/** A peer's config, checked and merged with this node's local keys. */
export interface ReceivedConfig {
  /** The merged config. */
  cfg: Appliance;
  /** What changed compared with the running config. */
  changes: ConfigChanges;
}

/**
 * Thrown when a peer's config does not hash to what it advertised: the peer (or the transfer) is
 * at fault, not the config, so another peer may still serve it.
 */
export class ConfigHashMismatchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigHashMismatchError";
  }
}

/**
 * The document this node would run: the peer's cluster-wide keys with every node-local key
 * ({@link NODE_LOCAL_KEYS}) taken from this node's running config (removed where it has none).
 *
 * @param peerRaw the peer's parsed YAML
 * @param current this node's running config
 */
export function mergeNodeLocal(peerRaw: unknown, current: Appliance): Record<string, unknown> {
  const merged = structuredClone(isObj(peerRaw) ? peerRaw : {});
  for (const k of NODE_LOCAL_KEYS) setPath(merged, k, structuredClone(getPath(current, k)));
  return merged;
}

/**
 * Checks a received config text against its advertised hash, merges in this node's node-local
 * keys and validates the result as this node would run it: a config valid on the peer may be
 * refused here (say `director.ha.mode: active-backup` where this node's `director.vipMode` is
 * `nft`).
 *
 * @param text the YAML received
 * @param hash the hash the peer advertised
 * @param current this node's running config
 * @throws {ConfigError} when the text, or the merged config, does not validate on this node
 * @throws {ConfigHashMismatchError} when its hash differs from the advertised one
 */
export async function acceptConfig(text: string, hash: string, current: Appliance): Promise<ReceivedConfig> {
  const raw = parseYaml(text, "peer config");
  const got = await configHash(validateConfig(raw, { source: "peer config" }));
  if (got !== hash) {
    throw new ConfigHashMismatchError(`Cannot accept peer config: its hash ${got} is not the advertised ${hash}`);
  }
  const cfg = validateConfig(mergeNodeLocal(raw, current), { source: "peer config with this node's local keys" });
  return { cfg, changes: classifyChanges(diffConfig(current, cfg)) };
}

/**
 * The text a node writes to its own config file when it adopts a peer's config: the peer's YAML
 * (comments and layout kept) with every node-local key ({@link NODE_LOCAL_KEYS}) set to this node's
 * own file's value, or removed where its own file does not set it. Without this a restart would
 * come back with the peer's node name, gossip address, admin listener and keys.
 *
 * @param peerText the YAML received from the peer
 * @param ownText this node's current file ("" when it has none)
 * @throws {SyntaxError} when either text is not YAML
 */
export function mergeNodeLocalText(peerText: string, ownText: string): string {
  const peer = parseDocument(peerText);
  const own = parseDocument(ownText);
  for (const d of [[peer, "peer config"], [own, "own config"]] as const) {
    if (d[0].errors.length) throw new SyntaxError(`Cannot merge ${d[1]}: ${d[0].errors[0].message}`);
  }
  for (const k of NODE_LOCAL_KEYS) {
    const path = k.split(".");
    if (own.hasIn(path)) {
      const node = own.getIn(path, true);
      peer.setIn(path, node && typeof node === "object" ? (node as { clone(): unknown }).clone() : node);
    } else if (peer.hasIn(path)) {
      peer.deleteIn(path);
    }
  }
  return peer.toString();
}
