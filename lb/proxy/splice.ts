/**
 * Splices two TCP connections both ways: each direction reads into its own buffer and writes it
 * fully before reading again (back-pressure: a slow reader stalls the writer's reads, nothing
 * queues without bound). End of stream on one side half-closes the other (`closeWrite`), so
 * request/response protocols that shut down their sending side still get their answer. An idle
 * timer closes both when no byte moved in either direction for `idleTimeoutMs`.
 *
 * @module
 */

/** Options of {@link splice}. */
export interface SpliceOptions {
  /** Close both connections when no byte moved for this long. */
  idleTimeoutMs: number;
  /** Called per read from the client (a "packet" in the stats) with its byte count. */
  onIn?: (bytes: number) => void;
  /** Called per read from the server. */
  onOut?: (bytes: number) => void;
  /** Aborting closes both connections. */
  signal?: AbortSignal;
  /** Bytes per read buffer (each direction). */
  bufferBytes?: number;
}

/** How a splice ended. */
export type SpliceEnd = "closed" | "idle" | "error" | "aborted";

/** Default bytes per read buffer. */
export const SPLICE_BUFFER_BYTES = 32 * 1024;
const POOL_MAX = 256;
const pool: Uint8Array[] = [];

/** A read buffer from the pool (allocating zeroed memory per connection is a large part of its cost). */
function takeBuffer(size: number): Uint8Array {
  return size === SPLICE_BUFFER_BYTES ? pool.pop() ?? new Uint8Array(size) : new Uint8Array(size);
}

function giveBuffer(buf: Uint8Array): void {
  if (buf.length === SPLICE_BUFFER_BYTES && pool.length < POOL_MAX) pool.push(buf);
}

async function writeAll(conn: Deno.Conn, buf: Uint8Array): Promise<void> {
  let off = 0;
  while (off < buf.length) off += await conn.write(buf.subarray(off));
}

/**
 * Copies bytes both ways until both directions ended, one failed, the idle timer fired, or the
 * signal aborted. Closes both connections before resolving.
 */
export async function splice(client: Deno.TcpConn, server: Deno.TcpConn, opts: SpliceOptions): Promise<SpliceEnd> {
  let end: SpliceEnd = "closed";
  let last = performance.now();
  let closed = false;
  const closeBoth = (why: SpliceEnd) => {
    if (closed) return;
    closed = true;
    if (end === "closed") end = why;
    for (const c of [client, server]) {
      try {
        c.close();
      } catch {
        // already closed
      }
    }
  };
  let timer: ReturnType<typeof setTimeout> | undefined;
  const arm = (ms: number) => {
    timer = setTimeout(() => {
      const idle = performance.now() - last;
      if (idle >= opts.idleTimeoutMs) closeBoth("idle");
      else arm(opts.idleTimeoutMs - idle);
    }, ms);
  };
  arm(opts.idleTimeoutMs);
  const onAbort = () => closeBoth("aborted");
  opts.signal?.addEventListener("abort", onAbort, { once: true });
  if (opts.signal?.aborted) onAbort();
  const size = opts.bufferBytes ?? SPLICE_BUFFER_BYTES;
  const pump = async (from: Deno.TcpConn, to: Deno.TcpConn, count?: (n: number) => void) => {
    const buf = takeBuffer(size);
    try {
      while (true) {
        const n = await from.read(buf);
        if (n === null) break;
        last = performance.now();
        count?.(n);
        await writeAll(to, buf.subarray(0, n));
      }
      if (!closed) await to.closeWrite();
    } catch {
      closeBoth("error");
    } finally {
      giveBuffer(buf);
    }
  };
  try {
    await Promise.all([pump(client, server, opts.onIn), pump(server, client, opts.onOut)]);
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener("abort", onAbort);
    closeBoth("closed");
  }
  return end;
}
