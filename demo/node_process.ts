/**
 * One webcache node the demo runs as a child process: its config file, its log file, readiness
 * by polling the admin endpoint, and a stop that never leaves the process behind (SIGTERM, then
 * SIGKILL after a grace period).
 *
 * @module
 */
import { DENO_RUN_FLAGS } from "../core/deno_flags.ts";

/** How to run webcache itself: the same executable and entry point as this process. */
export function webcacheArgv(): string[] {
  const main = Deno.mainModule;
  // `deno run ... main.ts|dist/webcache.js`: run the same module again. A `deno compile`d binary
  // has its entry inside the binary: run the binary itself.
  if (main.startsWith("file://") && !main.includes("/$deno$/") && !main.includes("deno-compile")) {
    return [Deno.execPath(), "run", ...DENO_RUN_FLAGS, new URL(main).pathname];
  }
  return [Deno.execPath()];
}

/** Options of {@link NodeProcess.spawn}. */
export interface NodeSpawnOptions {
  /** Node name (for messages). */
  name: string;
  /** Arguments after the webcache program (`cache --config FILE`). */
  args: string[];
  /** File receiving the node's stdout and stderr (its JSON log lines). */
  logFile: string;
  /** Prefix argv, e.g. `["ip", "netns", "exec", NS]` to run inside a namespace. */
  wrap?: string[];
  /** Extra environment. */
  env?: Record<string, string>;
}

/** A running node process. */
export class NodeProcess {
  /** Node name. */
  readonly name: string;
  /** Its log file. */
  readonly logFile: string;
  readonly #child: Deno.ChildProcess;
  readonly #copied: Promise<void>;
  #exited?: Deno.CommandStatus;
  /** Resolves with the exit status. */
  readonly status: Promise<Deno.CommandStatus>;

  private constructor(name: string, logFile: string, child: Deno.ChildProcess, copied: Promise<void>) {
    this.name = name;
    this.logFile = logFile;
    this.#child = child;
    this.#copied = copied;
    this.status = child.status.then((s) => (this.#exited = s));
  }

  /**
   * Starts a node; its output goes to `logFile`.
   *
   * @throws {Error} when the program cannot be started
   */
  static async spawn(opts: NodeSpawnOptions): Promise<NodeProcess> {
    const argv = [...(opts.wrap ?? []), ...webcacheArgv(), ...opts.args];
    const file = await Deno.open(opts.logFile, { write: true, create: true, truncate: true });
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(argv[0], {
        args: argv.slice(1),
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        env: opts.env,
      }).spawn();
    } catch (e) {
      file.close();
      throw new Error(`Cannot start ${opts.name}: ${(e as Error).message}`, { cause: e });
    }
    // Both streams into one file; closed when both end (the process exited).
    const w = file.writable.getWriter();
    const pump = async (s: ReadableStream<Uint8Array>) => {
      for await (const chunk of s) await w.write(chunk);
    };
    const copied = Promise.allSettled([pump(child.stdout), pump(child.stderr)]).then(() => w.close().catch(() => {}));
    return new NodeProcess(opts.name, opts.logFile, child, copied);
  }

  /** Process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** The exit status once it exited, else undefined. */
  get exited(): Deno.CommandStatus | undefined {
    return this.#exited;
  }

  /** Last `lines` lines of its log (for error messages). */
  async tail(lines = 15): Promise<string> {
    try {
      const text = await Deno.readTextFile(this.logFile);
      return text.trimEnd().split("\n").slice(-lines).join("\n");
    } catch {
      return "";
    }
  }

  /** Kills the node at once (SIGKILL, as a crash would); `status` resolves when it is gone. */
  kill(): void {
    try {
      this.#child.kill("SIGKILL");
    } catch { /* already gone */ }
  }

  /**
   * Stops the node: SIGTERM, then SIGKILL after `graceMs`; resolves when it has exited and its
   * output is written.
   */
  async stop(graceMs = 5000): Promise<Deno.CommandStatus> {
    if (!this.#exited) {
      try {
        this.#child.kill("SIGTERM");
      } catch { /* already gone */ }
      let timer: ReturnType<typeof setTimeout> | undefined;
      const killed = new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          try {
            this.#child.kill("SIGKILL");
          } catch { /* exited meanwhile */ }
          resolve();
        }, graceMs);
      });
      await Promise.race([this.status, killed]);
      clearTimeout(timer);
    }
    const s = await this.status;
    await this.#copied;
    return s;
  }
}

/**
 * Polls `http://ADMIN/healthz` until it answers 200.
 *
 * @param admin `HOST:PORT`
 * @param opts.timeoutMs give up after (default 30,000); opts.proc fail early when it exits
 * @throws {Error} on timeout or when the process exited, with the end of its log
 */
export async function waitHealthy(admin: string, opts: { timeoutMs?: number; proc?: NodeProcess } = {}): Promise<void> {
  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  for (;;) {
    if (opts.proc?.exited) {
      throw new Error(
        `${opts.proc.name} exited with status ${opts.proc.exited.code} while starting:\n${await opts.proc.tail()}`,
      );
    }
    try {
      const res = await fetch(`http://${admin}/healthz`, { signal: AbortSignal.timeout(1000) });
      await res.body?.cancel();
      if (res.ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) {
      const tail = opts.proc ? `:\n${await opts.proc.tail()}` : "";
      throw new Error(`${opts.proc?.name ?? admin} did not become ready within ${opts.timeoutMs ?? 30_000} ms${tail}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}
