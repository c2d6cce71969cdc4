/**
 * `OriginPool`: an HTTP/1.1 client for origin servers and parent caches with a keep-alive
 * connection pool per `host:port`, connect and response-header timeouts, and one transparent retry
 * when a reused idle connection turns out to have been closed by the origin.
 *
 * The response-header timeout costs no timer per request: each waiting connection carries a
 * deadline, and one interval timer per pool (running only while some request waits for its head)
 * closes the connections whose deadline passed. A timeout therefore fires between
 * `readTimeoutMs` and `readTimeoutMs` + one sweep period ({@link sweepPeriodMs}) after the request.
 *
 * The same timeout bounds each wait for response body bytes, so a stalled origin body cannot hold
 * the connection (and the clients waiting for it) forever.
 *
 * A connection goes back to the pool only when its exchange ended cleanly: the response was read
 * exactly to its end with nothing left over, and its framing left no doubt. Otherwise (bytes after
 * a Content-Length or chunked body, a body on a HEAD/204/304 answer, a 204 announcing a body,
 * Transfer-Encoding in HTTP/1.0, an unasked-for 101) it is closed and the response is marked not {@link OriginResponse.clean}, so
 * the cache does not store it. While idle in the pool each connection keeps one read outstanding:
 * bytes or a close arriving on an idle connection discard it, so an origin's stray bytes can never
 * become the answer to the next request sent on it.
 *
 * An endpoint with `tls` set is an `https://` origin: the connection is upgraded with TLS
 * (`origin_tls.ts`: SNI and verification against `serverName`, else `hostname`), inside the connect
 * timeout, and pooled apart from plain connections to the same address and from other names. A
 * failed handshake or verification is an {@link OriginError} with reason `tls`.
 *
 * @module
 */
import { ConnReader } from "./conn_reader.ts";
import {
  type BodyFraming,
  contentLength,
  HttpParseError,
  latin1Encode,
  latin1EncodeInto,
  parseResponseHead,
  responseFraming,
  type ResponseHead,
} from "./head_codec.ts";
import { encodeChunk, LAST_CHUNK } from "./chunked.ts";
import { closeQuietly, type Endpoint } from "./server.ts";
import { shutdownTcpSockets } from "../netctl/socket_shutdown.ts";
import {
  connectInsecureTls,
  type OriginConn,
  OriginTlsError,
  type OriginTlsOptions,
  startOriginTls,
} from "./origin_tls.ts";

/** An origin address; with `tls` an `https://` origin. */
export interface OriginEndpoint extends Endpoint {
  /** Speak TLS to it. */
  tls?: boolean;
  /** The name sent as SNI and verified in its certificate; default `hostname` (set when `hostname` is a resolved address). */
  serverName?: string;
}

/** Why an origin request failed (the `reason` label of the failure metric). */
export type OriginFailure = "connect" | "refused" | "timeout" | "reset" | "protocol" | "tls";

/** An origin request failed before a usable response head arrived. */
export class OriginError extends Error {
  /** Failure class. */
  readonly reason: OriginFailure;
  /**
   * Creates the error.
   *
   * @param message what failed, e.g. `Cannot connect to origin 10.0.0.1:80: connection refused`
   * @param reason failure class
   * @param options error cause
   */
  constructor(message: string, reason: OriginFailure, options?: ErrorOptions) {
    super(message, options);
    this.name = "OriginError";
    this.reason = reason;
  }
}

/** One request to send. */
export interface OriginRequestInit {
  /** Request method. */
  method: string;
  /** Request target as sent (origin-form for origins, absolute-form for parent proxies). */
  target: string;
  /** Fields to send, Host included; hop-by-hop fields already removed. */
  headers: [string, string][];
  /** Body: bytes (replayable, sent with Content-Length) or a stream (sent chunked). */
  body?: Uint8Array | AsyncIterable<Uint8Array>;
  /**
   * Called with each interim (1xx, not 101) response head, in the order received, before the
   * final response (RFC 9110 §15.2); the next head is read once it settles. Must not throw.
   * Without it interim responses are skipped.
   */
  onInterim?: (head: ResponseHead) => void | Promise<void>;
  /**
   * Called with the peer address of the connection (new or pooled) before anything is sent on it;
   * when it throws, the connection is closed and the request fails with that error (a proxy's
   * check of the address it actually reached, whatever DNS said).
   */
  checkRemote?: (remote: Deno.Addr) => void;
}

