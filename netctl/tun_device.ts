/**
 * Raw IP-in-IP sockets and TUN devices: the two ends of the user-space decapsulator that a TUN
 * real server uses where the kernel has no ipip module.
 *
 * `struct ifreq` for TUNSETIFF (40 bytes): `char name[16]@0`, `short flags@16`
 * (IFF_TUN | IFF_NO_PI: layer-3 packets without the 4-byte packet-information prefix).
 *
 * @module
 */
import {
  AF_INET,
  IFF_NO_PI,
  IFF_TUN,
  IFREQ_BYTES,
  IPPROTO_IPIP,
  O_CLOEXEC,
  O_NONBLOCK,
  O_RDWR,
  SO_RCVBUFFORCE,
  SOCK_CLOEXEC,
  SOCK_NONBLOCK,
  SOCK_RAW,
  SOL_SOCKET,
  TUNSETIFF,
} from "./_constants.ts";
import { check, cString, EACCES, EAGAIN, EPERM, errno, errnoOrRetry, libc, OsError } from "./_libc.ts";
import { missingNetCapabilities, PrivilegeError, privilegeMessage } from "./privileges.ts";

function privileged(what: string, err: number, needs: "CAP_NET_RAW" | "CAP_NET_ADMIN"): Error {
  // errno read through FFI may be wrong (see _libc.ts): a missing capability decides as well.
  const missing = missingNetCapabilities();
  if (err === EPERM || err === EACCES || missing.includes(needs)) {
    return new PrivilegeError(privilegeMessage(what, missing.length ? missing : [needs]), missing, {
      cause: new OsError(what, err),
    });
  }
  return new OsError(what, err);
}

/**
 * Opens a non-blocking raw socket receiving every IP-in-IP (protocol 4) packet addressed to this
 * host, outer header included. While it is open the kernel does not answer protocol 4 with ICMP
 * protocol-unreachable.
 *
 * @returns the file descriptor
 * @throws {PrivilegeError} without CAP_NET_RAW
 */
export function openIpipSocket(): number {
  const c = libc();
  const fd = c.socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_IPIP);
  if (fd < 0) throw privileged("Cannot open a raw IP-in-IP socket", errno(), "CAP_NET_RAW");
  const b = new Uint8Array(4);
  new DataView(b.buffer).setInt32(0, 4 * 1024 * 1024, true);
  c.setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, b, 4); // best effort
  return fd;
}

/**
 * Creates a TUN device (non-persistent: it disappears when the descriptor is closed).
 *
 * @param name interface name (≤ 15 bytes)
 * @returns the file descriptor; write IPv4 packets to it to inject them as received on the device
 * @throws {PrivilegeError} without CAP_NET_ADMIN
 * @throws {OsError} when /dev/net/tun is missing
 */
export function openTunDevice(name: string): number {
  const c = libc();
  const nameBytes = new TextEncoder().encode(name);
  if (nameBytes.length === 0 || nameBytes.length > 15) throw new RangeError(`Cannot use TUN name "${name}"`);
  const fd = c.open(cString("/dev/net/tun"), O_RDWR | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) throw privileged("Cannot open /dev/net/tun", errno(), "CAP_NET_ADMIN");
  const req = new Uint8Array(IFREQ_BYTES);
  req.set(nameBytes);
  new DataView(req.buffer).setInt16(16, IFF_TUN | IFF_NO_PI, true);
  if (c.ioctl(fd, BigInt(TUNSETIFF), req) < 0) {
    const err = errno();
    c.close(fd);
    throw privileged(`Cannot create TUN device "${name}"`, err, "CAP_NET_ADMIN");
  }
  return fd;
}

/**
 * Writes one packet to a descriptor (a TUN device).
 *
 * @returns bytes written, or -1 when the device queue is full
 */
export function writePacket(fd: number, packet: Uint8Array): number {
  const write = () => libc().write(fd, packet as Uint8Array<ArrayBuffer>, BigInt(packet.length));
  const n = Number(write());
  if (n < 0) {
    const err = errnoOrRetry(write, [EAGAIN]);
    if (err < 0) return -1 - err; // written after all
    if (err === EAGAIN) return -1;
    throw new OsError(`Cannot write to descriptor ${fd}`, err);
  }
  return n;
}

/** Closes a descriptor. */
export function closeFd(fd: number): void {
  check(libc().close(fd), `Cannot close descriptor ${fd}`);
}
