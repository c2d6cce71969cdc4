/**
 * CONNECT on forward listeners: the port must be in `cache.acl.connectPorts` and the target pass
 * the destination guard (before connecting, and on the address reached); the cache connects
 * to the target, answers 200 and hands both connections to a tunnel (`tunnel.ts`).
 *
 * @module
 */
import type { Endpoint } from "../http/server.ts";
import { closeQuietly } from "../http/server.ts";
import { latin1Encode } from "../http/head_codec.ts";
import { sendDenied, sendError } from "./client_reply.ts";
import { DestinationDeniedError } from "./destination_guard.ts";
import type { CacheContext, Exchange } from "./exchange.ts";
import { counters, countOriginFailure } from "./metrics.ts";
import { connectTarget, runTunnel } from "./tunnel.ts";

/**
 * Handles a CONNECT whose route is allowed: 403 for a port not allowed, 502 when the target
 * cannot be reached, else a tunnel until either side closes.
 *
 * @param ctx allowed ports, connect timeout, node name
 * @param ex the request (its connection is taken over)
 * @param target where to connect
 */
export async function connect(ctx: CacheContext, ex: Exchange, target: Endpoint): Promise<void> {
  const { res, out } = ex;
  out.url = `${target.hostname}:${target.port}`;
  res.close = true; // on any error below; a tunnel takes the connection anyway
  if (!ctx.config.acl.connectPorts.includes(target.port)) {
    out.code = "TCP_DENIED";
    out.result = "denied";
    out.status = 403;
    return await sendError(ctx, ex, { status: 403, message: `CONNECT to port ${target.port} is not allowed` });
  }
  let upstream: Deno.TcpConn;
  try {
    // Resolved and checked first; the tunnel goes to that checked address.
    const ip = await ctx.destinations.resolve(target.hostname, target.port);
    upstream = await connectTarget({ hostname: ip, port: target.port }, ctx.config.origin.connectTimeoutMs);
  } catch (e) {
    if (e instanceof DestinationDeniedError) return await sendDenied(ctx, ex, e.message);
    out.status = 502;
    countOriginFailure(e instanceof Deno.errors.ConnectionRefused ? "refused" : "connect");
    return await sendError(ctx, ex, { status: 502, message: `Cannot connect to ${out.url}: ${(e as Error).message}` });
  }
  try {
    ctx.destinations.checkConnected(upstream.remoteAddr); // the address the name actually led to
  } catch (e) {
    closeQuietly(upstream);
    return await sendDenied(ctx, ex, (e as Error).message);
  }
  out.code = "TCP_TUNNEL";
  out.result = "tunnel";
  out.status = 200;
  out.hierarchy = "HIER_DIRECT";
  out.peer = target.hostname;
  try {
    await res.write(latin1Encode("HTTP/1.1 200 Connection established\r\n\r\n"));
  } catch {
    closeQuietly(upstream);
    return;
  }
  const { conn, buffered } = res.hijack();
  const r = await runTunnel(conn, upstream, buffered);
  counters.clientBytes += r.down;
}
