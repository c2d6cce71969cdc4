/**
 * A codec for the kernel's TCP socket tables, `/proc/net/tcp` and `/proc/net/tcp6`: each line
 * names a socket's local and remote address (hex, in the kernel's in-memory byte order) and its
 * inode, which `/proc/self/fd/N` links to as `socket:[inode]`. Pure functions; the reading is in
 * socket_shutdown.ts.
 *
 * @module
 */

/** One socket of a TCP table. */
export interface ProcTcpSocket {
  /** Local address in Deno's spelling (`127.0.0.1`, `::1`; IPv4-mapped IPv6 as the IPv4 address). */
  localAddress: string;
  localPort: number;
  remoteAddress: string;
  remotePort: number;
  /** The socket's inode number, as a decimal string. */
  inode: string;
}

/** Decodes `0100007F` (little-endian IPv4 as the kernel prints it) to `127.0.0.1`. */
function ipv4(hex: string): string {
  const n = parseInt(hex, 16);
  return `${n & 255}.${(n >>> 8) & 255}.${(n >>> 16) & 255}.${n >>> 24}`;
}

/**
 * Decodes the 32 hex digits of an IPv6 address from /proc (four 32-bit words, each in host byte
 * order, little-endian here) to its canonical text; an IPv4-mapped address (`::ffff:a.b.c.d`)
 * becomes the IPv4 address, as a dual-stack listener's peers are reported that way too.
 */
function ipv6(hex: string): string {
  const bytes: number[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    for (let b = 3; b >= 0; b--) bytes.push(parseInt(word.slice(b * 2, b * 2 + 2), 16));
  }
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 255 && bytes[11] === 255) {
    return bytes.slice(12).join(".");
  }
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(bytes[i] * 256 + bytes[i + 1]);
  // The longest run of two or more zero groups becomes "::" (RFC 5952).
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) [best, bestLen] = [i, j - i];
    i = j;
  }
  const hexes = groups.map((g) => g.toString(16));
  if (best < 0) return hexes.join(":");
  return `${hexes.slice(0, best).join(":")}::${hexes.slice(best + bestLen).join(":")}`;
}

function endpoint(field: string): [string, number] | undefined {
  const [addr, port] = field.split(":");
  if (port === undefined || !/^[0-9A-Fa-f]+$/.test(port)) return undefined;
  if (addr.length === 8) return [ipv4(addr), parseInt(port, 16)];
  if (addr.length === 32) return [ipv6(addr), parseInt(port, 16)];
  return undefined;
}

/**
 * Parses the text of `/proc/net/tcp` or `/proc/net/tcp6`; lines that do not parse are skipped.
 *
 * @param text the file's content, header line included
 */
export function parseProcNetTcp(text: string): ProcTcpSocket[] {
  const out: ProcTcpSocket[] = [];
  for (const line of text.split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10) continue;
    const local = endpoint(f[1]);
    const remote = endpoint(f[2]);
    if (!local || !remote || !/^\d+$/.test(f[9])) continue;
    out.push({
      localAddress: local[0],
      localPort: local[1],
      remoteAddress: remote[0],
      remotePort: remote[1],
      inode: f[9],
    });
  }
  return out;
}

/** Deno's spelling of an address, with IPv4-mapped IPv6 addresses as plain IPv4, for matching. */
export function canonicalAddress(hostname: string): string {
  const h = hostname.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  return mapped ? mapped[1] : h;
}
