/**
 * `HttpServer`: an HTTP/1.1 server over `Deno.listen` with exact control of the wire, needed for
 * CONNECT tunnels, the PROXY protocol and precise error answers (which `Deno.serve` hides).
 *
 * - Keep-alive and pipelining: requests on one connection are answered strictly in order; the
 *   next head is parsed only after the previous response is written, so pipelined bytes simply
 *   wait in the buffer (no response reordering, no unbounded queue).
 * - Timeouts: a connection waiting for a new request is closed after `idleTimeoutMs`; once a head
 *   has started it must complete within `headerTimeoutMs`; a request body must bring bytes every
 *   `bodyIdleTimeoutMs` and end within `bodyTimeoutMs` (the body then fails with a 408
 *   {@link RequestBodyError}); a response write that makes no progress
 *   for `sendTimeoutMs` closes the connection. One timer per server checks every connection, so
 *   slow clients cost nothing per request and never block others (each connection is its own task).
 * - Errors: malformed heads get 400, oversized heads 431, ambiguous body framing 400 (request
 *   smuggling), then the connection is closed. A malformed, cut or stalled request body makes
 *   `ServerRequest.body()` throw a {@link RequestBodyError} (400 or 408), the client's fault.
 * - PROXY protocol v1/v2: when enabled the first bytes must be a PROXY header; the client address
 *   it carries replaces the socket peer address. Only senders in `proxyProtocolFrom` may do so: a
 *   connection from anyone else is closed before a byte is read (counted, logged at debug), so a
 *   client cannot claim another address and gain the rights of that address.
 * - TLS: with `tls` set the server listens with `Deno.listenTls` (TLS 1.2 and 1.3, ALPN
 *   `http/1.1`) and handles requests exactly as on a plain listener. Deno 2.9.6 has one
 *   certificate per listener (no SNI selection) and no server-side `startTls`, so PROXY protocol
 *   before TLS is not possible: the constructor refuses `tls` together with `proxyProtocol`.
 *   {@link HttpServer.reloadCertificates} swaps the certificate without dropping connections.
 * - Draining (graceful stop): {@link HttpServer.drain} answers every further request with
 *   `Connection: close`; {@link HttpServer.finish} stops accepting, closes connections as they
 *   fall idle and waits for the requests in flight until a deadline, then closes the rest.
 *
 * @module
 */
import { getLogger } from "../core/log.ts";
import { ConnReader } from "./conn_reader.ts";
import type { HeaderList } from "./header_list.ts";
import {
  type BodyFraming,
  HttpParseError,
  latin1Encode,
  parseRequestHead,
  requestFraming,
  serializeResponseHead,
} from "./head_codec.ts";
import { decodeProxyHeader } from "./proxy_protocol.ts";
import { readTlsFiles, TlsFileError, type TlsFiles } from "./tls_files.ts";
import { proxyProtocolRefused, tlsHandshakes } from "./metrics.ts";
import { shutdownTcpSockets } from "../netctl/socket_shutdown.ts";
import { Acl, formatHostPort, LOOPBACK_NETS } from "../core/addr.ts";
import { listenError } from "../core/listen_error.ts";

const log = getLogger("http.server");

/** A host and port. */
export interface Endpoint {
  /** Host name or IP address. */
  hostname: string;
  /** TCP port. */
  port: number;
}

/** One request as the handler sees it. */
export interface ServerRequest {
  /** Request method. */
  method: string;
  /** Request target as sent. */
  target: string;
  /** Minor version: 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: 0 | 1;
  /** Request fields, names lower-case. */
  headers: HeaderList;
  /** How the request body is delimited. */
  framing: BodyFraming;
  /** The client (from the PROXY header when one was received). */
  client: Endpoint;
  /** The address the client connected to (the PROXY header's destination when present). */
  local: Endpoint;
  /** Whether the client allows the connection to stay open after this response. */
  keepAlive: boolean;
  /** When the head was complete, ms since epoch. */
  receivedAt: number;
  /** Whether the request came over TLS (its scheme is https). */
  tls?: boolean;
  /**
   * Reads the request body (once).
   *
   * @throws {RequestBodyError} (from the iteration) 400 for a malformed or cut body, 408 when it
   *   stalls past `bodyIdleTimeoutMs` or lasts past `bodyTimeoutMs`
   */
  body(): AsyncIterable<Uint8Array>;
}

