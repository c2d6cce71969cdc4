/**
 * HTTP GET check (keepalived's HTTP_GET): sends `GET path HTTP/1.0` with a Host header, reads the
 * response (at most {@link MAX_CHECK_RESPONSE_BYTES}), and requires the status in the expected
 * range and, optionally, the SHA-256 of the body to match (keepalived's `digest`, here SHA-256
 * instead of MD5). HTTP/1.0 keeps the body unchunked and the connection closed after the response.
 *
 * @module
 */
import { type Checker, type CheckResult, type CheckTarget, errorReason, withDeadline } from "./checker.ts";

/** Responses larger than this fail the check: a health page is small, and the prober must stay cheap. */
export const MAX_CHECK_RESPONSE_BYTES = 1 << 20;

/** Options of {@link HttpChecker}. */
export interface HttpCheckOptions {
  /** Path to GET. */
  path: string;
  /** Host header; default the target address. */
  host?: string;
  /** Accepted status or range: `200` or `200-399`. */
  expectStatus: string;
  /** Lowercase hex SHA-256 the body must have. */
  bodySha256?: string;
}

/**
 * Parses `200` or `200-399` into an inclusive range.
 *
 * @throws {SyntaxError} for anything else
 */
export function parseStatusRange(s: string): [number, number] {
  const m = /^(\d{3})(?:-(\d{3}))?$/.exec(s);
  if (!m) throw new SyntaxError(`Cannot parse status range "${s}": expected NNN or NNN-NNN`);
  return [Number(m[1]), Number(m[2] ?? m[1])];
}

function indexOfCrlfCrlf(b: Uint8Array): number {
  for (let i = 0; i + 3 < b.length; i++) {
    if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i;
  }
  return -1;
}

/** HTTP GET checker. */
export class HttpChecker implements Checker {
  readonly type = "http";
  readonly #opts: HttpCheckOptions;
  readonly #range: [number, number];

  /**
   * Creates an HTTP checker.
   *
   * @throws {SyntaxError} for a bad status range
   */
  constructor(opts: HttpCheckOptions) {
    this.#opts = opts;
    this.#range = parseStatusRange(opts.expectStatus);
  }

  /** GETs the path and checks status and digest. */
  async check(target: CheckTarget, timeoutMs: number): Promise<CheckResult> {
    const start = performance.now();
    let conn: Deno.TcpConn | undefined;
    let closed = false;
    const close = () => {
      if (conn && !closed) {
        closed = true;
        conn.close();
      }
    };
    const ac = new AbortController();
    try {
      const result = await withDeadline(
        (async (): Promise<{ ok: boolean; reason?: string }> => {
          conn = await Deno.connect({ hostname: target.address, port: target.port, signal: ac.signal });
          const host = this.#opts.host ?? (target.address.includes(":") ? `[${target.address}]` : target.address);
          const req = `GET ${this.#opts.path} HTTP/1.0\r\nHost: ${host}\r\nUser-Agent: webcache-health\r\n` +
            `Connection: close\r\n\r\n`;
          const bytes = new TextEncoder().encode(req);
          for (let off = 0; off < bytes.length;) off += await conn.write(bytes.subarray(off));
          const chunks: Uint8Array[] = [];
          let total = 0;
          const buf = new Uint8Array(16384);
          while (true) {
            const n = await conn.read(buf);
            if (n === null) break;
            total += n;
            if (total > MAX_CHECK_RESPONSE_BYTES) return { ok: false, reason: "response too large" };
            chunks.push(buf.slice(0, n));
          }
          const all = new Uint8Array(total);
          let o = 0;
          for (const c of chunks) {
            all.set(c, o);
            o += c.length;
          }
          const end = indexOfCrlfCrlf(all);
          if (end < 0) return { ok: false, reason: "malformed response" };
          const head = new TextDecoder().decode(all.subarray(0, end));
          const m = /^HTTP\/1\.[01] (\d{3})/.exec(head);
          if (!m) return { ok: false, reason: "malformed status line" };
          const status = Number(m[1]);
          if (status < this.#range[0] || status > this.#range[1]) return { ok: false, reason: `status ${status}` };
          if (this.#opts.bodySha256) {
            const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", all.subarray(end + 4)));
            const hex = [...digest].map((x) => x.toString(16).padStart(2, "0")).join("");
            if (hex !== this.#opts.bodySha256) return { ok: false, reason: "digest mismatch" };
          }
          return { ok: true };
        })(),
        timeoutMs,
        () => {
          ac.abort();
          close();
        },
      );
      return { ...result, latencyMs: performance.now() - start };
    } catch (e) {
      return { ok: false, reason: errorReason(e), latencyMs: performance.now() - start };
    } finally {
      close();
    }
  }
}