/** A response whose head has arrived. */
export interface OriginResponse {
  /** The response status line and fields. */
  head: ResponseHead;
  /** How its body is delimited. */
  framing: BodyFraming;
  /** Reads the body; the connection returns to the pool after the last byte. */
  body(): AsyncIterable<Uint8Array>;
  /**
   * Reads a length-delimited body (`framing.kind === "length"`) into one buffer, instead of
   * `body()`: no async iteration, and no promise at all when the body arrived with the head. The
   * connection returns to the pool once it is read.
   *
   * @throws {OriginError} `reset` when the origin closes the connection before the last byte
   * @throws {TypeError} for other framings
   */
  readWhole(): Uint8Array | Promise<Uint8Array>;
  /** Closes the connection (e.g. the body is not wanted); safe after `body()` ended. */
  abort(): void;
  /**
   * False when the exchange showed framing trouble (bytes after the body, a body on an answer
   * that has none, a 204 announcing a body): the connection was closed, and the response must not
   * be stored. Final once the body was read (or at once for answers without a body).
   */
  readonly clean: boolean;
  /**
   * For an answer without a body that still describes one (to HEAD, or a 304), the origin's
   * Content-Length: the length a GET would have got, which a proxy relays unchanged
   * (RFC 9110 8.6, 9.3.2). Undefined otherwise.
   */
  readonly declaredLength?: number;
  /**
   * Calls `fn` if stray bytes arrive on the connection after this response, while it is idle in
   * the pool (the connection is then discarded): the origin sent more than this response's framing
   * said, so this response was probably cut wrong and should not stay stored. `clean` turns false.
   *
   * @param fn called at most once
   */
  onLateTrouble(fn: () => void): void;
}

/** Options of {@link OriginPool}. */
export interface OriginPoolOptions {
  /** Time allowed to establish a connection (ms). */
  connectTimeoutMs: number;
  /** Time allowed for the response head after the request was sent, and for each wait for body bytes. */
  readTimeoutMs: number;
  /** Idle keep-alive connections kept per origin. */
  maxIdlePerHost: number;
  /** Trust and verification for `https://` origins. */
  tls?: OriginTlsOptions;
}

interface PooledConn {
  conn: OriginConn;
  reader: ConnReader;
  /** When it last went back to the pool (ms since epoch). */
  idleSince: number;
  /** When the response head must have arrived (ms since epoch), while waiting for it. */
  deadline: number;
  /** Set by the sweep that closed it for missing its deadline. */
  timedOut: boolean;
  /** Reusable buffer for request heads (see {@link SCRATCH_MAX_BYTES}). */
  scratch?: Uint8Array;
  /** Whether it sits in the idle list (its watch read then discards it on any input). */
  idle: boolean;
  /** Tells the last response that stray bytes followed it (while idle). */
  onStray?: () => void;
}

/** Interim (1xx) responses accepted before the final one; more is a protocol error. */
export const MAX_INTERIM_RESPONSES = 16;

/** Methods a request may be sent again for after a stale pooled connection (RFC 9110 9.2.2). */
const IDEMPOTENT = new Set(["GET", "HEAD", "OPTIONS", "TRACE", "PUT", "DELETE"]);

/**
 * An error thrown by a streamed request body while it was being sent (a client's malformed or
 * stalled upload). {@link OriginPool.request} rethrows it unchanged, never as an
 * {@link OriginError}: the origin is not at fault. The origin connection is closed.
 */
export interface RequestBodyFailure extends Error {
  /** Marks the error as the request body's. */
  readonly requestBody: true;
}

/**
 * Whether `e` came from a request body (see {@link RequestBodyFailure}).
 *
 * @param e an error from {@link OriginPool.request}
 * @returns true when the body source failed, not the origin
 */
