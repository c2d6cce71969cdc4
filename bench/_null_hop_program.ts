/**
 * The program of the benchmark's "null director" (`_null_hop.ts`): rewrite every IPv4 frame's MACs and hand it to
 * the veth peer of `ifindex` (`bpf_redirect_peer`); anything else goes on (TCX_NEXT). Also timed in the kernel by
 * `fast_path_prog_bench.ts` as the floor of any in-kernel forwarder. Pure: no I/O.
 *
 * @module
 */
import { BPF_FUNC, EbpfProgram, FP, OP, TCX_NEXT } from "../netctl/ebpf_asm.ts";

/**
 * Builds the null hop's instructions.
 *
 * @param ifindex the interface whose veth peer receives the frames
 * @param dstMac the real server's MAC (6 bytes)
 * @param srcMac the interface's MAC (6 bytes)
 */
export function nullHopProgram(ifindex: number, dstMac: ArrayLike<number>, srcMac: ArrayLike<number>) {
  const macs = [...Array.from(dstMac).slice(0, 6), ...Array.from(srcMac).slice(0, 6)];
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
  for (let k = 0; k < 12; k += 4) {
    p.op(OP.MOV64_IMM, 1, 0, 0, word(macs.slice(k, k + 4))).op(OP.STX_W, FP, 1, -24 + k, 0);
  }
  return p.op(OP.MOV64_REG, 1, 6, 0, 0)
    .op(OP.MOV64_IMM, 2, 0, 0, 0)
    .stackPtr(3, -24)
    .op(OP.MOV64_IMM, 4, 0, 0, 12)
    .op(OP.MOV64_IMM, 5, 0, 0, 0)
    .op(OP.CALL, 0, 0, 0, BPF_FUNC.skbStoreBytes)
    .op(OP.JNE_IMM, 0, 0, "next", 0)
    .op(OP.MOV64_IMM, 1, 0, 0, ifindex)
    .op(OP.MOV64_IMM, 2, 0, 0, 0)
    .op(OP.CALL, 0, 0, 0, BPF_FUNC.redirectPeer)
    .op(OP.EXIT, 0, 0, 0, 0)
    .label("next")
    .op(OP.MOV64_IMM, 0, 0, 0, TCX_NEXT)
    .op(OP.EXIT, 0, 0, 0, 0)
    .assemble();
}
