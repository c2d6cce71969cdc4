/**
 * Whether an interface is one end of a veth pair whose other end lives in another network namespace (a
 * director in a container or namespace on a bridge). Then the fast path can hand a frame straight to the
 * other end's receive path with `bpf_redirect_peer()` instead of transmitting it on the veth (`bpf_redirect()`
 * to its egress), which queues it to the per-CPU backlog and receives it again in the next softirq round: one
 * enqueue, one dequeue and the egress path less per forwarded frame. On any other interface (a physical NIC,
 * a veth whose peer is in the same namespace, macvlan, ...) `bpf_redirect_peer()` would drop the frame, so
 * every doubt answers false.
 *
 * The driver comes from the SIOCETHTOOL ioctl (ETHTOOL_GDRVINFO); the peer's index from sysfs `iflink`, which
 * is believed only when sysfs shows this namespace (its `ifindex` for the name is the ioctl's).
 *
 * ```text
 * struct ethtool_drvinfo (196 B): u32 cmd = 3 @0 | char driver[32] @4 | ...
 * struct ifreq (40 B): char name[16] @0 | void *ifr_data @16
 * ```
 *
 * @module
 */
import { AF_INET, IFREQ_BYTES, SOCK_CLOEXEC, SOCK_DGRAM } from "./_constants.ts";
import { addressOf, libc, setU64 } from "./_libc.ts";
import { interfaceInfo } from "./interface_info.ts";

const SIOCETHTOOL = 0x8946;
const ETHTOOL_GDRVINFO = 3;
const DRVINFO_BYTES = 196;

/**
 * The interface's driver name as ethtool reports it (`veth`, `virtio_net`, ...).
 *
 * @returns the name, or undefined when the ioctl fails
 */
export function interfaceDriver(name: string): string | undefined {
  const c = libc();
  const fd = c.socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return undefined;
  try {
    const info = new Uint8Array(DRVINFO_BYTES);
    new DataView(info.buffer).setUint32(0, ETHTOOL_GDRVINFO, true);
    const req = new Uint8Array(IFREQ_BYTES);
    req.set(new TextEncoder().encode(name).subarray(0, 15));
    setU64(new DataView(req.buffer), 16, addressOf(info));
    if (c.ioctl(fd, BigInt(SIOCETHTOOL), req) < 0) return undefined;
    const driver = info.subarray(4, 36);
    const end = driver.indexOf(0);
    return new TextDecoder().decode(driver.subarray(0, end < 0 ? 32 : end));
  } finally {
    c.close(fd);
  }
}

function sysfsNumber(path: string): number | undefined {
  try {
    const n = Number(Deno.readTextFileSync(path).trim());
    return Number.isInteger(n) ? n : undefined;
  } catch {
    return undefined;
  }
}

/**
 * True when `name` is a veth whose peer is in another network namespace (see module doc).
 *
 * @param name interface name
 */
export function vethPeerInOtherNamespace(name: string): boolean {
  if (interfaceDriver(name) !== "veth") return false;
  let index: number;
  try {
    index = interfaceInfo(name).index;
  } catch {
    return false;
  }
  if (sysfsNumber(`/sys/class/net/${name}/ifindex`) !== index) return false; // sysfs of another namespace
  const peer = sysfsNumber(`/sys/class/net/${name}/iflink`);
  if (peer === undefined || peer === index) return false;
  try {
    for (const e of Deno.readDirSync("/sys/class/net")) {
      if (sysfsNumber(`/sys/class/net/${e.name}/ifindex`) === peer) return false; // the peer is here
    }
  } catch {
    return false;
  }
  return true;
}
