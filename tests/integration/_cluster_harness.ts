/**
 * Starts gossip-only nodes (`_gossip_node.ts`) as processes, optionally inside a network
 * namespace, and follows the member list each one reports on stdout.
 *
 * @module
 */

import { configHash } from "../../cluster/config_hash.ts";
import { versionFileOf, writeVersionFile } from "../../cluster/config_version.ts";
import { validateConfig } from "../../config/load.ts";

const NODE = new URL("./_gossip_node.ts", import.meta.url).pathname;

/** A random base64 AES-256 key. */
export function randomKey(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
}

/** Fast timing for tests (with room for a machine loaded by parallel test suites). */
export const FAST = {
  probeIntervalMs: 300,
  probeTimeoutMs: 200,
  indirectProbes: 3,
  suspicionMult: 4,
  suspicionMaxTimeoutMult: 6,
  gossipIntervalMs: 50,
  pushPullIntervalMs: 1000,
  deadReclaimMs: 60_000,
};

/** A running node process. */
export class NodeProc {
  readonly name: string;
  readonly proc: Deno.ChildProcess;
  gossip = 0;
  admin = 0;
  id = "";
  /** The latest member list it reported: name → state. */
  view: Record<string, string> = {};
  readonly #done: Promise<void>;
  #ready!: (v: unknown) => void;
  readonly ready: Promise<unknown>;

  constructor(name: string, proc: Deno.ChildProcess) {
    this.name = name;
    this.proc = proc;
    this.ready = new Promise((r) => (this.#ready = r));
    this.#done = this.#read();
  }

  async #read(): Promise<void> {
    let buf = "";
    const dec = new TextDecoder();
    for await (const chunk of this.proc.stdout) {
      buf += dec.decode(chunk, { stream: true });
      let i;
      while ((i = buf.indexOf("\n")) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        try {
          const o = JSON.parse(line);
          if (o.gossip) {
            this.gossip = o.gossip;
            this.admin = o.admin;
            this.id = o.id;
            this.#ready(o);
          } else if (o.members) this.view = o.members;
        } catch { /* not ours */ }
      }
    }
    this.#ready(undefined);
  }

  /** kill -9 */
  kill(): void {
    try {
      this.proc.kill("SIGKILL");
    } catch { /* gone */ }
  }

  /** Sends SIGHUP (the node publishes a change of its config file). */
  hup(): void {
    this.proc.kill("SIGHUP");
  }

  /** Sends SIGTERM (graceful leave). */
  term(): void {
    try {
      this.proc.kill("SIGTERM");
    } catch { /* gone */ }
  }

  /** Waits for the process to end and its output to be read. */
  async finished(): Promise<Deno.CommandStatus> {
    const s = await this.proc.status;
    await this.#done;
    return s;
  }
}

/** Options of {@link startNode}. */
export interface StartNode {
  name: string;
  cluster: Record<string, unknown>;
  key?: string;
  record?: Record<string, unknown>;
  /** Run inside this network namespace. */
  netns?: string;
  /** Other config sections (director, ...) beside `cluster` and `log`. */
  config?: Record<string, unknown>;
  /**
   * Write the config to this file and start the node from it (served to peers with
   * `cluster.configSync`, with its version file beside it when `configVersion` is given).
   */
  configFile?: string;
  /**
   * With `configFile`: the config version the node starts at (a version file beside it), as if
   * the cluster had published that version before; default none (version 0, never published).
   */
  configVersion?: number;
}

/** Starts a node and waits until it is listening. */
export async function startNode(o: StartNode): Promise<NodeProc> {
  const cfg = {
    ...o.config,
    cluster: { gossipListen: "127.0.0.1:0", nodeName: o.name, ...o.cluster },
    log: { level: "warn" },
  };
  const args = [
    "run",
    "-A",
    "--unstable-net",
    "--unstable-kv",
    NODE,
    JSON.stringify(cfg),
    JSON.stringify(o.record ?? {}),
  ];
  if (o.configFile) {
    await Deno.writeTextFile(o.configFile, JSON.stringify(cfg)); // JSON is YAML
    if (o.configVersion !== undefined) {
      const hash = await configHash(validateConfig(cfg));
      await writeVersionFile(versionFileOf(o.configFile), { version: o.configVersion, hash });
    }
    args.push(o.configFile);
  }
  const cmd = o.netns
    ? new Deno.Command("ip", {
      args: ["netns", "exec", o.netns, Deno.execPath(), ...args],
      stdout: "piped",
      stderr: "null",
      env: o.key ? { WEBCACHE_CLUSTER_KEY: o.key } : {},
    })
    : new Deno.Command(Deno.execPath(), {
      args,
      stdout: "piped",
      stderr: "null",
      env: o.key ? { WEBCACHE_CLUSTER_KEY: o.key } : {},
    });
  const n = new NodeProc(o.name, cmd.spawn());
  const ok = await n.ready;
  if (!ok) {
    await n.finished();
    throw new Error(`Node ${o.name} exited before it was ready`);
  }
  return n;
}

/** Kills and reaps every node. */
export async function stopAll(nodes: Iterable<NodeProc | undefined>): Promise<void> {
  const list = [...nodes].filter((n): n is NodeProc => n !== undefined);
  for (const n of list) n.kill();
  await Promise.all(list.map((n) => n.finished()));
}

/**
 * Polls until `fn` holds.
 *
 * @returns milliseconds waited
 * @throws {Error} naming `what` after `ms`
 */
export async function until(
  what: string,
  fn: () => boolean,
  ms: number,
  nodes?: readonly (NodeProc | undefined)[],
): Promise<number> {
  const start = Date.now();
  while (!fn()) {
    if (Date.now() - start > ms) {
      const views = nodes ? `; views: ${JSON.stringify(nodes.map((n) => n && [n.name, n.view]))}` : "";
      throw new Error(`Timed out after ${ms} ms waiting for ${what}${views}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
  return Date.now() - start;
}

/** Runs a command and throws with its stderr when it fails. */
export async function sh(cmd: string, ...args: string[]): Promise<string> {
  const out = await new Deno.Command(cmd, { args, stdout: "piped", stderr: "piped" }).output();
  if (!out.success) {
    throw new Error(`${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return new TextDecoder().decode(out.stdout);
}

/** Creates a network namespace with loopback up (multicast enabled); returns its name. */
export async function makeNetns(prefix = "wccl"): Promise<string> {
  const name = `${prefix}${crypto.randomUUID().slice(0, 8)}`;
  await sh("ip", "netns", "add", name);
  try {
    await sh("ip", "-n", name, "link", "set", "lo", "up");
    await sh("ip", "-n", name, "link", "set", "lo", "multicast", "on");
    await sh("ip", "-n", name, "route", "add", "224.0.0.0/4", "dev", "lo");
  } catch (e) {
    await sh("ip", "netns", "del", name);
    throw e;
  }
  return name;
}

/** Deletes a network namespace (its nft tables go with it). */
export async function delNetns(name: string): Promise<void> {
  await sh("ip", "netns", "del", name);
}
