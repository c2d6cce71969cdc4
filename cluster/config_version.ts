/**
 * The version of the cluster-wide config (`cluster.configSync`): a counter that only grows plus
 * the content hash of the cluster-wide part ({@link configHash}, node-local keys left out).
 *
 * Ordering: the higher counter wins; equal counters (two nodes changed their config at once) are
 * broken by the hash, compared as a string, so every node picks the same winner. Counter 0 means
 * "never published": a node that starts without a saved version runs its file at 0, and a 0 is
 * never taken from a peer, so a node provisioned from an old template cannot overwrite the
 * cluster by joining.
 *
 * A node publishes a change (an operator edited its file and sent SIGHUP, or edited it while the
 * node was down) as `max(own counter, every counter it sees) + 1`.
 *
 * The counter is kept in a small JSON file beside the config, `<config file>.version`:
 *
 * ```json
 * {"version": 7, "hash": "3f2a9c0e1b7d4a55"}
 * ```
 *
 * On start, a file whose hash is the saved one runs at the saved counter; a file that changed
 * since (edited offline) runs at saved + 1, so the edit is a new version; no saved file means 0.
 * The version file is written after the config file (temp file + rename), so a crash between the
 * two can only bump the counter of an already adopted config, never bring an old one back.
 *
 * An offline edit made on a stale base (the node was down while the cluster moved past saved + 1)
 * loses to the cluster's newer version when the node rejoins; edit a running node and send SIGHUP
 * to be sure a change wins. Changes of node-local keys are never versions: they take a restart.
 *
 * @module
 */

/** A config version: counter and content hash of the cluster-wide part. */
export interface ConfigVersion {
  /** Counter that only grows; 0: never published. */
  version: number;
  /** {@link configHash} of the cluster-wide part. */
  hash: string;
}

/**
 * Orders two versions: counter first, then hash.
 *
 * @returns a negative number when `a` is older than `b`, 0 when equal, positive when newer
 * @example
 * ```ts
 * compareVersions({ version: 2, hash: "aa" }, { version: 1, hash: "ff" }); // > 0
 * ```
 */
export function compareVersions(a: ConfigVersion, b: ConfigVersion): number {
  if (a.version !== b.version) return a.version - b.version;
  return a.hash < b.hash ? -1 : a.hash > b.hash ? 1 : 0;
}

/**
 * Whether a node running `mine` should take `peer`: the peer's is published (counter ≥ 1) and
 * newer.
 */
export function isNewerConfig(peer: ConfigVersion, mine: ConfigVersion): boolean {
  return peer.version >= 1 && compareVersions(peer, mine) > 0;
}

/**
 * The counter of a change this node publishes: one above every counter it has seen.
 *
 * @param own this node's counter
 * @param seen the counters its peers gossip
 */
export function nextVersion(own: number, seen: Iterable<number>): number {
  let max = own;
  for (const v of seen) if (v > max) max = v;
  return max + 1;
}

/** The version file kept beside a config file. */
export function versionFileOf(configFile: string): string {
  return `${configFile}.version`;
}

/**
 * The counter a node starts its file at, given what it saved last time (see the module doc).
 *
 * @param saved the version file's content, if any
 * @param hash the hash of the file as it is now
 */
export function startupVersion(saved: ConfigVersion | undefined, hash: string): number {
  if (!saved) return 0;
  return saved.hash === hash ? saved.version : saved.version + 1;
}

/**
 * Reads a version file.
 *
 * @returns undefined when it does not exist
 * @throws {SyntaxError} when it is not `{"version": N, "hash": "..."}`
 */
export async function readVersionFile(file: string): Promise<ConfigVersion | undefined> {
  let text: string;
  try {
    text = await Deno.readTextFile(file);
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    throw e;
  }
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (e) {
    throw new SyntaxError(`Cannot read config version file "${file}": not JSON`, { cause: e });
  }
  const o = v as Record<string, unknown>;
  if (!o || !Number.isSafeInteger(o.version) || (o.version as number) < 0 || typeof o.hash !== "string") {
    throw new SyntaxError(`Cannot read config version file "${file}": expected {"version": N, "hash": "..."}`);
  }
  return { version: o.version as number, hash: o.hash };
}

/** Writes a version file atomically (temp file + rename). */
export async function writeVersionFile(file: string, v: ConfigVersion): Promise<void> {
  const tmp = `${file}.tmp-${crypto.randomUUID().slice(0, 8)}`;
  await Deno.writeTextFile(tmp, JSON.stringify({ version: v.version, hash: v.hash }) + "\n");
  await Deno.rename(tmp, file);
}
