/**
 * The eBPF program of the in-kernel IP-in-IP decapsulator (see `tc_decapsulator.ts`), built as
 * data: a tc (tcx ingress) classifier that strips the outer IPv4 header of IP-in-IP packets from
 * an allowed director with `bpf_skb_adjust_room(skb, -20, BPF_ADJ_ROOM_MAC, 0)`, so the inner
 * packet continues up the stack as if it had arrived on the interface itself. Pure: no I/O.
 *
 * The allowed directors are the keys of a BPF hash map (key: the outer source's 4 bytes in network
 * order, as they stand in the packet; value: {@link DIRECTOR_VALUE_BYTES} unused bytes), so
 * `TcDecapsulator.setDirectors()` changes them while the program stays attached.
 *
 * Assembled with `ebpf_asm.ts` (instruction format there).
 *
 * What it does with a frame (Ethernet at offset 0 at tc ingress):
 *
 * ```text
 * load bytes 2..33 to the stack (Ethernet type, outer IPv4 header)
 * not IPv4, IHL ≠ 5, protocol ≠ 4, or a fragment (MF or offset) → TCX_NEXT (the kernel reassembles
 *   fragments and hands them to the user-space decapsulator's raw socket)
 * outer source not a key of the director map → TCX_NEXT (an empty map decapsulates nothing: until a
 *   director is known, IP-in-IP goes on to the user-space decapsulator, which drops it too)
 * adjust room −20 at the MAC layer (fails → TCX_NEXT), count packets and inner bytes in map
 *   slot 0 (u64 packets @0, u64 bytes @8) → TCX_PASS
 * ```
 *
 * @module
 */

import { BPF_FUNC, EBPF_INSN_BYTES, EbpfProgram, FP, OP, TCX_NEXT, TCX_PASS } from "./ebpf_asm.ts";

export { EBPF_INSN_BYTES, TCX_NEXT, TCX_PASS };

/** bpf_skb_adjust_room mode: at the MAC layer (right after the Ethernet header). */
export const BPF_ADJ_ROOM_MAC = 1;
/** Bytes of the counter map's value: u64 packets, u64 bytes. */
export const DECAP_COUNTER_BYTES = 16;
/** The most directors the director map holds (its `max_entries`). */
export const MAX_DECAP_DIRECTORS = 64;
/** Bytes of the director map's key: the IPv4 outer source in network order. */
export const DIRECTOR_KEY_BYTES = 4;
/** Bytes of the director map's value (unused: presence is what counts). */
export const DIRECTOR_VALUE_BYTES = 1;

const { MOV64_IMM, MOV64_REG, ADD64_IMM, LDX_W, ST_W, STX_W, ATOMIC_ADD_DW } = OP;
const { JNE_IMM, JEQ_IMM, CALL, EXIT } = OP;

/**
 * Builds the decapsulator program.
 *
 * @param opts.directorMapFd descriptor of a BPF hash map with {@link DIRECTOR_KEY_BYTES}-byte keys (the
 *   allowed outer sources, network order) and {@link DIRECTOR_VALUE_BYTES}-byte values
 * @param opts.counterMapFd descriptor of a one-slot BPF array map of {@link DECAP_COUNTER_BYTES}-byte values
 * @returns the instructions (`insn_cnt` = length / 8)
 */
export function ipipDecapProgram(
  opts: { directorMapFd: number; counterMapFd: number },
): Uint8Array<ArrayBuffer> {
  const p = new EbpfProgram();
  // Stack: fp-40 .. fp-9 holds frame bytes 2..33; fp-48 the counter key, fp-52 the director key.
  // Byte k of the frame is at fp-42+k.
  const at = (k: number) => -42 + k;
  p.op(MOV64_REG, 6, 1, 0, 0) // r6 = skb
    .op(MOV64_IMM, 2, 0, 0, 2) // offset 2
    .op(MOV64_REG, 3, FP, 0, 0)
    .op(ADD64_IMM, 3, 0, 0, -40)
    .op(MOV64_IMM, 4, 0, 0, 32)
    .op(CALL, 0, 0, 0, BPF_FUNC.skbLoadBytes)
    .op(JNE_IMM, 0, 0, "next", 0)
    .plainIpv4(at, 4, "next");
  p.op(LDX_W, 1, FP, at(26), 0) // outer source: its 4 bytes as they are, the map's key
    .op(STX_W, FP, 1, -52, 0)
    .loadMap(1, opts.directorMapFd)
    .stackPtr(2, -52)
    .op(CALL, 0, 0, 0, BPF_FUNC.mapLookupElem)
    .op(JEQ_IMM, 0, 0, "next", 0) // not a director (or none known yet)
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
