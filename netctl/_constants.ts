/**
 * Linux x86_64 constants and struct sizes used by netctl (verified with cstructs.c, see
 * ../shared/notes/dataplane.md (outside the repository)).
 *
 * @module
 */
export const AF_INET = 2;
export const AF_PACKET = 17;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_NONBLOCK = 0x800;
export const SOCK_CLOEXEC = 0x80000;
export const ETH_P_ALL = 0x0003;
export const ETH_P_IP = 0x0800;
export const ETH_P_ARP = 0x0806;
export const IPPROTO_IPIP = 4;
export const SOL_SOCKET = 1;
export const SO_SNDBUFFORCE = 32;
export const SO_RCVBUFFORCE = 33;
export const SO_ATTACH_FILTER = 26;
export const SOL_PACKET = 263;
export const PACKET_STATISTICS = 6;
export const PACKET_VNET_HDR = 15;
export const PACKET_QDISC_BYPASS = 20;
export const PACKET_IGNORE_OUTGOING = 23;
export const MSG_DONTWAIT = 0x40;
export const MSG_TRUNC = 0x20;
export const POLLIN = 1;
export const POLLERR = 8;
export const O_RDWR = 2;
export const O_NONBLOCK = 0x800;
export const O_CLOEXEC = 0x80000;
export const TUNSETIFF = 0x400454ca;
export const IFF_TUN = 0x0001;
export const IFF_NO_PI = 0x1000;
export const SIOCGIFINDEX = 0x8933;
export const SIOCGIFHWADDR = 0x8927;
export const SIOCGIFMTU = 0x8921;
export const SIOCGIFADDR = 0x8915;
export const SOCKADDR_LL_BYTES = 20;
export const IFREQ_BYTES = 40;
export const MSGHDR_BYTES = 56;
export const MMSGHDR_BYTES = 64;
export const IOVEC_BYTES = 16;
export const POLLFD_BYTES = 8;

/** Host-to-network order for 16-bit values. */
export function htons(v: number): number {
  return ((v & 0xff) << 8) | ((v >> 8) & 0xff);
}