export function isRequestBodyFailure(e: unknown): e is RequestBodyFailure {
  return e instanceof Error && (e as Partial<RequestBodyFailure>).requestBody === true;
}

/** Requests (head plus a buffered body) up to this size are encoded into a per-connection buffer. */
const SCRATCH_MAX_BYTES = 16 * 1024;

/**
 * The request head as ISO-8859-1 text: request line, the fields minus any framing fields, then
 * this request's own framing (`Content-Length` for a buffered body, chunked for a stream).
 */
function requestHeadText(init: OriginRequestInit, fixed: Uint8Array | undefined): string {
  let s = `${init.method} ${init.target} HTTP/1.1\r\n`;
  for (const [k, v] of init.headers) {
    if (k !== "content-length" && k !== "transfer-encoding") s += `${k}: ${v}\r\n`;
  }
  if (fixed) s += `content-length: ${fixed.length}\r\n`;
  else if (init.body) s += "transfer-encoding: chunked\r\n";
  return s + "\r\n";
}

/**
 * How often the pool checks response-header deadlines: a quarter of the timeout, between 10 and
 * 250 ms (so a 30 s timeout fires at most 250 ms late, a 300 ms one at most 75 ms late).
 *
 * @param readTimeoutMs the response-header timeout
 * @returns the sweep period in ms
 */
export function sweepPeriodMs(readTimeoutMs: number): number {
  return Math.min(250, Math.max(10, Math.floor(readTimeoutMs / 4)));
}

/**
 * Idle connections older than this are closed instead of reused: most origins close idle
 * keep-alive connections after 5 to 120 s, and a request on a connection the origin is closing
 * costs a retry.
 */
export const MAX_IDLE_MS = 30_000;

/** The origin client with its connection pool. */
export class OriginPool {
  #opts: OriginPoolOptions;
  readonly #idle = new Map<string, PooledConn[]>();
  readonly #busy = new Set<PooledConn>();
  /** Connections waiting for a response head (checked by the sweep). */
  readonly #waiting = new Set<PooledConn>();
  #sweepTimer?: ReturnType<typeof setInterval>;
  #closed = false;

  /**
   * Creates an empty pool.
   *
   * @param opts timeouts and pool size
   */
  constructor(opts: OriginPoolOptions) {
    this.#opts = opts;
  }

  /**
   * Changes timeouts and the idle pool size for the requests that start from now on (a SIGHUP
   * reload of `cache.origin`).
   *
   * @param opts the new options
   */
  setOptions(opts: OriginPoolOptions): void {
    this.#opts = { ...opts };
  }

