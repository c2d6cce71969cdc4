/**
 * The eBPF program of the in-kernel IP-in-IP decapsulator (see `tc_decapsulator.ts`), built as
 * data: a tc (tcx ingress) classifier that strips the outer IPv4 header of IP-in-IP packets from
 * an allowed director with `bpf_skb_adjust_room(skb, -20, BPF_ADJ_ROOM_MAC, 0)`, so the inner
 * packet continues up the stack as if it had arrived on the interface itself. Pure: no I/O.
 *
 * Assembled with `ebpf_asm.ts` (instruction format there).
 *
 * What it does with a frame (Ethernet at offset 0 at tc ingress):
 *
 * ```text
 * load bytes 2..33 to the stack (Ethernet type, outer IPv4 header)
 * not IPv4, IHL ≠ 5, protocol ≠ 4, or a fragment (MF or offset) → TCX_NEXT (the kernel reassembles
 *   fragments and hands them to the user-space decapsulator's raw socket)
 * outer source not an allowed director (when the list is not empty) → TCX_NEXT
 * adjust room −20 at the MAC layer (fails → TCX_NEXT), count packets and inner bytes in map
 *   slot 0 (u64 packets @0, u64 bytes @8) → TCX_PASS
 * ```
 *
 * @module
 */

import { beWordImm, BPF_FUNC, EBPF_INSN_BYTES, EbpfProgram, FP, OP, TCX_NEXT, TCX_PASS } from "./ebpf_asm.ts";

export { EBPF_INSN_BYTES, TCX_NEXT, TCX_PASS };

/** bpf_skb_adjust_room mode: at the MAC layer (right after the Ethernet header). */
export const BPF_ADJ_ROOM_MAC = 1;
/** Bytes of the counter map's value: u64 packets, u64 bytes. */
export const DECAP_COUNTER_BYTES = 16;
/** The most directors the program checks (one compare each). */
export const MAX_DECAP_DIRECTORS = 64;

const { MOV64_IMM, MOV64_REG, ADD64_IMM, AND64_IMM, LDX_B, LDX_H, LDX_W, ST_W, ATOMIC_ADD_DW } = OP;
const { JNE_IMM, JEQ_IMM, JEQ32_IMM, JA, CALL, EXIT } = OP;

/**
 * Builds the decapsulator program.
 *
 * @param opts.directors allowed outer sources as unsigned 32-bit addresses (empty: any)
 * @param opts.counterMapFd descriptor of a one-slot BPF array map of {@link DECAP_COUNTER_BYTES}-byte values
 * @returns the instructions (`insn_cnt` = length / 8)
 * @throws {RangeError} with more than {@link MAX_DECAP_DIRECTORS} directors
 */
export function ipipDecapProgram(
  opts: { directors: readonly number[]; counterMapFd: number },
): Uint8Array<ArrayBuffer> {
  if (opts.directors.length > MAX_DECAP_DIRECTORS) {
    throw new RangeError(
      `Cannot build the decapsulator: ${opts.directors.length} directors exceed ${MAX_DECAP_DIRECTORS}`,
    );
  }
  const p = new EbpfProgram();
  // Stack: fp-40 .. fp-9 holds frame bytes 2..33; fp-48 the map key. Byte k of the frame is at fp-42+k.
  const at = (k: number) => -42 + k;
  p.op(MOV64_REG, 6, 1, 0, 0) // r6 = skb
    .op(MOV64_IMM, 2, 0, 0, 2) // offset 2
    .op(MOV64_REG, 3, FP, 0, 0)
    .op(ADD64_IMM, 3, 0, 0, -40)
    .op(MOV64_IMM, 4, 0, 0, 32)
    .op(CALL, 0, 0, 0, BPF_FUNC.skbLoadBytes)
    .op(JNE_IMM, 0, 0, "next", 0)
    .op(LDX_H, 1, FP, at(12), 0) // EtherType (big-endian bytes read little-endian: 0x0800 → 0x0008)
    .op(JNE_IMM, 1, 0, "next", 0x0008)
    .op(LDX_B, 1, FP, at(14), 0) // version/IHL
    .op(JNE_IMM, 1, 0, "next", 0x45)
    .op(LDX_B, 1, FP, at(23), 0) // protocol
    .op(JNE_IMM, 1, 0, "next", 4)
    .op(LDX_H, 1, FP, at(20), 0) // flags/fragment offset: MF | offset must be 0
    .op(AND64_IMM, 1, 0, 0, 0xff3f)
    .op(JNE_IMM, 1, 0, "next", 0);
  if (opts.directors.length) {
    p.op(LDX_W, 1, FP, at(26), 0); // outer source, network order read little-endian
    for (const d of opts.directors) {
      p.op(JEQ32_IMM, 1, 0, "allowed", beWordImm(d));
    }
    p.op(JA, 0, 0, "next", 0);
  }
  p.label("allowed")
    .op(MOV64_REG, 1, 6, 0, 0)
    .op(MOV64_IMM, 2, 0, 0, -20)
    .op(MOV64_IMM, 3, 0, 0, BPF_ADJ_ROOM_MAC)
    .op(MOV64_IMM, 4, 0, 0, 0)
    .op(CALL, 0, 0, 0, BPF_FUNC.skbAdjustRoom)
    .op(JNE_IMM, 0, 0, "next", 0)
    .op(ST_W, FP, 0, -48, 0) // key 0
    .loadMap(1, opts.counterMapFd)
    .op(MOV64_REG, 2, FP, 0, 0)
    .op(ADD64_IMM, 2, 0, 0, -48)
    .op(CALL, 0, 0, 0, BPF_FUNC.mapLookupElem)
    .op(JEQ_IMM, 0, 0, "pass", 0)
    .op(MOV64_IMM, 1, 0, 0, 1)
    .op(ATOMIC_ADD_DW, 0, 1, 0, 0) // packets
    .op(LDX_W, 1, 6, 0, 0) // skb->len (after the pop: the Ethernet header plus the inner packet)
    .op(ADD64_IMM, 1, 0, 0, -14)
    .op(ATOMIC_ADD_DW, 0, 1, 8, 0) // bytes
    .label("pass")
    .op(MOV64_IMM, 0, 0, 0, TCX_PASS)
    .op(EXIT, 0, 0, 0, 0)
    .label("next")
    .op(MOV64_IMM, 0, 0, 0, TCX_NEXT)
    .op(EXIT, 0, 0, 0, 0);
  return p.assemble();
}
