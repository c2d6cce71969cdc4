/**
 * Pure packet codecs for the director's data plane: Ethernet, ARP, IPv4 with the RFC 1071
 * checksum, TCP ports and flags, IP-in-IP encapsulation, IPv4 fragmentation, ICMP fragmentation-needed,
 * virtio_net_hdr, and classic BPF socket filters as data. Nothing here does I/O, reads a clock
 * or logs; `netctl/` and `lb/dataplane/` do. It sits at the top level because both use it
 * (`netctl/` is below `lb/`).
 *
 * @module
 */
export * from "./checksum.ts";
export * from "./ethernet.ts";
export * from "./arp.ts";
export * from "./ipv4.ts";
export * from "./tcp.ts";
export * from "./ipip.ts";
export * from "./fragment.ts";
export * from "./icmp.ts";
export * from "./vnet_header.ts";
export * from "./bpf.ts";
export * from "./flow.ts";