  /** Number of idle pooled connections (for tests and status). */
  get idleCount(): number {
    let n = 0;
    for (const l of this.#idle.values()) n += l.length;
    return n;
  }

  /** Whether the header-timeout sweep timer is running (for tests and status). */
  get sweeping(): boolean {
    return this.#sweepTimer !== undefined;
  }

  /**
   * Sends a request and waits for the final response head (1xx responses go to `init.onInterim`).
   *
   * @param to origin address
   * @param init request
   * @returns the response; read or abort its body
   * @throws {OriginError} on connect failure, timeout, reset or a malformed response
   */
  async request(to: OriginEndpoint, init: OriginRequestInit): Promise<OriginResponse> {
    const key = to.tls
      ? `https://${to.serverName ?? to.hostname}@${to.hostname}:${to.port}`
      : `${to.hostname}:${to.port}`;
    const replayable = (init.body === undefined || init.body instanceof Uint8Array) && IDEMPOTENT.has(init.method);
    for (let attempt = 0;; attempt++) {
      // A retry always uses a new connection: the idle ones are probably as stale as the first.
      const idle = attempt === 0 ? this.#idle.get(key) : undefined;
      let pooled = idle?.pop();
      // Too old, or input arrived while idle (stray bytes, or the origin closed it): discard.
      while (
        pooled && (Date.now() - pooled.idleSince > MAX_IDLE_MS || pooled.reader.buffered > 0 || pooled.reader.eof)
      ) {
        pooled.idle = false;
        if (pooled.reader.buffered > 0) pooled.onStray?.();
        pooled.onStray = undefined;
        closeQuietly(pooled.conn);
        pooled = idle?.pop();
      }
      if (pooled) {
        pooled.idle = false;
        pooled.onStray = undefined;
      }
      const pc = pooled ?? await this.#connect(to);
      this.#busy.add(pc);
      try {
        init.checkRemote?.(pc.conn.remoteAddr);
        return await this.#exchange(key, pc, init);
      } catch (e) {
        this.#busy.delete(pc);
        closeQuietly(pc.conn);
        if (isRequestBodyFailure(e)) throw e;
        const early = e instanceof OriginError && e.reason === "reset";
        if (pooled && early && replayable && attempt === 0) {
          // The origin closed an idle connection: drop the others idle since before it too.
          for (const old of this.#idle.get(key)?.splice(0) ?? []) closeQuietly(old.conn);
          continue;
        }
        throw e;
      }
    }
  }

  /** Closes every pooled connection, idle or busy. */
  close(): void {
    this.#closed = true;
    this.#waiting.clear();
    this.#stopSweep();
    for (const l of this.#idle.values()) {
      for (const pc of l) {
        pc.idle = false;
        closeQuietly(pc.conn);
      }
    }
    this.#idle.clear();
    for (const pc of this.#busy) closeQuietly(pc.conn);
    this.#busy.clear();
  }

  async #connect(to: OriginEndpoint): Promise<PooledConn> {
    const ac = new AbortController();
    const timer = setTimeout(() => ac.abort(), this.#opts.connectTimeoutMs);
    try {
      const conn = await this.#open(to, ac.signal);
      return { conn, reader: new ConnReader(conn), idleSince: 0, deadline: Infinity, timedOut: false, idle: false };
    } catch (e) {
      const where = `${to.hostname}:${to.port}`;
      if (e instanceof OriginTlsError && !ac.signal.aborted) {
        throw new OriginError(`Cannot connect to origin ${where}: ${e.message}`, "tls", { cause: e });
      }
      if (ac.signal.aborted) {
        throw new OriginError(
          `Cannot connect to origin ${where}: no answer in ${this.#opts.connectTimeoutMs} ms`,
          "timeout",
          {
            cause: e,
          },
        );
      }
      const reason = e instanceof Deno.errors.ConnectionRefused ? "refused" : "connect";
      throw new OriginError(`Cannot connect to origin ${where}: ${(e as Error).message}`, reason, { cause: e });
    } finally {
      clearTimeout(timer);
    }
  }

  /** A TCP connection, upgraded to TLS for an `https://` endpoint (the handshake inside `signal`'s time). */
  async #open(to: OriginEndpoint, signal: AbortSignal): Promise<OriginConn> {
    const name = to.serverName ?? to.hostname;
    if (to.tls && this.#opts.tls?.insecure) return await connectInsecureTls(to, name, signal);
    const conn = await Deno.connect({ hostname: to.hostname, port: to.port, signal });
    conn.setNoDelay(true);
    if (!to.tls) return conn;
    // Deno.startTls consumes `conn`, and closing a TLS connection mid-handshake waits for the
    // handshake: on abort, shut the socket down so the handshake ends (and frees it) at once.
    const ends = { local: conn.localAddr, remote: conn.remoteAddr };
    const onAbort = () => {
      try {
        shutdownTcpSockets([ends]);
      } catch { /* /proc unreadable: the handshake then ends when the origin closes */ }
      closeQuietly(conn);
    };
    signal.addEventListener("abort", onAbort, { once: true });
    try {
      return await startOriginTls(conn, name, this.#opts.tls ?? {});
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  }

  async #exchange(key: string, pc: PooledConn, init: OriginRequestInit): Promise<OriginResponse> {
    const fixed = init.body instanceof Uint8Array ? init.body : undefined;
    const text = requestHeadText(init, fixed);
    this.#wait(pc);
    let gotBytes = false;
    try {
      const total = text.length + (fixed?.length ?? 0);
      if (total <= SCRATCH_MAX_BYTES) {
        // Head (and a small body) encoded into the connection's own buffer: one write, no
        // allocation. The buffer is reused only after this write resolved.
        if (!pc.scratch || pc.scratch.length < total) pc.scratch = new Uint8Array(Math.max(total, 2048));
        const out = pc.scratch.subarray(0, total);
        latin1EncodeInto(text, out);
        if (fixed) out.set(fixed, text.length);
        // Usually one write takes it all: no writeAll frame unless it did not.
        const n = await pc.conn.write(out);
        if (n < total) await writeAll(pc.conn, out.subarray(n));
      } else {
        await writeAll(pc.conn, fixed ? concat(latin1Encode(text), fixed) : latin1Encode(text));
      }
      if (init.body && !fixed) await this.#sendStream(pc, init.body as AsyncIterable<Uint8Array>);
      let resHead: ResponseHead;
      for (let interim = 0;; interim++) {
        const bytes = await pc.reader.readHead(64 * 1024, () => {
          gotBytes = true;
        });
        if (bytes === null) throw new OriginError(`Origin ${key} closed the connection without a response`, "reset");
        resHead = parseResponseHead(bytes);
        if (resHead.status >= 200) break;
        // The cache never asks to switch protocols (Upgrade is hop-by-hop): a 101 would leave the
        // connection speaking something else.
        if (resHead.status === 101) throw new HttpParseError("Cannot use response: 101 Switching Protocols unasked");
        if (interim >= MAX_INTERIM_RESPONSES) {
          throw new HttpParseError(`Cannot use response: more than ${MAX_INTERIM_RESPONSES} interim responses`);
        }
        if (init.onInterim) await init.onInterim(resHead);
      }
      this.#unwait(pc);
      const framing = responseFraming(resHead, init.method);
      const conn = resHead.headers.get("connection")?.toLowerCase() ?? "";
      // A 204 has no body and announces none (RFC 9110 15.3.5, 8.6; RFC 9112 6.1): one that does is
      // not trusted, nor is what follows it on the connection.
      // An HTTP/1.0 message with Transfer-Encoding has faulty framing (RFC 9112 6.1).
      const clean = !(resHead.status === 204 &&
        (resHead.headers.has("transfer-encoding") || (contentLength(resHead.headers, "response") ?? 0) > 0)) &&
        !(resHead.minor === 0 && resHead.headers.has("transfer-encoding"));
      const reusable = clean && framing.kind !== "close" && resHead.minor === 1 &&
        (conn === "" || !/\bclose\b/.test(conn));
      const s = resHead.status;
      const describes = framing.kind === "none" && s >= 200 && s !== 204 && (init.method === "HEAD" || s === 304);
      const r = new PooledResponse(this.#ops, key, pc, resHead, framing, {
        clean,
        reusable,
        declaredLength: describes ? contentLength(resHead.headers, "response") : undefined,
      });
      if (framing.kind === "none") r.release(true);
      return r;
    } catch (e) {
      this.#unwait(pc);
      if (e instanceof OriginError || isRequestBodyFailure(e)) throw e;
      if (pc.timedOut) {
        throw new OriginError(`Origin ${key} sent no response head in ${this.#opts.readTimeoutMs} ms`, "timeout", {
          cause: e,
        });
      }
      if (e instanceof HttpParseError) {
        if (!gotBytes) throw new OriginError(`Origin ${key} closed the connection: ${e.message}`, "reset");
        throw new OriginError(`Bad response from origin ${key}: ${e.message}`, "protocol", { cause: e });
      }
      throw new OriginError(`Origin ${key} failed: ${(e as Error).message}`, gotBytes ? "protocol" : "reset", {
        cause: e,
      });
    }
  }

  /** Sends a streamed body chunked; an error of the body source is marked {@link RequestBodyFailure}. */
  async #sendStream(pc: PooledConn, body: AsyncIterable<Uint8Array>): Promise<void> {
    const it = body[Symbol.asyncIterator]();
    while (true) {
      let step: IteratorResult<Uint8Array>;
      // Waiting for the client's next bytes is not the origin's time: the response-header
      // deadline covers each write, and starts afresh after the last one.
      this.#unwait(pc);
      try {
        step = await it.next();
      } catch (e) {
        const err = e instanceof Error ? e : new Error(String(e));
        if (!isRequestBodyFailure(err)) Object.defineProperty(err, "requestBody", { value: true });
        throw err;
      }
      this.#wait(pc);
      if (step.done) break;
      if (step.value.length) await writeAll(pc.conn, encodeChunk(step.value));
    }
    await writeAll(pc.conn, LAST_CHUNK);
  }

  /**
   * Puts a connection in the idle list and keeps one read outstanding on it: if that read ends
   * (bytes, or the origin closing) while the connection is still idle, it is discarded.
   */
  #park(key: string, pc: PooledConn, list: PooledConn[]): void {
    pc.idleSince = Date.now();
    pc.idle = true;
    list.push(pc);
    this.#idle.set(key, list);
    const discard = () => {
      if (!pc.idle) return; // taken for a request: the read is that request's answer
      pc.idle = false;
      if (pc.reader.buffered > 0) pc.onStray?.();
      pc.onStray = undefined;
      const l = this.#idle.get(key);
      const at = l?.indexOf(pc) ?? -1;
      if (at !== -1) l!.splice(at, 1);
      closeQuietly(pc.conn);
    };
    try {
      pc.reader.fill().then(discard, discard);
    } catch {
      discard();
    }
  }

  /** What a {@link PooledResponse} needs of its pool (made once per pool, not per response). */
  readonly #ops: PoolOps = {
    wait: (pc) => this.#wait(pc),
    unwait: (pc) => this.#unwait(pc),
    readTimeoutMs: () => this.#opts.readTimeoutMs,
    release: (key, pc, reuse, onStray) => {
      this.#busy.delete(pc);
      const list = this.#idle.get(key) ?? [];
      if (reuse && !this.#closed && list.length < this.#opts.maxIdlePerHost) {
        pc.onStray = onStray;
        this.#park(key, pc, list);
      } else {
        closeQuietly(pc.conn);
      }
    },
  };

