/**
 * Parses the `--peer HOST:HTTP_PORT[:ICP_PORT][/sibling|/parent]` flag of `webcache cache` into a
 * `cache.peers[]` entry. The ICP port defaults to 3130 (0 disables ICP to the peer), the type to
 * sibling. IPv6 hosts go in brackets: `[::1]:3128:3130/parent`.
 *
 * @module
 */
import { isHost } from "../../core/addr.ts";

/** One `cache.peers[]` entry as the flag gives it. */
export interface PeerFlag {
  host: string;
  httpPort: number;
  icpPort: number;
  type: "sibling" | "parent";
}

function port(text: string, what: string, flag: string, allowZero: boolean): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!(n >= (allowZero ? 0 : 1) && n <= 65535)) {
    throw new RangeError(`Cannot parse --peer "${flag}": ${what} "${text}" is not a port number`);
  }
  return n;
}

/**
 * Parses one `--peer` value.
 *
 * @param flag the value, e.g. `10.0.0.2:3128:3130/parent`
 * @returns the peer entry
 * @throws {SyntaxError} when the shape or type is wrong
 * @throws {RangeError} when a port is out of range
 * @example
 * ```ts
 * parsePeerFlag("10.0.0.2:3128"); // { host: "10.0.0.2", httpPort: 3128, icpPort: 3130, type: "sibling" }
 * ```
 */
export function parsePeerFlag(flag: string): PeerFlag {
  let rest = flag.trim();
  let type: PeerFlag["type"] = "sibling";
  const slash = rest.lastIndexOf("/");
  if (slash >= 0) {
    const t = rest.slice(slash + 1);
    if (t !== "sibling" && t !== "parent") {
      throw new SyntaxError(`Cannot parse --peer "${flag}": type "${t}" is not sibling or parent`);
    }
    type = t;
    rest = rest.slice(0, slash);
  }
  let host: string;
  let ports: string[];
  const v6 = /^\[([^\]]+)\]:(.*)$/.exec(rest);
  if (v6) {
    host = v6[1];
    ports = v6[2].split(":");
  } else {
    [host, ...ports] = rest.split(":");
  }
  if (!host || !isHost(host) || ports.length < 1 || ports.length > 2) {
    throw new SyntaxError(`Cannot parse --peer "${flag}": expected HOST:HTTP_PORT[:ICP_PORT][/sibling|/parent]`);
  }
  return {
    host,
    httpPort: port(ports[0], "HTTP port", flag, false),
    icpPort: ports.length === 2 ? port(ports[1], "ICP port", flag, true) : 3130,
    type,
  };
}
