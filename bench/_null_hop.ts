/**
 * The benchmark's "null director" (`dataplane_bench.ts --methods dr-null`): the smallest in-kernel DR forwarder
 * this lab allows, to measure what the extra hop through a director's namespace costs by itself. A tcx ingress
 * program on the interface rewrites every IPv4 frame's MACs to one real server's and hands it to the veth peer
 * (`bpf_redirect_peer`, as the fast path does on a veth) — no flow table, no scheduling, no user space. The client
 * reaches it through a static neighbour entry for the VIP. Holds the program until killed.
 *
 * Run inside the director's namespace: `deno run -A bench/_null_hop.ts IFACE REAL_MAC`; prints `ready`.
 *
 * @module
 */
import { attachTcxIngress, BPF_PROG_TYPE_SCHED_CLS, loadBpfProgram } from "../netctl/ebpf.ts";
import { interfaceInfo } from "../netctl/interface_info.ts";
import { nullHopProgram } from "./_null_hop_program.ts";

const [ifname, realMac] = Deno.args;
const info = interfaceInfo(ifname);
const insns = nullHopProgram(info.index, realMac.split(":").map((h) => parseInt(h, 16)), info.mac);
const prog = loadBpfProgram({ type: BPF_PROG_TYPE_SCHED_CLS, insns, name: "wc_null_hop" });
attachTcxIngress(prog, info.index, ifname);
console.log("ready");
setInterval(() => {}, 1 << 30); // hold the descriptors until killed
