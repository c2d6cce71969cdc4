/**
 * Finding unused ports for the demo's nodes: bind port 0, read the port the kernel chose, close.
 * Another process may take the port between close and use; the demo's nodes start within
 * milliseconds and the demo reports a clear error if one cannot bind.
 *
 * @module
 */

/**
 * Returns a TCP port that was free a moment ago on `hostname`.
 *
 * @param hostname address to bind (default 127.0.0.1)
 */
export function freeTcpPort(hostname = "127.0.0.1"): number {
  const l = Deno.listen({ hostname, port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/**
 * Returns a UDP port that was free a moment ago on `hostname`.
 *
 * @param hostname address to bind (default 127.0.0.1)
 */
export function freeUdpPort(hostname = "127.0.0.1"): number {
  const s = Deno.listenDatagram({ hostname, port: 0, transport: "udp" });
  const port = (s.addr as Deno.NetAddr).port;
  s.close();
  return port;
}

/**
 * Returns `count` distinct ports free for both TCP and UDP (HTTP and ICP may then share a number
 * on one node, which reads well in the demo's output).
 *
 * @param count how many
 * @param hostname address to bind
 */
export function freePorts(count: number, hostname = "127.0.0.1"): number[] {
  const out = new Set<number>();
  for (let tries = 0; out.size < count && tries < count * 20; tries++) {
    const p = freeTcpPort(hostname);
    try {
      const s = Deno.listenDatagram({ hostname, port: p, transport: "udp" });
      s.close();
      out.add(p);
    } catch {
      // UDP side taken: try another
    }
  }
  if (out.size < count) throw new Error(`Cannot find ${count} free ports on ${hostname}`);
  return [...out];
}
