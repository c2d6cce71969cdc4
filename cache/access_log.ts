/**
 * Squid's native `access.log` format, one line per request:
 *
 * ```
 * time        elapsed client     code/status   bytes method URL                       user hierarchy/peer        type
 * 1064749418.434  178 127.0.0.1 TCP_MISS/200  2489 GET    http://www.example.com/    -    HIER_DIRECT/192.0.2.1 text/html
 * ```
 *
 * time is seconds.milliseconds since the epoch when the request completed; elapsed is milliseconds,
 * right-aligned in 6 columns (Squid's `%9d.%03d %6d`); bytes are those sent to the client (head and
 * body). Result and hierarchy codes (TCP_HIT for disk, TCP_MEM_HIT for memory, the TCP_REFRESH_*
 * family, SIBLING_HIT, CARP, HIER_DIRECT...) are chosen in `log_codes.ts`; also TCP_STALE_HIT,
 * TCP_DENIED, TCP_TUNNEL, NONE (errors before forwarding).
 *
 * @module
 */

/** One access log record. */
export interface AccessLogEntry {
  /** When the request finished, ms since epoch. */
  time: number;
  /** Time taken, ms. */
  elapsedMs: number;
  /** Client address. */
  client: string;
  /** Squid result code such as `TCP_MISS`. */
  code: string;
  /** HTTP status sent. */
  status: number;
  /** Bytes sent to the client. */
  bytes: number;
  /** Request method. */
  method: string;
  /** Request URL. */
  url: string;
  /** Authenticated user, `-` when none. */
  user?: string;
  /** Hierarchy code such as `HIER_DIRECT`, `HIER_NONE`, `SIBLING_HIT`, `PARENT_HIT`. */
  hierarchy: string;
  /** Peer or origin address, `-` when none. */
  peer: string;
  /** Response Content-Type, `-` when none. */
  type: string;
}

/**
 * Formats one line (without newline) in Squid's native format.
 *
 * @param e the record
 * @returns the line
 */
export function formatAccessLogLine(e: AccessLogEntry): string {
  const secs = Math.floor(e.time / 1000);
  const ms = String(Math.floor(e.time % 1000)).padStart(3, "0");
  const elapsed = String(Math.max(0, Math.round(e.elapsedMs))).padStart(6, " ");
  const status = String(e.status).padStart(3, "0");
  // deno-lint-ignore no-control-regex -- control characters are what is being matched
  const clean = (s: string) => s.length === 0 ? "-" : s.replace(/[\s\x00-\x1f]/g, "%20");
  return `${secs}.${ms} ${elapsed} ${clean(e.client)} ${e.code}/${status} ${e.bytes} ${clean(e.method)} ${
    clean(e.url)
  } ${clean(e.user ?? "-")} ${e.hierarchy}/${clean(e.peer)} ${clean(e.type.split(";")[0].trim() || "-")}`;
}

/**
 * Where access log lines go: a file (appended), stdout, or nowhere.
 *
 * Log rotation (logrotate's `create` without `copytruncate`): rename the file, then SIGHUP the
 * cache, which calls {@link AccessLog.reopen} in every worker. Lines buffered or being written
 * before the reopen go to the renamed file, every later line to the new one: none is lost or
 * written twice, because writes and the switch run one after another on one queue.
 */
export class AccessLog {
  #file?: Deno.FsFile;
  #target: string;
  #buf: string[] = [];
  #bytes = 0;
  #timer?: ReturnType<typeof setInterval>;
  #pending: Promise<void> = Promise.resolve();

  /**
   * Opens the log.
   *
   * @param target `none`, `stdout`, or a file path (opened for append, created if missing)
   * @throws {Deno.errors.NotFound} or {Deno.errors.PermissionDenied} when the file cannot be opened
   */
  constructor(target: string) {
    this.#target = target;
    this.#file = AccessLog.#open(target);
    this.#arm();
  }

  static #open(target: string): Deno.FsFile | undefined {
    if (target === "none" || target === "" || target === "stdout") return undefined;
    try {
      return Deno.openSync(target, { append: true, create: true, write: true });
    } catch (e) {
      const why = e instanceof Deno.errors.NotFound
        ? "its directory does not exist"
        : (e as Error).message.replace(/\s*\(os error \d+\).*$/, "");
      const Kind = e instanceof Deno.errors.PermissionDenied ? Deno.errors.PermissionDenied : Deno.errors.NotFound;
      throw new Kind(`Cannot open cache.accessLog "${target}": ${why}`, { cause: e });
    }
  }

  #arm(): void {
    clearInterval(this.#timer);
    this.#timer = this.enabled ? setInterval(() => this.flush(), 1000) : undefined;
  }

  /** Whether lines are written anywhere. */
  get enabled(): boolean {
    return this.#target !== "none" && this.#target !== "";
  }

  /** Where lines go: a path, `stdout` or `none`. */
  get target(): string {
    return this.#target;
  }

  /** Queues one record; lines are written at least every second and when 64 KiB are buffered. */
  log(e: AccessLogEntry): void {
    if (!this.enabled) return;
    const line = formatAccessLogLine(e) + "\n";
    this.#buf.push(line);
    this.#bytes += line.length;
    if (this.#bytes >= 64 * 1024) this.flush();
  }

  /** Writes buffered lines. */
  flush(): Promise<void> {
    if (this.#buf.length === 0) return this.#pending;
    const data = new TextEncoder().encode(this.#buf.join(""));
    this.#buf = [];
    this.#bytes = 0;
    this.#pending = this.#pending.then(async () => {
      let off = 0;
      const w = this.#file ?? Deno.stdout;
      while (off < data.length) off += await w.write(data.subarray(off));
    }).catch(() => {});
    return this.#pending;
  }

  /**
   * Writes what is buffered to the current file, then opens `target` (by default the same path
   * again: after a rename that creates a new file) and closes the old one. When the new file
   * cannot be opened the old one stays in use.
   *
   * @param target the new destination (`cache.accessLog` after a reload); default the current one
   * @throws {Deno.errors.NotFound} or {Deno.errors.PermissionDenied} when `target` cannot be opened
   */
  reopen(target: string = this.#target): Promise<void> {
    this.flush();
    const done = this.#pending.then(() => {
      const next = AccessLog.#open(target);
      const old = this.#file;
      this.#file = next;
      this.#target = target;
      old?.close();
      this.#arm();
    });
    this.#pending = done.catch(() => {});
    return done;
  }

  /** Flushes and closes the file. */
  async close(): Promise<void> {
    clearInterval(this.#timer);
    await this.flush();
    this.#file?.close();
    this.#file = undefined;
  }
}