/** Writes the response of one request. */
export interface ServerResponse {
  /** Writes bytes; rejects when the client went away. */
  write(bytes: Uint8Array): Promise<void>;
  /** Set to close the connection after this response. */
  close: boolean;
  /** Bytes written so far (for access logs). */
  readonly bytesWritten: number;
  /** Whether the client connection failed. */
  readonly broken: boolean;
  /**
   * A buffer of at least `size` bytes owned by this connection and reused by its responses, so
   * building a small response allocates nothing. Its contents stay valid only until the next
   * `write()` on this connection resolves; write it (or a view of it) before building another.
   *
   * @param size bytes needed
   */
  scratch(size: number): Uint8Array;
  /**
   * Takes over the raw connection (CONNECT). The server stops managing it; the caller must close it.
   *
   * @returns the connection and bytes already read past the head
   */
  hijack(): { conn: Deno.Conn; buffered: Uint8Array };
}

/** Handles one request; must write a complete response (or hijack) before resolving. */
export type RequestHandler = (req: ServerRequest, res: ServerResponse) => Promise<void>;

/** Options of {@link HttpServer}. */
export interface HttpServerOptions {
  /** Address to listen on. */
  hostname: string;
  /** Port; 0 for an ephemeral one. */
  port: number;
  /** SO_REUSEPORT, so several workers can listen on one port. */
  reusePort?: boolean;
  /** Expect a PROXY protocol header on every connection. */
  proxyProtocol?: boolean;
  /** The config key or flag that set the address, named when it cannot be bound (default `listen`). */
  listenKey?: string;
  /** Senders allowed to send PROXY headers (with `proxyProtocol`); default loopback only. */
  proxyProtocolFrom?: readonly string[];
  /** Largest request head; above it 431. */
  maxHeaderBytes: number;
  /** Close a connection idle between requests this long (ms); default 60000. */
  idleTimeoutMs?: number;
  /** Time to complete a started request head (ms); default 10000. */
  headerTimeoutMs?: number;
  /** Close a connection whose response write stalls this long (ms); default 60000. */
  sendTimeoutMs?: number;
  /** Longest wait for the next bytes of a request body (ms); default 30000. */
  bodyIdleTimeoutMs?: number;
  /** Longest time to receive a whole request body (ms); default 300000. */
  bodyTimeoutMs?: number;
  /** Called for connection-level errors (bad heads), for metrics and access logs. */
  onBadRequest?: (client: Endpoint, status: number, error: Error) => void;
  /** Terminate TLS with this certificate and key (PEM files); plain TCP when absent. */
  tls?: TlsFiles;
}

/** The outcome of {@link HttpServer.reloadCertificates}. */
export type CertificateReload =
  | { ok: true; reloaded: boolean }
  | { ok: false; error: Error };

interface ConnState {
  conn: Deno.Conn;
  deadline: number;
  /** Waiting for a new request with no byte of it received (may be closed when draining). */
  idle: boolean;
  /** No request served on it yet. */
  fresh: boolean;
  /** When it was accepted (ms since epoch). */
  openedAt: number;
  /** The response of the request being handled, if any. */
  res?: ServerResponse;
  /** Called by the sweep instead of closing, once, when a request body's deadline passed. */
  onExpire?: () => void;
  /** Reusable output buffer of this connection (see `ServerResponse.scratch`). */
  scratch?: Uint8Array;
  /** A TLS connection whose handshake has not completed (close() alone does not close it). */
  handshaking?: boolean;
}

/**
 * Closes connections. Deno's `close()` of a TLS connection still in its handshake waits for the
 * handshake to finish, so a client that stalls there would keep its socket: those sockets are
 * shut down first (one /proc scan for all of them), which ends the handshake and frees them.
 */