  /** Starts the response-header deadline of a connection. */
  #wait(pc: PooledConn): void {
    pc.deadline = Date.now() + this.#opts.readTimeoutMs;
    pc.timedOut = false;
    this.#waiting.add(pc);
    if (this.#sweepTimer === undefined) {
      this.#sweepTimer = setInterval(() => this.#sweep(), sweepPeriodMs(this.#opts.readTimeoutMs));
    }
  }

  /**
   * Ends the deadline. The timer keeps running until a sweep finds nothing waiting (so an idle
   * pool holds no timer, and a busy one does not stop and restart it between requests).
   */
  #unwait(pc: PooledConn): void {
    pc.deadline = Infinity;
    this.#waiting.delete(pc);
  }

  #stopSweep(): void {
    if (this.#sweepTimer === undefined) return;
    clearInterval(this.#sweepTimer);
    this.#sweepTimer = undefined;
  }

  #sweep(): void {
    const now = Date.now();
    for (const pc of this.#waiting) {
      if (now < pc.deadline) continue;
      pc.timedOut = true;
      this.#waiting.delete(pc);
      closeQuietly(pc.conn);
    }
    if (this.#waiting.size === 0) this.#stopSweep();
  }
}

/** What a {@link PooledResponse} needs of its {@link OriginPool}. */
interface PoolOps {
  /** Starts the read deadline of `pc`. */
  wait(pc: PooledConn): void;
  /** Ends it. */
  unwait(pc: PooledConn): void;
  /** The pool's read timeout. */
  readTimeoutMs(): number;
  /** Parks `pc` in the idle list when `reuse` (with `onStray` for input while idle), else closes it. */
  release(key: string, pc: PooledConn, reuse: boolean, onStray: () => void): void;
}

