/**
 * Shuts down TCP sockets the runtime will not close. Deno's `TlsConn.close()` before the TLS
 * handshake has completed waits for the handshake to finish (to send close_notify), so a client
 * that connects and never sends a ClientHello, or stalls within the handshake, keeps its socket
 * and file descriptor on the server for as long as it likes (checked with Deno 2.9.6: still
 * ESTABLISHED 20 s after close()). This finds such sockets' descriptors through /proc (their
 * inode in `/proc/net/tcp[6]`, then the `/proc/self/fd` link to it) and calls shutdown(2) on
 * them: the peer gets a FIN, the runtime's pending handshake reads end of file, and the runtime
 * then closes the descriptor itself. One scan serves any number of sockets, so a sweep that
 * closes many stalled clients at once costs one pass over the tables.
 *
 * @module
 */
import { libc } from "./_libc.ts";
import { canonicalAddress, parseProcNetTcp } from "./proc_net_tcp.ts";

const SHUT_RDWR = 2;

/** A connected TCP socket by its two ends, as Deno reports them. */
export interface TcpEnds {
  local: Deno.NetAddr;
  remote: Deno.NetAddr;
}

function keyOf(la: string, lp: number, ra: string, rp: number): string {
  return `${canonicalAddress(la)}|${lp}|${canonicalAddress(ra)}|${rp}`;
}

/**
 * Shuts down (both directions) this process's TCP sockets with the given ends. Sockets not found
 * (already closed) are skipped.
 *
 * @param sockets the sockets' ends
 * @returns how many sockets were shut down
 */
export function shutdownTcpSockets(sockets: TcpEnds[]): number {
  if (sockets.length === 0) return 0;
  const wanted = new Set(
    sockets.map((s) => keyOf(s.local.hostname, s.local.port, s.remote.hostname, s.remote.port)),
  );
  const inodes = new Set<string>();
  for (const file of ["/proc/net/tcp", "/proc/net/tcp6"]) {
    let text: string;
    try {
      text = Deno.readTextFileSync(file);
    } catch {
      continue;
    }
    for (const s of parseProcNetTcp(text)) {
      if (wanted.has(keyOf(s.localAddress, s.localPort, s.remoteAddress, s.remotePort))) inodes.add(s.inode);
    }
  }
  if (inodes.size === 0) return 0;
  let done = 0;
  for (const e of Deno.readDirSync("/proc/self/fd")) {
    let target: string;
    try {
      target = Deno.readLinkSync(`/proc/self/fd/${e.name}`);
    } catch {
      continue; // closed meanwhile
    }
    const m = /^socket:\[(\d+)\]$/.exec(target);
    if (m && inodes.has(m[1]) && libc().shutdown(Number(e.name), SHUT_RDWR) === 0) done++;
  }
  return done;
}