function closeConns(states: Iterable<ConnState>): void {
  const list = [...states];
  const stuck = list.filter((s) => s.handshaking);
  if (stuck.length > 0) {
    try {
      shutdownTcpSockets(stuck.map((s) => ({
        local: s.conn.localAddr as Deno.NetAddr,
        remote: s.conn.remoteAddr as Deno.NetAddr,
      })));
    } catch (e) {
      log.warn("Cannot shut down stalled TLS handshakes", { count: stuck.length, error: e });
    }
  }
  for (const s of list) closeQuietly(s.conn);
}

const TE = new TextEncoder();

/**
 * While finishing, a connection with no request yet is closed only once it has been open this
 * long (ms): a client that just connected may have its first request on the way.
 */
const FRESH_GRACE_MS = 1000;

/**
 * A request body the client got wrong: malformed (bad chunk line, missing CRLF), cut short, or
 * stalled past the body timeouts. The client's fault, never the origin's: answer `status`, close
 * the connection, and count it as a client error. `requestBody` marks it for
 * `isRequestBodyFailure()` of the origin client, which passes it through unchanged.
 */
export class RequestBodyError extends HttpParseError {
  /** Marks an error of the request body. */
  readonly requestBody = true as const;
  /**
   * Creates the error.
   *
   * @param message what went wrong, e.g. `Cannot read request body: no bytes for 30000 ms`
   * @param status 400 (malformed or cut) or 408 (timed out)
   * @param options the underlying error
   */
  constructor(message: string, status: 400 | 408, options?: ErrorOptions) {
    super(message, status);
    this.name = "RequestBodyError";
    if (options?.cause !== undefined) this.cause = options.cause;
  }
}

/** The HTTP/1.1 server. */
export class HttpServer {
  readonly #opts:
    & Required<Omit<HttpServerOptions, "onBadRequest" | "tls">>
    & Pick<HttpServerOptions, "onBadRequest" | "tls">;
  readonly #proxyFrom: Acl;
  readonly #handler: RequestHandler;
  #listener?: Deno.Listener;
  /** The accept loops: one per listener, two briefly while a certificate reload swaps them. */
  readonly #acceptLoops = new Set<Promise<void>>();
  readonly #conns = new Set<ConnState>();
  readonly #tasks = new Set<Promise<void>>();
  #timer?: ReturnType<typeof setInterval>;
  #closed = false;
  #draining = false;
  #accepting = false;