/**
 * The {@link OriginResponse} of one exchange on a pooled connection: a class rather than an object
 * of closures, so a response costs one object, not one per method.
 */
class PooledResponse implements OriginResponse {
  readonly head: ResponseHead;
  readonly framing: BodyFraming;
  readonly declaredLength?: number;
  readonly #ops: PoolOps;
  readonly #key: string;
  readonly #pc: PooledConn;
  #clean: boolean;
  readonly #reusable: boolean;
  #finished = false;
  #lateTrouble?: () => void;

  constructor(
    ops: PoolOps,
    key: string,
    pc: PooledConn,
    head: ResponseHead,
    framing: BodyFraming,
    o: { clean: boolean; reusable: boolean; declaredLength?: number },
  ) {
    this.#ops = ops;
    this.#key = key;
    this.#pc = pc;
    this.head = head;
    this.framing = framing;
    this.declaredLength = o.declaredLength;
    this.#clean = o.clean;
    this.#reusable = o.reusable;
  }

  get clean(): boolean {
    return this.#clean;
  }

  onLateTrouble(fn: () => void): void {
    this.#lateTrouble = fn;
  }

  /** Returns the connection to the pool (when the exchange ended cleanly) or closes it; once. */
  release(ok: boolean): void {
    if (this.#finished) return;
    this.#finished = true;
    const pc = this.#pc;
    // Bytes left after the end of the response: the origin and this client disagree on
    // where it ended (a short Content-Length, a body on a bodiless answer, chunked garbage).
    if (ok && pc.reader.buffered > 0) this.#clean = false;
    this.#ops.release(this.#key, pc, ok && this.#clean && this.#reusable, this.#onStray);
  }

  /** Stray bytes arrived on the idle connection after this response. */
  readonly #onStray = (): void => {
    this.#clean = false;
    const fn = this.#lateTrouble;
    this.#lateTrouble = undefined;
    fn?.();
  };

