/**
 * A minimal HTTP/1.1 GET over a fresh TCP connection (`Connection: close`), so that every request
 * of the demo load is a new connection the director schedules, and the raw header lines (several
 * `X-Cache` lines, in order) are visible. The body is read to EOF, counted and checked against
 * `Content-Length`.
 *
 * @module
 */

/** A parsed response head and the body size. */
export interface RawResponse {
  status: number;
  /** Header lines in order, names lower-cased. */
  headers: [string, string][];
  /** Body bytes received. */
  bodyBytes: number;
}

const CRLFCRLF = [13, 10, 13, 10];
const MAX_HEAD_BYTES = 64 * 1024;

function findHeadEnd(buf: Uint8Array, len: number): number {
  outer: for (let i = 0; i + 3 < len; i++) {
    for (let j = 0; j < 4; j++) if (buf[i + j] !== CRLFCRLF[j]) continue outer;
    return i;
  }
  return -1;
}

/**
 * Parses an HTTP/1.x response head (without the final blank line).
 *
 * @throws {SyntaxError} when the status line or a header line is malformed
 */
export function parseResponseHead(text: string): { status: number; headers: [string, string][] } {
  const lines = text.split("\r\n");
  const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0]);
  if (!m) throw new SyntaxError(`Cannot parse HTTP response: bad status line ${JSON.stringify(lines[0].slice(0, 80))}`);
  const headers: [string, string][] = [];
  for (const line of lines.slice(1)) {
    const i = line.indexOf(":");
    if (i <= 0) {
      throw new SyntaxError(`Cannot parse HTTP response: bad header line ${JSON.stringify(line.slice(0, 80))}`);
    }
    headers.push([line.slice(0, i).trim().toLowerCase(), line.slice(i + 1).trim()]);
  }
  return { status: Number(m[1]), headers };
}

/**
 * Sends `GET path` to `hostname:port` on a new connection and reads the whole response.
 *
 * @param addr where to connect
 * @param opts.path request target; opts.host the Host header; opts.signal aborts (closes the socket)
 * @throws {SyntaxError} for a malformed response, {RangeError} when the body is shorter than its
 *   Content-Length, and connection errors as Deno raises them
 */
export async function httpGet(
  addr: { hostname: string; port: number },
  opts: { path: string; host: string; signal?: AbortSignal },
): Promise<RawResponse> {
  // Deno.connect takes no signal: race it, so an unanswered SYN ends at the timeout, not after
  // the kernel's retries (about two minutes).
  const connecting = Deno.connect({ hostname: addr.hostname, port: addr.port });
  let conn: Deno.TcpConn;
  if (opts.signal) {
    const signal = opts.signal;
    signal.throwIfAborted();
    let onAbort = () => {};
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      signal.addEventListener("abort", onAbort, { once: true });
    });
    try {
      conn = await Promise.race([connecting, aborted]);
    } catch (e) {
      connecting.then((c) => c.close(), () => {});
      throw e;
    } finally {
      signal.removeEventListener("abort", onAbort);
    }
  } else {
    conn = await connecting;
  }
  const onAbort = () => {
    try {
      conn.close();
    } catch { /* already closed */ }
  };
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const req = `GET ${opts.path} HTTP/1.1\r\nHost: ${opts.host}\r\nUser-Agent: webcache-demo\r\n` +
      `Accept: */*\r\nConnection: close\r\n\r\n`;
    const bytes = new TextEncoder().encode(req);
    let off = 0;
    while (off < bytes.length) off += await conn.write(bytes.subarray(off));
    let head = new Uint8Array(16 * 1024);
    let len = 0;
    let headEnd = -1;
    while (headEnd < 0) {
      if (len === head.length) {
        if (head.length >= MAX_HEAD_BYTES) throw new SyntaxError("Cannot parse HTTP response: head exceeds 64 KiB");
        const bigger = new Uint8Array(head.length * 2);
        bigger.set(head);
        head = bigger;
      }
      const n = await conn.read(head.subarray(len));
      if (n === null) throw new SyntaxError(`Cannot parse HTTP response: connection closed after ${len} bytes of head`);
      len += n;
      headEnd = findHeadEnd(head, len);
    }
    const parsed = parseResponseHead(new TextDecoder().decode(head.subarray(0, headEnd)));
    let bodyBytes = len - headEnd - 4;
    const buf = new Uint8Array(64 * 1024);
    for (;;) {
      const n = await conn.read(buf);
      if (n === null) break;
      bodyBytes += n;
    }
    const cl = parsed.headers.find(([k]) => k === "content-length")?.[1];
    if (cl !== undefined && parsed.status !== 304 && bodyBytes < Number(cl)) {
      throw new RangeError(`Cannot read HTTP response: body has ${bodyBytes} of ${cl} bytes`);
    }
    return { ...parsed, bodyBytes };
  } finally {
    opts.signal?.removeEventListener("abort", onAbort);
    onAbort();
  }
}
