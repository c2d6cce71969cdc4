/**
 * Facts about a local network interface read with ioctl(2): index, MAC address, MTU and IPv4
 * address. These ioctls need no privileges and see the caller's network namespace.
 *
 * @module
 */
import { formatMac } from "../packet/ethernet.ts";
import {
  AF_INET,
  IFREQ_BYTES,
  SIOCGIFADDR,
  SIOCGIFHWADDR,
  SIOCGIFINDEX,
  SIOCGIFMTU,
  SOCK_CLOEXEC,
  SOCK_DGRAM,
} from "./_constants.ts";
import { check, libc, OsError } from "./_libc.ts";

/** What {@link interfaceInfo} returns. */
export interface InterfaceInfo {
  name: string;
  index: number;
  /** MAC address, 6 bytes. */
  mac: Uint8Array;
  mtu: number;
  /** Primary IPv4 address as an unsigned 32-bit number, or 0 when it has none. */
  address: number;
}

function ifreq(name: string): Uint8Array<ArrayBuffer> {
  const bytes = new TextEncoder().encode(name);
  if (bytes.length === 0 || bytes.length > 15) {
    throw new RangeError(`Cannot use interface name "${name}": must be 1 to 15 bytes`);
  }
  const req = new Uint8Array(IFREQ_BYTES);
  req.set(bytes);
  return req;
}

/** Runs an ifreq ioctl that may fail without it being an error (an interface without IPv4 address). */
function tryIoctl(fd: number, request: number, name: string): Uint8Array<ArrayBuffer> | undefined {
  const req = ifreq(name);
  return libc().ioctl(fd, BigInt(request), req) < 0 ? undefined : req;
}

/**
 * Reads index, MAC, MTU and IPv4 address of an interface.
 *
 * @param name interface name, e.g. `eth0`
 * @throws {OsError} when the interface does not exist (ENODEV)
 * @throws {RangeError} when the name is empty or longer than 15 bytes
 */
export function interfaceInfo(name: string): InterfaceInfo {
  const c = libc();
  const fd = check(c.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), "Cannot open an inet socket for ioctl");
  try {
    const idx = ifreq(name);
    check(c.ioctl(fd, BigInt(SIOCGIFINDEX), idx), `Cannot find interface "${name}"`);
    const index = new DataView(idx.buffer).getInt32(16, true);
    const hw = ifreq(name);
    check(c.ioctl(fd, BigInt(SIOCGIFHWADDR), hw), `Cannot read the MAC address of "${name}"`);
    const mtuReq = ifreq(name);
    check(c.ioctl(fd, BigInt(SIOCGIFMTU), mtuReq), `Cannot read the MTU of "${name}"`);
    const addrReq = tryIoctl(fd, SIOCGIFADDR, name);
    return {
      name,
      index,
      mac: hw.slice(18, 24),
      mtu: new DataView(mtuReq.buffer).getInt32(16, true),
      address: addrReq ? new DataView(addrReq.buffer).getUint32(20) : 0,
    };
  } finally {
    c.close(fd);
  }
}

/**
 * The MAC address of an interface as text, for the cache's membership record (the director
 * sends DR frames to it).
 *
 * @param ifname interface name
 * @returns e.g. `02:00:5e:10:00:01`
 * @throws {OsError} when the interface does not exist
 * @example
 * ```ts
 * interfaceMac("lo"); // "00:00:00:00:00:00"
 * ```
 */
export function interfaceMac(ifname: string): string {
  return formatMac(interfaceInfo(ifname).mac);
}

export { OsError };