  /**
   * Creates the server; call `start()` to listen.
   *
   * @param opts listen address and limits
   * @param handler called for each request
   * @throws {TypeError} for `tls` with `proxyProtocol` (PROXY before TLS needs a server-side startTls)
   */
  constructor(opts: HttpServerOptions, handler: RequestHandler) {
    if (opts.tls && opts.proxyProtocol) {
      throw new TypeError(
        "Cannot expect a PROXY header before TLS: Deno has no server-side startTls (use a plain listener)",
      );
    }
    this.#opts = {
      reusePort: false,
      proxyProtocol: false,
      idleTimeoutMs: 60_000,
      headerTimeoutMs: 10_000,
      sendTimeoutMs: 60_000,
      proxyProtocolFrom: LOOPBACK_NETS,
      listenKey: "listen",
      bodyIdleTimeoutMs: 30_000,
      bodyTimeoutMs: 300_000,
      ...opts,
    };
    this.#proxyFrom = new Acl(this.#opts.proxyProtocolFrom);
    this.#handler = handler;
  }

  /** The bound address. */
  get addr(): Deno.NetAddr {
    if (!this.#listener) throw new Error("Cannot read address: server not started");
    return this.#listener.addr as Deno.NetAddr;
  }

  /**
   * Starts listening and accepting.
   *
   * @throws {Deno.errors.AddrInUse} when the port is taken
   */
  start(): this {
    const o = this.#opts;
    try {
      if (o.tls) {
        this.#listener = this.#listenTls(o.port);
      } else {
        this.#listener = o.reusePort
          ? Deno.listen({ hostname: o.hostname, port: o.port, reusePort: true } as Deno.TcpListenOptions)
          : Deno.listen({ hostname: o.hostname, port: o.port });
      }
    } catch (e) {
      if (e instanceof TlsFileError) throw e;
      throw listenError(e, formatHostPort({ host: o.hostname, port: o.port }), o.listenKey);
    }
    this.#timer = setInterval(() => this.#sweep(), 250);
    this.#accepting = true;
    this.#startAccepting(this.#listener);
    return this;
  }

  /** Whether this server terminates TLS. */
  get tls(): boolean {
    return this.#opts.tls !== undefined;
  }

  /**
   * A TLS listener with the certificate files read now. Always SO_REUSEPORT, so a reload can bind
   * a second listener on the same port before closing the first.
   */
  #listenTls(port: number): Deno.TlsListener {
    const { cert, key } = readTlsFiles(this.#opts.tls!);
    return Deno.listenTls(
      {
        hostname: this.#opts.hostname,
        port,
        cert,
        key,
        reusePort: true,
        alpnProtocols: ["http/1.1"],
      } as Deno.ListenTlsOptions & Deno.TlsCertifiedKeyPem,
    );
  }

  /**
   * Reads the certificate and key files again and serves new connections with them. Established
   * connections keep their session: a new listener is bound on the same port (SO_REUSEPORT) with
   * the new certificate, then the old listener is closed. When the files cannot be used the old
   * certificate stays and the result says why (the error names the file, never key material).
   *
   * @returns `{ok: true, reloaded}` (`reloaded` false for a plain listener), or `{ok: false, error}`
   */
  reloadCertificates(): CertificateReload {
    if (!this.#opts.tls || !this.#listener || this.#closed || !this.#accepting) return { ok: true, reloaded: false };
    let next: Deno.TlsListener;
    try {
      next = this.#listenTls((this.#listener.addr as Deno.NetAddr).port);
    } catch (e) {
      const error = e instanceof Error ? e : new Error(String(e));
      log.warn("Certificate reload failed; keeping the old certificate", {
        listen: this.#where(),
        cert: this.#opts.tls.certFile,
        error: error.message,
      });
      return { ok: false, error };
    }
    const old = this.#listener;
    this.#listener = next;
    this.#startAccepting(next);
    closeQuietly(old);
    log.info("Certificate reloaded", { listen: this.#where(), cert: this.#opts.tls.certFile });
    return { ok: true, reloaded: true };
  }

  #where(): string {
    const a = this.#listener?.addr as Deno.NetAddr | undefined;
    return a ? `${a.hostname}:${a.port}` : `${this.#opts.hostname}:${this.#opts.port}`;
  }

  #startAccepting(l: Deno.Listener): void {
    const loop = this.#accept(l).finally(() => this.#acceptLoops.delete(loop));
    this.#acceptLoops.add(loop);
  }

  /** Open client connections (CONNECT tunnels excluded). */
  get connections(): number {
    return this.#conns.size;
  }

  /** Whether {@link HttpServer.drain} was called. */
  get draining(): boolean {
    return this.#draining;
  }

  /**
   * Starts draining: every response from now on carries `Connection: close`, so keep-alive
   * clients open their next connection elsewhere (the director no longer sends new ones here).
   * Still accepts connections until {@link HttpServer.finish}.
   */
  drain(): void {
    this.#draining = true;
    // Responses whose head is not written yet close their connection too.
    for (const c of this.#conns) if (c.res && c.res.bytesWritten === 0) c.res.close = true;
  }

  /**
   * Stops accepting, closes connections as soon as they wait for a new request, and waits for
   * the requests in flight until `deadline`; then closes whatever is left.
   *
   * @param deadline ms since epoch
   */
  async finish(deadline: number): Promise<void> {
    this.#draining = true;
    this.#stopAccepting();
    await Promise.allSettled([...this.#acceptLoops]);
    while (this.#conns.size > 0 && Date.now() < deadline) {
      const now = Date.now();
      for (const c of this.#conns) {
        // A connection that never sent a byte is left a moment: its first request may be on the way.
        if (c.idle && (!c.fresh || now - c.openedAt > FRESH_GRACE_MS)) {
          closeQuietly(c.conn);
          this.#conns.delete(c);
        }
      }
      if (this.#conns.size === 0) break;
      await new Promise((r) => setTimeout(r, Math.max(1, Math.min(25, deadline - Date.now()))));
    }
    if (this.#conns.size === 0) return await this.close();
    // Deadline: cut what is left without waiting for its handlers (they end when their writes fail).
    this.#closed = true;
    clearInterval(this.#timer);
    closeConns(this.#conns);
    this.#conns.clear();
  }

  #stopAccepting(): void {
    if (!this.#accepting) return;
    this.#accepting = false;
    try {
      this.#listener?.close();
    } catch { /* already closed */ }
  }

  /** Stops accepting, closes every connection and waits for their tasks. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#timer);
    this.#stopAccepting();
    await Promise.allSettled([...this.#acceptLoops]);
    closeConns(this.#conns);
    await Promise.allSettled([...this.#tasks]);
  }

  #sweep(): void {
    const now = Date.now();
    const expired: ConnState[] = [];
    for (const c of this.#conns) {
      if (now > c.deadline) {
        const expire = c.onExpire;
        if (expire) {
          // A request body timed out: its reader answers 408, then the connection closes.
          c.onExpire = undefined;
          c.deadline = Infinity;
          expire();
          continue;
        }
        expired.push(c);
        this.#conns.delete(c);
      }
    }
    if (expired.length > 0) closeConns(expired);
  }

  async #accept(l: Deno.Listener): Promise<void> {
    while (!this.#closed && this.#accepting) {
      let conn: Deno.Conn;
      try {
        conn = await l.accept();
      } catch (e) {
        if (this.#closed || !this.#accepting || e instanceof Deno.errors.BadResource || l !== this.#listener) return;
        log.warn("Accept failed", { error: e });
        await new Promise((r) => setTimeout(r, 10));
        continue;
      }
      if (this.#opts.proxyProtocol) {
        const from = (conn.remoteAddr as Deno.NetAddr).hostname;
        if (!this.#proxyFrom.allows(from)) {
          proxyProtocolRefused.inc();
          log.debug("PROXY protocol sender not trusted, connection closed", { from });
          closeQuietly(conn);
          continue;
        }
      }
      try {
        (conn as Deno.TcpConn).setNoDelay?.(true);
      } catch { /* not TCP */ }
      const now = Date.now();
      const st: ConnState = {
        conn,
        deadline: now + this.#opts.idleTimeoutMs,
        idle: false,
        fresh: true,
        openedAt: now,
      };
      this.#conns.add(st);
      const task = this.#serve(st).catch((e) => log.debug("Connection failed", { error: e })).finally(() => {
        this.#tasks.delete(task);
      });
      this.#tasks.add(task);
    }
  }

  async #serve(st: ConnState): Promise<void> {
    const o = this.#opts;
    const conn = st.conn;
    const reader = new ConnReader(conn);
    let hijacked = false;
    let served = 0;
    const peer = conn.remoteAddr as Deno.NetAddr;
    let client: Endpoint = { hostname: peer.hostname, port: peer.port };
    const la = conn.localAddr as Deno.NetAddr;
    let local: Endpoint = { hostname: la.hostname, port: la.port };
    // One response object per connection, reset for each request (no closures per request).
    const res = new ConnResponse(st, o.sendTimeoutMs, () => {
      this.#conns.delete(st);
      return { conn, buffered: reader.takeBuffered().slice() };
    });
    try {
      if (o.tls) {
        // Handshake first, under the header timeout (the sweep closes a client that stalls), so a
        // failed handshake is counted as such and not as a connection closed before a request.
        st.deadline = Date.now() + o.headerTimeoutMs;
        st.handshaking = true;
        try {
          await (conn as Deno.TlsConn).handshake();
          tlsHandshakes.inc({ result: "ok" });
        } catch (e) {
          tlsHandshakes.inc({ result: "failed" });
          log.debug("TLS handshake failed", { from: client.hostname, error: e });
          return;
        } finally {
          st.handshaking = false;
        }
      }
      if (o.proxyProtocol) {
        st.deadline = Date.now() + o.headerTimeoutMs;
        while (true) {
          let res;
          try {
            res = decodeProxyHeader(reader.peek());
          } catch (e) {
            this.#opts.onBadRequest?.(client, 400, e as Error);
            log.debug("Bad PROXY header", { from: client.hostname, error: e });
            return;
          }
          if (res) {
            reader.consume(res.consumed);
            if (res.header.source) client = res.header.source;
            if (res.header.destination) local = res.header.destination;
            break;
          }
          if (!(await reader.fill(4096))) return;
        }
      }
      // The head timeout starts with a request's first byte (one handler per connection).
      const onFirstByte = () => {
        st.idle = false;
        st.deadline = Date.now() + o.headerTimeoutMs;
      };
      while (!this.#closed) {
        st.deadline = Date.now() + o.idleTimeoutMs;
        let headBytes: Uint8Array | null;
        let framing: BodyFraming;
        let head;
        try {
          // Idle only between requests of a kept-alive connection with nothing buffered: a
          // draining server may close it then without cutting a request.
          st.idle = reader.buffered === 0;
          st.fresh = served === 0;
          if (st.idle && !st.fresh && this.#draining && !this.#accepting) return;
          headBytes = await reader.readHead(o.maxHeaderBytes, onFirstByte);
          st.idle = false;
          if (headBytes === null) return;
          head = parseRequestHead(headBytes);
          framing = requestFraming(head);
        } catch (e) {
          if (e instanceof HttpParseError) {
            this.#opts.onBadRequest?.(client, e.status, e);
            await writeError(conn, e.status, e.message).catch(() => {});
            return;
          }
          return; // connection closed by timeout or peer
        }
        st.deadline = Infinity;
        const connection = head.headers.get("connection")?.toLowerCase() ?? "";
        const keepAlive = head.minor === 1 ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
        let bodyStarted = false;
        let bodyDone = framing.kind === "none";
        const req: ServerRequest = {
          method: head.method,
          target: head.target,
          minor: head.minor,
          headers: head.headers,
          framing,
          client,
          local,
          keepAlive,
          receivedAt: Date.now(),
          tls: this.#opts.tls !== undefined,
          body: () => {
            if (bodyStarted) throw new TypeError("Cannot read request body: already read");
            bodyStarted = true;
            const it = timedBody(st, reader.body(framing), o.bodyIdleTimeoutMs, o.bodyTimeoutMs);
            return (async function* () {
              for await (const c of it) yield c;
              bodyDone = true;
            })();
          },
        };
        res.reset(keepAlive && !this.#draining);
        served++;
        st.res = res;
        await this.#handler(req, res);
        st.res = undefined;
        if (res.hijacked) {
          hijacked = true;
          return;
        }
        if (res.close || res.broken) return;
        if (!bodyDone) {
          // Drain an unread request body so the next head is found; large ones close the connection.
          if (framing.kind === "length" && framing.length - reader.buffered <= 64 * 1024 && !bodyStarted) {
            st.deadline = Date.now() + o.headerTimeoutMs;
            try {
              for await (const _ of reader.body(framing)) { /* discard */ }
            } catch {
              return;
            }
          } else {
            return;
          }
        }
      }
    } finally {
      if (!hijacked) {
        this.#conns.delete(st);
        closeQuietly(conn);
      }
    }
  }
}

/**
 * Reads a request body under its two deadlines, turning every failure into a
 * {@link RequestBodyError}. The connection's sweep calls `st.onExpire` when the deadline (the
 * earlier of the next idle limit and the total limit) passes; the read still waiting is then
 * abandoned, and ends when the connection is closed after the 408.
 */
async function* timedBody(
  st: ConnState,
  it: AsyncGenerator<Uint8Array>,
  idleMs: number,
  totalMs: number,
): AsyncGenerator<Uint8Array> {
  const started = Date.now();
  const end = started + totalMs;
  let expired!: (e: RequestBodyError) => void;
  const expiry = new Promise<never>((_, reject) => {
    expired = reject;
  });
  expiry.catch(() => {});
  st.onExpire = () => {
    const total = Date.now() >= end;
    expired(
      new RequestBodyError(
        total
          ? `Cannot read request body: not complete after ${totalMs} ms`
          : `Cannot read request body: no bytes for ${idleMs} ms`,
        408,
      ),
    );
  };
  try {
    while (true) {
      st.deadline = Math.min(Date.now() + idleMs, end);
      const next = it.next();
      let step: IteratorResult<Uint8Array>;
      try {
        step = await Promise.race([next, expiry]);
      } catch (e) {
        next.catch(() => {}); // abandoned: it ends when the connection closes
        if (e instanceof RequestBodyError) throw e;
        if (e instanceof HttpParseError) throw new RequestBodyError(e.message, 400, { cause: e });
        throw new RequestBodyError(`Cannot read request body: ${(e as Error).message}`, 400, { cause: e });
      }
      if (step.done) return;
      // The consumer's time (e.g. writing to the origin) is not the client's.
      st.deadline = Infinity;
      yield step.value;
    }
  } finally {
    st.onExpire = undefined;
    st.deadline = Infinity;
  }
}

/** The {@link ServerResponse} of one connection, reused by its requests. */
class ConnResponse implements ServerResponse {
  close = false;
  hijacked = false;
  readonly #st: ConnState;
  readonly #sendTimeoutMs: number;
  readonly #takeOver: () => { conn: Deno.Conn; buffered: Uint8Array };
  #written = 0;
  #broken = false;

  constructor(st: ConnState, sendTimeoutMs: number, takeOver: () => { conn: Deno.Conn; buffered: Uint8Array }) {
    this.#st = st;
    this.#sendTimeoutMs = sendTimeoutMs;
    this.#takeOver = takeOver;
  }

  get bytesWritten(): number {
    return this.#written;
  }

  get broken(): boolean {
    return this.#broken;
  }

  reset(keepAlive: boolean): void {
    this.close = !keepAlive;
    this.#written = 0;
  }

  async write(bytes: Uint8Array): Promise<void> {
    if (this.#broken) throw new Deno.errors.BrokenPipe("Cannot write response: client went away");
    const st = this.#st;
    // A response is being written: any request body reading is over (or abandoned, e.g. after the
    // origin failed mid-upload), so a stalled write closes the connection as usual.
    st.onExpire = undefined;
    let off = 0;
    try {
      while (off < bytes.length) {
        st.deadline = Date.now() + this.#sendTimeoutMs;
        off += await st.conn.write(off === 0 ? bytes : bytes.subarray(off));
      }
    } catch (e) {
      this.#broken = true;
      throw e;
    } finally {
      st.deadline = Infinity;
      this.#written += off;
    }
  }

  scratch(size: number): Uint8Array {
    const st = this.#st;
    if (!st.scratch || st.scratch.length < size) st.scratch = new Uint8Array(Math.max(size, 4096));
    return st.scratch;
  }

  hijack(): { conn: Deno.Conn; buffered: Uint8Array } {
    this.hijacked = true;
    return this.#takeOver();
  }
}

/**
 * Builds a small complete error response (text body, `Connection: close`).
 *
 * @param status status code
 * @param message body text (one line)
 * @param extra more header fields
 * @returns the bytes to write
 */
export function errorResponseBytes(status: number, message: string, extra: [string, string][] = []): Uint8Array {
  const body = TE.encode(message.replace(/[\r\n]+/g, " ") + "\n");
  const head = serializeResponseHead(status, [
    ["content-type", "text/plain; charset=utf-8"],
    ["content-length", String(body.length)],
    ["cache-control", "no-store"],
    ...extra,
    ["connection", "close"],
  ]);
  const h = latin1Encode(head);
  const out = new Uint8Array(h.length + body.length);
  out.set(h);
  out.set(body, h.length);
  return out;
}

async function writeError(conn: Deno.Conn, status: number, message: string): Promise<void> {
  const bytes = errorResponseBytes(status, message);
  let off = 0;
  while (off < bytes.length) off += await conn.write(bytes.subarray(off));
}

/** Closes a connection, ignoring "already closed". */
export function closeQuietly(c: { close(): void }): void {
  try {
    c.close();
  } catch { /* already closed */ }
}
