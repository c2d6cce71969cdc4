/**
 * The lock of a cache directory: a `LOCK` file naming the webcache instance that uses it.
 *
 * The cache role runs several worker processes that open the same directories. They belong to
 * one instance: the parent makes an instance id and passes it (and its own pid) to its workers.
 * A process whose instance id matches the lock joins it; a different instance is refused while
 * the lock's owner process is alive. A lock whose owner is dead is stale (the previous instance
 * crashed or was killed) and is taken over; {@link DirLock.crashed} tells the store to rebuild its
 * index, since the last index writes may be lost.
 *
 * The taker creates `LOCK` with `createNew` (O_EXCL, atomic), prepares the directory, then marks
 * the lock ready; joiners wait for ready so they never see a half-prepared directory.
 *
 * Limits: liveness is `/proc/<pid>` existence, so a recycled pid keeps a stale lock alive until
 * that process exits (the error message names the pid and the file to remove).
 *
 * @module
 */

/** Contents of the `LOCK` file. */
export interface LockRecord {
  instance: string;
  pid: number;
  hostname: string;
  startedAt: string;
  ready: boolean;
}

/** Thrown when a directory is locked by another live instance. */
export class DirLockedError extends Error {
  /** The lock found. */
  readonly holder: LockRecord;
  /**
   * @param dir the cache directory
   * @param holder the lock found
   */
  constructor(dir: string, holder: LockRecord) {
    super(
      `Cannot lock cache directory "${dir}": it is used by instance ${holder.instance} (pid ${holder.pid} on ` +
        `${holder.hostname} since ${holder.startedAt}); stop it or remove ${dir}/LOCK if that process is gone`,
    );
    this.name = "DirLockedError";
    this.holder = holder;
  }
}

/** A held (or joined) directory lock. */
export interface DirLock {
  /** True when this process created the lock (the first of its instance). */
  readonly taker: boolean;
  /** True when a stale lock of a dead instance was replaced: the index may be behind the files. */
  readonly crashed: boolean;
  /** Marks the lock ready for joiners (taker only). */
  markReady(): Promise<void>;
  /** Removes the lock if this process took it; joiners leave it. */
  release(): Promise<void>;
}

/**
 * The default instance id of this process: its pid and start time (from `/proc/self/stat`), so
 * every worker thread of one process shares it and a later process with a recycled pid does not.
 */
export function processInstanceId(): string {
  let start = "";
  try {
    const stat = Deno.readTextFileSync("/proc/self/stat");
    start = stat.slice(stat.lastIndexOf(")") + 2).split(" ")[19] ?? "";
  } catch {
    start = String(Date.now());
  }
  return `pid${Deno.pid}-${start}`;
}

function alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

async function readLock(path: string): Promise<LockRecord | undefined> {
  try {
    const rec = JSON.parse(await Deno.readTextFile(path)) as LockRecord;
    return typeof rec.instance === "string" && typeof rec.pid === "number" ? rec : undefined;
  } catch (e) {
    if (e instanceof Deno.errors.NotFound) return undefined;
    if (e instanceof SyntaxError) return undefined; // torn by a crash while being written
    throw e;
  }
}

/**
 * Takes or joins the lock of `dir`.
 *
 * @param dir the cache directory (must exist)
 * @param opts.instance id shared by the processes of one instance
 * @param opts.ownerPid pid whose liveness keeps the lock (the parent of the workers); default this process
 * @param opts.waitReadyMs how long a joiner waits for the taker to mark the lock ready
 * @throws {DirLockedError} when another live instance holds it
 */
export async function acquireDirLock(
  dir: string,
  opts: { instance: string; ownerPid?: number; waitReadyMs?: number },
): Promise<DirLock> {
  const path = `${dir}/LOCK`;
  const ownerPid = opts.ownerPid ?? Deno.pid;
  const mine: LockRecord = {
    instance: opts.instance,
    pid: ownerPid,
    hostname: Deno.hostname(),
    startedAt: new Date().toISOString(),
    ready: false,
  };
  let crashed = false;
  let unreadable = 0;
  for (let attempt = 0; attempt < 100; attempt++) {
    try {
      const f = await Deno.open(path, { createNew: true, write: true });
      try {
        await f.write(new TextEncoder().encode(JSON.stringify(mine)));
      } finally {
        f.close();
      }
      return {
        taker: true,
        crashed,
        async markReady() {
          const tmp = `${path}.${Deno.pid}.tmp`;
          await Deno.writeTextFile(tmp, JSON.stringify({ ...mine, ready: true }));
          await Deno.rename(tmp, path);
        },
        async release() {
          const cur = await readLock(path);
          if (cur?.instance === mine.instance) await Deno.remove(path).catch(() => {});
        },
      };
    } catch (e) {
      if (!(e instanceof Deno.errors.AlreadyExists)) throw e;
    }
    const cur = await readLock(path);
    if (!cur && unreadable++ < 20) {
      // Possibly being written by a racing taker right now: look again before calling it torn.
      await new Promise((res) => setTimeout(res, 25));
      continue;
    }
    if (cur && cur.instance === opts.instance) {
      const deadline = Date.now() + (opts.waitReadyMs ?? 30_000);
      for (let r: LockRecord | undefined = cur; !r?.ready; r = await readLock(path)) {
        if (r && r.instance !== opts.instance) break;
        if (Date.now() > deadline) {
          throw new Error(`Cannot join cache directory "${dir}": its lock did not become ready in time`);
        }
        await new Promise((res) => setTimeout(res, 20));
      }
      return { taker: false, crashed: false, markReady: async () => {}, release: async () => {} };
    }
    if (cur && alive(cur.pid) && cur.pid !== Deno.pid) throw new DirLockedError(dir, cur);
    // Stale (dead owner) or unreadable: take it over. Only one racer's remove+create wins.
    crashed = true;
    await Deno.remove(path).catch(() => {});
  }
  throw new Error(`Cannot lock cache directory "${dir}": lock file keeps changing`);
}
