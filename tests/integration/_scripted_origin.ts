/**
 * A raw TCP origin that answers with exact bytes (for framing attacks): it parses each request on
 * each connection (head, then a Content-Length or chunked body), records it, and writes whatever
 * the test's script returns, in pieces with pauses when asked. It notes when the cache closes a
 * connection, so tests can see connections dropped instead of pooled.
 *
 * @module
 */
import { ChunkedDecoder } from "../../http/chunked.ts";
import { findHeadEnd, latin1Decode } from "../../http/head_codec.ts";

/** A request as the origin received it. */
export interface OriginSeen {
  /** Connection number, from 1 in accept order. */
  conn: number;
  method: string;
  path: string;
  /** The head as received. */
  head: string;
  /** The body (complete when `bodyDone`). */
  body: Uint8Array;
  /** Whether the whole body arrived. */
  bodyDone: boolean;
}

/** What to write back: bytes, or pieces (in one write, or with a pause between them), then maybe close. */
export type Answer = string | Uint8Array | {
  parts: (string | Uint8Array)[];
  gapMs?: number;
  close?: boolean;
};

const enc = (s: string | Uint8Array) => typeof s === "string" ? new TextEncoder().encode(s) : s;

/** The scripted origin on 127.0.0.1, port 0. */
export class ScriptedOrigin {
  readonly seen: OriginSeen[] = [];
  /** Connections accepted. */
  accepted = 0;
  /** Connection numbers the cache closed (EOF or reset seen by the origin). */
  readonly closedByPeer: number[] = [];
  readonly #listener: Deno.TcpListener;
  readonly #conns = new Set<Deno.Conn>();
  readonly #tasks = new Set<Promise<void>>();
  readonly #loop: Promise<void>;
  #answer: (req: OriginSeen, n: number) => Answer | null | Promise<Answer | null>;

  /**
   * @param answer the bytes for each request (n counts all requests from 1); null to read the
   *   body and then leave the connection silent until the cache closes it
   */
  constructor(answer: (req: OriginSeen, n: number) => Answer | null | Promise<Answer | null>) {
    this.#answer = answer;
    const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#listener = listener;
    this.#loop = (async () => {
      for await (const c of listener) {
        const id = ++this.accepted;
        this.#conns.add(c);
        const t = this.#serve(c, id).catch(() => {}).finally(() => {
          this.#conns.delete(c);
          this.#tasks.delete(t);
          try {
            c.close();
          } catch { /* closed */ }
        });
        this.#tasks.add(t);
      }
    })().catch(() => {});
  }

  /** Origin URL. */
  get url(): string {
    return `http://127.0.0.1:${this.#listener.addr.port}`;
  }

  /** Requests for one path. */
  count(path: string): number {
    return this.seen.filter((r) => r.path === path).length;
  }

  async #serve(conn: Deno.Conn, id: number): Promise<void> {
    let buf = new Uint8Array(0);
    const more = async (): Promise<boolean> => {
      const tmp = new Uint8Array(65536);
      let n: number | null;
      try {
        n = await conn.read(tmp);
      } catch {
        n = null;
      }
      if (n === null) {
        this.closedByPeer.push(id);
        return false;
      }
      const nb = new Uint8Array(buf.length + n);
      nb.set(buf);
      nb.set(tmp.subarray(0, n), buf.length);
      buf = nb;
      return true;
    };
    while (true) {
      let end = findHeadEnd(buf, 0, buf.length);
      while (end === -1) {
        if (!(await more())) return;
        end = findHeadEnd(buf, 0, buf.length);
      }
      const head = latin1Decode(buf.subarray(0, end));
      buf = buf.subarray(end);
      const [method, path] = head.split(" ");
      const req: OriginSeen = { conn: id, method, path, head, body: new Uint8Array(0), bodyDone: false };
      this.seen.push(req);
      const n = this.seen.length;
      const cl = /\r\ncontent-length: *(\d+)/i.exec(head);
      const chunked = /\r\ntransfer-encoding: *chunked/i.test(head);
      if (cl) {
        const len = Number(cl[1]);
        while (buf.length < len) if (!(await more())) return;
        req.body = buf.slice(0, len);
        buf = buf.subarray(len);
      } else if (chunked) {
        const dec = new ChunkedDecoder();
        const parts: number[] = [];
        while (true) {
          if (buf.length === 0 && !(await more())) return;
          const r = dec.push(buf);
          for (const d of r.data) parts.push(...d);
          req.body = new Uint8Array(parts);
          buf = r.done ? r.rest.slice() : new Uint8Array(0);
          if (r.done) break;
        }
      }
      req.bodyDone = true;
      const a = await this.#answer(req, n);
      if (a === null) {
        while (await more()) { /* silent until closed */ }
        return;
      }
      const parts = typeof a === "string" || a instanceof Uint8Array ? [a] : a.parts;
      const gapMs = typeof a === "string" || a instanceof Uint8Array ? 0 : a.gapMs ?? 0;
      if (gapMs === 0) {
        // No pause: one write, so the pieces arrive together.
        const all = parts.map(enc);
        const out = new Uint8Array(all.reduce((n, p) => n + p.length, 0));
        let off = 0;
        for (const p of all) {
          out.set(p, off);
          off += p.length;
        }
        await writeAll(conn, out);
      } else {
        for (let i = 0; i < parts.length; i++) {
          if (i > 0) await new Promise((r) => setTimeout(r, gapMs));
          await writeAll(conn, enc(parts[i]));
        }
      }
      if (typeof a === "object" && !(a instanceof Uint8Array) && a.close) return;
    }
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    this.#listener.close();
    await this.#loop;
    for (const c of this.#conns) {
      try {
        c.close();
      } catch { /* closed */ }
    }
    await Promise.all([...this.#tasks]);
  }
}

async function writeAll(conn: Deno.Conn, b: Uint8Array): Promise<void> {
  let off = 0;
  while (off < b.length) off += await conn.write(b.subarray(off));
}

/**
 * A complete response with a Content-Length body.
 *
 * @param body body text
 * @param fields extra header lines, e.g. `Cache-Control: max-age=60`
 */
export function okResponse(body: string, ...fields: string[]): string {
  return `HTTP/1.1 200 OK\r\n${fields.map((f) => f + "\r\n").join("")}Content-Length: ${
    new TextEncoder().encode(body).length
  }\r\n\r\n${body}`;
}
