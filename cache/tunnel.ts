/**
 * CONNECT tunnels (RFC 9110 9.3.6): after `200 Connection established` the proxy copies bytes in
 * both directions unchanged until either side closes; bytes the client sent after the CONNECT
 * head (already buffered) go first.
 *
 * @module
 */
import { closeQuietly, type Endpoint } from "../http/server.ts";

/** Byte counts of a finished tunnel. */
export interface TunnelResult {
  /** Bytes from the client to the target. */
  up: number;
  /** Bytes from the target to the client. */
  down: number;
}

/**
 * Connects to the target with a timeout.
 *
 * @param target host and port
 * @param timeoutMs connect timeout
 * @returns the connection
 * @throws the connect error (refused, unreachable, or an abort on timeout)
 */
export async function connectTarget(target: Endpoint, timeoutMs: number): Promise<Deno.TcpConn> {
  const ac = new AbortController();
  const timer = setTimeout(() => ac.abort(new Error(`no answer in ${timeoutMs} ms`)), timeoutMs);
  try {
    return await Deno.connect({ hostname: target.hostname, port: target.port, signal: ac.signal });
  } finally {
    clearTimeout(timer);
  }
}

async function pump(from: Deno.Conn, to: Deno.Conn, first?: Uint8Array): Promise<number> {
  let n = 0;
  const buf = new Uint8Array(64 * 1024);
  try {
    if (first && first.length) {
      let off = 0;
      while (off < first.length) off += await to.write(first.subarray(off));
      n += first.length;
    }
    while (true) {
      const r = await from.read(buf);
      if (r === null) break;
      let off = 0;
      while (off < r) off += await to.write(buf.subarray(off, r));
      n += r;
    }
    try {
      await (to as Deno.TcpConn).closeWrite();
    } catch { /* already closed */ }
  } catch {
    closeQuietly(from);
    closeQuietly(to);
  }
  return n;
}

/**
 * Copies bytes both ways until both directions end, then closes both connections.
 *
 * @param client the client connection (after the 200 was written)
 * @param upstream the target connection
 * @param buffered client bytes already read past the CONNECT head
 * @returns bytes copied each way
 */
export async function runTunnel(client: Deno.Conn, upstream: Deno.Conn, buffered: Uint8Array): Promise<TunnelResult> {
  const [up, down] = await Promise.all([pump(client, upstream, buffered), pump(upstream, client)]);
  closeQuietly(client);
  closeQuietly(upstream);
  return { up, down };
}
