/**
 * Open object files kept for the next hit (an open-file cache, like nginx's `open_file_cache`).
 * Private to the disk store.
 *
 * Opening a file by path costs more than reading a small one from the page cache (the path walk
 * through two directory levels); a kept descriptor costs a seek and an `fstat()` instead. A kept
 * descriptor still reaches its inode after the path was renamed over (a newer version installed)
 * or unlinked (deleted, evicted, damaged), by this worker or another one: `take()` checks the link
 * count and never hands out a descriptor whose file is gone from the directory. Descriptors of
 * files deleted elsewhere hold their disk space until they are taken, pushed out by newer ones or
 * found by `sweep()`.
 *
 * @module
 */

/** Upper bound of descriptors kept per cache directory and worker. */
export const MAX_OPEN_FILES = 16384;

/**
 * How many descriptors one cache directory of one worker may keep: half the process's soft
 * `RLIMIT_NOFILE` (the other half stays for sockets and the rest) shared by every worker and
 * directory, at most {@link MAX_OPEN_FILES}; 0 when the limit cannot be read.
 *
 * @param workers worker threads sharing the process's descriptors
 * @param dirs cache directories per worker
 * @param limits the text of `/proc/self/limits` (read when omitted)
 */
export function openFileBudget(workers: number, dirs: number, limits?: string): number {
  let text = limits;
  if (text === undefined) {
    try {
      text = Deno.readTextFileSync("/proc/self/limits");
    } catch {
      return 0;
    }
  }
  const m = /^Max open files\s+(\d+|unlimited)/m.exec(text);
  if (!m) return 0;
  const soft = m[1] === "unlimited" ? Infinity : Number(m[1]);
  return Math.max(0, Math.min(MAX_OPEN_FILES, Math.floor(soft / 2 / Math.max(1, workers) / Math.max(1, dirs))));
}

/**
 * A kept descriptor handed out by {@link OpenFiles.take} (at whatever position its last reader
 * left it: seek before reading).
 */
export interface TakenFile<T = unknown> {
  file: Deno.FsFile;
  /** What the caller kept with the descriptor ({@link OpenFiles.keep}), e.g. a mapping of the file. */
  extra?: T;
  /** The file's size at the check. */
  size: number;
  /** The `fstat()` of the check (inode, times), for callers that identify file versions. */
  stat: Deno.FileInfo;
}

/** Open files by path, least recently used pushed out first, each with an optional `T` of the caller's. */
export class OpenFiles<T = unknown> {
  readonly #max: number;
  readonly #files = new Map<string, Deno.FsFile>();
  readonly #extras = new Map<string, T>();
  #sweepFrom = 0;

  /** @param max descriptors kept at most (0: none) */
  constructor(max: number) {
    this.#max = max;
  }

  /** Descriptors kept now. */
  get size(): number {
    return this.#files.size;
  }

  /**
   * The kept descriptor of `path` (and what was kept with it), if its file is still linked;
   * otherwise closes it (if any) and returns undefined. The caller gives it back with {@link keep}
   * or closes it.
   */
  take(path: string): TakenFile<T> | undefined {
    const file = this.#files.get(path);
    if (!file) return undefined;
    this.#files.delete(path);
    const extra = this.#extras.get(path);
    this.#extras.delete(path);
    try {
      const stat = file.statSync();
      if (stat.nlink === 0 || !stat.isFile) throw new Error("unlinked");
      return { file, extra, size: stat.size, stat };
    } catch {
      close(file);
      return undefined;
    }
  }

  /**
   * Keeps `file` open for `path` (the most recently used), with `extra` if given, closing the
   * oldest beyond the bound.
   */
  keep(path: string, file: Deno.FsFile, extra?: T): void {
    if (this.#max <= 0) return close(file);
    const old = this.#files.get(path);
    if (old && old !== file) close(old);
    this.#files.delete(path);
    this.#files.set(path, file);
    if (extra === undefined) this.#extras.delete(path);
    else this.#extras.set(path, extra);
    if (this.#files.size > this.#max) {
      const [p, f] = this.#files.entries().next().value!;
      this.#files.delete(p);
      this.#extras.delete(p);
      close(f);
    }
  }

  /** Closes the kept descriptor of `path` (the file was deleted or replaced by this worker). */
  drop(path: string): void {
    const f = this.#files.get(path);
    if (!f) return;
    this.#files.delete(path);
    this.#extras.delete(path);
    close(f);
  }

  /**
   * Checks up to `limit` kept descriptors, round robin, and closes those whose file was unlinked
   * (deleted by another worker), so they stop holding its disk space.
   */
  sweep(limit = 512): number {
    let closed = 0;
    const entries = [...this.#files];
    if (entries.length === 0) return 0;
    const n = Math.min(limit, entries.length);
    for (let i = 0; i < n; i++) {
      const [p, f] = entries[(this.#sweepFrom + i) % entries.length];
      let gone = true;
      try {
        gone = f.statSync().nlink === 0;
      } catch { /* closed or broken: drop it */ }
      if (gone) {
        this.#files.delete(p);
        this.#extras.delete(p);
        close(f);
        closed++;
      }
    }
    this.#sweepFrom = (this.#sweepFrom + n) % Math.max(1, entries.length);
    return closed;
  }

  /** Closes every kept descriptor. */
  closeAll(): void {
    for (const f of this.#files.values()) close(f);
    this.#files.clear();
    this.#extras.clear();
  }
}

function close(f: Deno.FsFile): void {
  try {
    f.close();
  } catch { /* closed already */ }
}
