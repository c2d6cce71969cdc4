/**
 * TLS to origins: upgrading a TCP connection to an `https://` origin, with SNI and certificate
 * verification against the name the origin was configured or requested by (not the address it
 * resolved to), against the system store plus an optional CA file.
 *
 * Verified connections use `Deno.startTls` on the TCP connection the pool made (so the address
 * actually reached is the one the destination guard checked). `insecure` (no verification at all)
 * is not something `Deno.startTls` offers; it goes through `node:tls` with
 * `rejectUnauthorized: false`, wrapped as a {@link OriginConn}.
 *
 * @module
 */
import tls from "node:tls";

/** What the origin pool needs of a connection: reading, writing, closing, the peer address. */
export interface OriginConn {
  /** Reads into `p`; the byte count, or null at end of stream. */
  read(p: Uint8Array): Promise<number | null>;
  /** Writes some of `p`; the byte count written. */
  write(p: Uint8Array): Promise<number>;
  /** Closes the connection. */
  close(): void;
  /** The peer's address. */
  readonly remoteAddr: Deno.Addr;
}

/** TLS settings of the origin pool, for every `https://` origin. */
export interface OriginTlsOptions {
  /** Extra trusted CA certificates (PEM), besides the default root store. */
  caCerts?: string[];
  /** Skip certificate verification entirely (only by explicit configuration). */
  insecure?: boolean;
}

/** A TLS handshake with an origin failed (verification or protocol). */
export class OriginTlsError extends Error {
  /**
   * @param message what failed, with the reason
   * @param options cause
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "OriginTlsError";
  }
}

/**
 * Starts TLS on a connected TCP connection and completes the handshake.
 *
 * @param conn the TCP connection (consumed)
 * @param serverName the origin's name: sent as SNI and verified against its certificate
 * @param opts trusted CAs
 * @returns the TLS connection, handshake done
 * @throws {OriginTlsError} when the handshake or verification fails
 */
export async function startOriginTls(
  conn: Deno.TcpConn,
  serverName: string,
  opts: OriginTlsOptions,
): Promise<Deno.TlsConn> {
  let t: Deno.TlsConn | undefined;
  try {
    t = await Deno.startTls(conn, { hostname: serverName, caCerts: opts.caCerts, alpnProtocols: ["http/1.1"] });
    await t.handshake();
    return t;
  } catch (e) {
    try {
      (t ?? conn).close();
    } catch { /* closed */ }
    throw new OriginTlsError(`TLS handshake with ${serverName} failed: ${(e as Error).message}`, { cause: e });
  }
}

/**
 * Connects with TLS and no certificate verification (`insecure`).
 *
 * @param to the address to connect to
 * @param serverName SNI to send
 * @param signal aborts the connect
 * @returns the connection, handshake done
 * @throws {OriginTlsError} when the connection or handshake fails
 */
export function connectInsecureTls(
  to: { hostname: string; port: number },
  serverName: string,
  signal: AbortSignal,
): Promise<OriginConn> {
  return new Promise((resolve, reject) => {
    const sni = /^[\d.]+$|:/.test(serverName) ? undefined : serverName;
    const s = tls.connect({
      host: to.hostname,
      port: to.port,
      servername: sni,
      rejectUnauthorized: false,
      ALPNProtocols: ["http/1.1"],
    });
    const fail = (e: Error) => {
      s.destroy();
      reject(new OriginTlsError(`TLS handshake with ${serverName} failed: ${e.message}`, { cause: e }));
    };
    const onAbort = () => fail(new Error("aborted"));
    signal.addEventListener("abort", onAbort, { once: true });
    s.once("error", fail);
    s.once("secureConnect", () => {
      signal.removeEventListener("abort", onAbort);
      s.off("error", fail);
      s.setNoDelay(true);
      resolve(new NodeTlsConn(s));
    });
  });
}

/** A `node:tls` socket as an {@link OriginConn} (pull-based reads over its events). */
class NodeTlsConn implements OriginConn {
  readonly #s: tls.TLSSocket;
  readonly remoteAddr: Deno.Addr;
  #chunks: Uint8Array[] = [];
  #ended = false;
  #error?: Error;
  #wake?: () => void;

  constructor(s: tls.TLSSocket) {
    this.#s = s;
    this.remoteAddr = {
      transport: "tcp",
      hostname: (s.remoteAddress ?? "").replace(/^::ffff:/, ""),
      port: s.remotePort ?? 0,
    };
    s.on("data", (d: Uint8Array) => {
      this.#chunks.push(new Uint8Array(d.buffer, d.byteOffset, d.byteLength));
      this.#notify();
    });
    s.on("end", () => {
      this.#ended = true;
      this.#notify();
    });
    s.on("close", () => {
      this.#ended = true;
      this.#notify();
    });
    s.on("error", (e: Error) => {
      this.#error = e;
      this.#notify();
    });
  }

  #notify(): void {
    const w = this.#wake;
    this.#wake = undefined;
    w?.();
  }

  async read(p: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0) {
      if (this.#error) throw this.#error;
      if (this.#ended) return null;
      await new Promise<void>((r) => this.#wake = r);
    }
    const c = this.#chunks[0];
    const n = Math.min(p.length, c.length);
    p.set(c.subarray(0, n));
    if (n === c.length) this.#chunks.shift();
    else this.#chunks[0] = c.subarray(n);
    return n;
  }

  write(p: Uint8Array): Promise<number> {
    if (this.#error) return Promise.reject(this.#error);
    if (this.#ended) return Promise.reject(new Deno.errors.BrokenPipe("Cannot write: connection closed"));
    const copy = p.slice();
    return new Promise((resolve, reject) => {
      this.#s.write(copy, (e?: Error | null) => e ? reject(e) : resolve(copy.length));
    });
  }

  close(): void {
    this.#ended = true;
    this.#s.destroy();
    this.#notify();
  }
}