  #bodyError(e: unknown): OriginError {
    return this.#pc.timedOut
      ? new OriginError(`Origin ${this.#key} sent no body bytes in ${this.#ops.readTimeoutMs()} ms`, "timeout", {
        cause: e,
      })
      : new OriginError(`Cannot read body from origin ${this.#key}: ${(e as Error).message}`, "reset", { cause: e });
  }

  async *body(): AsyncGenerator<Uint8Array> {
    const pc = this.#pc;
    const it = pc.reader.body(this.framing);
    let ok = false;
    try {
      while (true) {
        // Each wait for body bytes has the read timeout too (a stalled origin body).
        this.#ops.wait(pc);
        let step: IteratorResult<Uint8Array>;
        try {
          step = await it.next();
        } finally {
          this.#ops.unwait(pc);
        }
        if (step.done) break;
        yield step.value;
      }
      ok = true;
    } catch (e) {
      throw this.#bodyError(e);
    } finally {
      this.release(ok);
    }
  }

  readWhole(): Uint8Array | Promise<Uint8Array> {
    const framing = this.framing;
    if (framing.kind !== "length") {
      throw new TypeError(`Cannot read ${framing.kind}-framed body at once: not length-delimited`);
    }
    const pc = this.#pc;
    let got: Uint8Array | Promise<Uint8Array>;
    try {
      got = pc.reader.readFixed(framing.length);
    } catch (e) {
      throw this.#fail(e);
    }
    if (!(got instanceof Promise)) {
      this.release(true);
      return got;
    }
    this.#ops.wait(pc);
    return got.then((b) => {
      this.#ops.unwait(pc);
      this.release(true);
      return b;
    }, (e) => {
      throw this.#fail(e);
    });
  }

  #fail(e: unknown): OriginError {
    this.#ops.unwait(this.#pc);
    this.release(false);
    return this.#bodyError(e);
  }

  abort(): void {
    this.release(false);
  }
}

async function writeAll(conn: OriginConn, bytes: Uint8Array): Promise<void> {
  let off = 0;
  while (off < bytes.length) off += await conn.write(off === 0 ? bytes : bytes.subarray(off));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}
