/**
 * netctl: the only code that touches the host's network (Seesaw's NCC idea). Deno FFI into libc
 * for AF_PACKET sockets with BPF filters and batched recvmmsg/sendmmsg, raw IP-in-IP sockets and
 * TUN devices (the user-space decapsulator, its allowed directors in shared memory), eBPF through bpf(2) with a tiny assembler (the in-kernel
 * decapsulator at tcx ingress on TUN real servers, and the director's DR fast path at tcx ingress); `ip` and `nft` commands for addresses, routes and
 * nftables tables; sysctls set and restored; capability checks with operator-facing messages; and
 * the DR/TUN real-server set-up the cache runs (`setupRealServer`, `checkRealServer`).
 * The director's data plane (`lb/dataplane/`) and `webcache cache --forwarding` both use it.
 *
 * @module
 */
export { type InterfaceInfo, interfaceInfo, interfaceMac } from "./interface_info.ts";
export { PacketBatch, PacketSocket, type PacketSocketOptions, Poller } from "./packet_socket.ts";
export {
  CAP_NET_ADMIN,
  CAP_NET_RAW,
  missingNetCapabilities,
  PrivilegeError,
  privilegeMessage,
  requireNetCapabilities,
} from "./privileges.ts";
export { readSysctl, SysctlGuard, writeSysctl } from "./sysctl.ts";
export { addAddress, hasAddress, removeAddress, routeGet, runCommand } from "./ip_command.ts";
export { installTable, mssClampRuleset, redirectRuleset, removeTable, vipDropRuleset } from "./nft.ts";
export { closeFd, openIpipSocket, openTunDevice, writePacket } from "./tun_device.ts";
export { type DecapStats, IpipDecapsulator } from "./ipip_decapsulator.ts";
export { type AllowedSources, DecapAllowList, sourceAllowed } from "./decap_allow_list.ts";
export { type TcDecapStats, TcDecapsulator } from "./tc_decapsulator.ts";
export { ipipDecapProgram } from "./ipip_decap_program.ts";
export {
  DrFastPath,
  type DrFastPathOptions,
  type FastPathFlow,
  type FastPathReal,
  writeFlowKey,
} from "./dr_fast_path.ts";
export { interfaceDriver, vethPeerInOtherNamespace } from "./veth_peer.ts";
export { type DrFastPathMaps, drFastPathProgram } from "./dr_fast_path_program.ts";
export { EbpfProgram, TCX_DROP, TCX_NEXT, TCX_PASS, TCX_REDIRECT } from "./ebpf_asm.ts";
export { monotonicNs, tcxIngressProgramCount } from "./ebpf.ts";
export {
  type AllowedDirectors,
  allowedItem,
  type CheckItem,
  checkRealServer,
  DEFAULT_TUN,
  formatCheckReport,
  type RealServerOptions,
  type RealServerSetup,
  setupRealServer,
} from "./real_server.ts";
export { shutdownTcpSockets, type TcpEnds } from "./socket_shutdown.ts";
