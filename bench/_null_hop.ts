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
import { BPF_FUNC, EbpfProgram, FP, OP, TCX_NEXT } from "../netctl/ebpf_asm.ts";
import { interfaceInfo } from "../netctl/interface_info.ts";

const [ifname, realMac] = Deno.args;
const info = interfaceInfo(ifname);
const dst = realMac.split(":").map((h) => parseInt(h, 16));
const macs = [...dst, ...info.mac];
const word = (b: number[]) => (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) | 0;
const p = new EbpfProgram()
  .op(OP.MOV64_REG, 6, 1, 0, 0)
  .op(OP.MOV64_IMM, 2, 0, 0, 12)
  .stackPtr(3, -8)
  .op(OP.MOV64_IMM, 4, 0, 0, 2)
  .op(OP.CALL, 0, 0, 0, BPF_FUNC.skbLoadBytes)
  .op(OP.JNE_IMM, 0, 0, "next", 0)
  .op(OP.LDX_H, 1, FP, -8, 0)
  .op(OP.JNE_IMM, 1, 0, "next", 0x0008); // EtherType 0x0800 read little-endian
for (let k = 0; k < 12; k += 4) p.op(OP.MOV64_IMM, 1, 0, 0, word(macs.slice(k, k + 4))).op(OP.STX_W, FP, 1, -24 + k, 0);
p.op(OP.MOV64_REG, 1, 6, 0, 0)
  .op(OP.MOV64_IMM, 2, 0, 0, 0)
  .stackPtr(3, -24)
  .op(OP.MOV64_IMM, 4, 0, 0, 12)
  .op(OP.MOV64_IMM, 5, 0, 0, 0)
  .op(OP.CALL, 0, 0, 0, BPF_FUNC.skbStoreBytes)
  .op(OP.JNE_IMM, 0, 0, "next", 0)
  .op(OP.MOV64_IMM, 1, 0, 0, info.index)
  .op(OP.MOV64_IMM, 2, 0, 0, 0)
  .op(OP.CALL, 0, 0, 0, BPF_FUNC.redirectPeer)
  .op(OP.EXIT, 0, 0, 0, 0)
  .label("next")
  .op(OP.MOV64_IMM, 0, 0, 0, TCX_NEXT)
  .op(OP.EXIT, 0, 0, 0, 0);
const prog = loadBpfProgram({ type: BPF_PROG_TYPE_SCHED_CLS, insns: p.assemble(), name: "wc_null_hop" });
attachTcxIngress(prog, info.index, ifname);
console.log("ready");
setInterval(() => {}, 1 << 30); // hold the descriptors until killed
