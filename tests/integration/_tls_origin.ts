/**
 * A small HTTPS origin for TLS tests: `Deno.listenTls` with a given certificate, keep-alive
 * HTTP/1.1 answered by a script, counting TLS connections and requests, so tests can see pooling.
 *
 * @module
 */
import { findHeadEnd, latin1Decode } from "../../http/head_codec.ts";

/** A request the origin received. */
export interface TlsSeen {
  /** Request line target. */
  target: string;
  /** Host field. */
  host: string;
  /** Which TLS connection (1-based) carried it. */
  conn: number;
}

/** The HTTPS origin. */
export class TlsOrigin {
  readonly seen: TlsSeen[] = [];
  /** TLS connections accepted (handshakes attempted). */
  connections = 0;
  readonly #listener: Deno.TlsListener;
  readonly #conns = new Set<Deno.Conn>();
  readonly #loop: Promise<void>;
  readonly #tasks = new Set<Promise<void>>();

  /**
   * @param files certificate and key
   * @param body the body answered for a target (cacheable for 60 s)
   */
  constructor(files: { certFile: string; keyFile: string }, body: (target: string) => string = (t) => `body ${t}`) {
    const listener = Deno.listenTls({
      hostname: "127.0.0.1",
      port: 0,
      cert: Deno.readTextFileSync(files.certFile),
      key: Deno.readTextFileSync(files.keyFile),
    });
    this.#listener = listener;
    this.#loop = (async () => {
      for await (const c of listener) {
        const n = ++this.connections;
        this.#conns.add(c);
        const t = this.#serve(c, n, body).catch(() => {}).finally(() => {
          this.#conns.delete(c);
          try {
            c.close();
          } catch { /* closed */ }
          this.#tasks.delete(t);
        });
        this.#tasks.add(t);
      }
    })().catch(() => {});
  }

  /** The port. */
  get port(): number {
    return this.#listener.addr.port;
  }

  async #serve(c: Deno.Conn, n: number, body: (target: string) => string): Promise<void> {
    let buf = new Uint8Array(0);
    const chunk = new Uint8Array(16 * 1024);
    while (true) {
      let end = findHeadEnd(buf, 0, buf.length);
      while (end < 0) {
        const got = await c.read(chunk);
        if (got === null) return;
        const next = new Uint8Array(buf.length + got);
        next.set(buf);
        next.set(chunk.subarray(0, got), buf.length);
        buf = next;
        end = findHeadEnd(buf, 0, buf.length);
      }
      const head = latin1Decode(buf.subarray(0, end));
      buf = buf.slice(end);
      const target = head.split(" ")[1];
      const host = /\r\nhost: *([^\r\n]*)/i.exec(head)?.[1] ?? "";
      this.seen.push({ target, host, conn: n });
      const b = new TextEncoder().encode(body(target));
      const res = `HTTP/1.1 200 OK\r\ncontent-length: ${b.length}\r\ncache-control: max-age=60\r\n` +
        `content-type: text/plain\r\n\r\n`;
      const out = new Uint8Array(res.length + b.length);
      out.set(new TextEncoder().encode(res));
      out.set(b, res.length);
      let off = 0;
      while (off < out.length) off += await c.write(out.subarray(off));
    }
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    try {
      this.#listener.close();
    } catch { /* closed */ }
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await this.#loop;
    await Promise.allSettled([...this.#tasks]);
  }
}
