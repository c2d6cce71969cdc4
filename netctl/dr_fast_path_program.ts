/**
 * The eBPF program of the director's DR fast path (see `dr_fast_path.ts`): a tcx ingress classifier
 * that forwards packets of established, known flows in the kernel, as LVS does, and passes
 * everything else on to the user-space forwarding loop. Pure: no I/O; assembled with `ebpf_asm.ts`.
 *
 * Maps (all values little-endian, as the CPU reads them):
 *
 * ```text
 * flows  (hash)  key 12 B: saddr be32 | daddr be32 | sport be16 | dport be16   (frame bytes 26..37 as on the wire)
 *                value 32 B: +0 u32 real slot  +4 pad  +8 u64 last seen (bpf_ktime_get_ns)  +16 u64 packets
 *                            +24 u64 bytes (IP bytes)
 * reals  (array) key u32 slot
 *                value 20 B: +0 dst MAC (6)  +6 src MAC (6)  +12 u32 egress ifindex  +16 u32 valid (1) / passed (0)
 * real_counters (array) key u32 slot
 *                value 16 B: +0 u64 packets  +8 u64 bytes (IP bytes), written only by the program
 * ```
 *
 * What it does with a frame (Ethernet at offset 0 at tc ingress):
 *
 * ```text
 * load frame bytes 0..47 to the stack (shorter frames cannot be TCP: → TCX_NEXT)
 * not IPv4, IHL ≠ 5, protocol ≠ TCP, a fragment (MF or offset), or SYN/FIN/RST set → TCX_NEXT
 *   (state changes always reach the user-space connection table)
 * look up flows[saddr, daddr, sport, dport] (only DR flows of VIP services are ever installed) → absent: TCX_NEXT
 * look up reals[slot] → invalid (real removed, MAC unknown, not DR): TCX_NEXT
 * flow: last seen = now, packets += 1, bytes += len − 14 (atomic adds); real_counters[slot] likewise
 * rewrite the Ethernet destination and source (12 bytes) → bpf_redirect(ifindex, 0) (TCX_REDIRECT)
 * ```
 *
 * GSO super-frames and CHECKSUM_PARTIAL skbs are forwarded as they are (the IP packet is unchanged).
 *
 * @module
 */
import { BPF_FUNC, EbpfProgram, FP, OP, TCX_NEXT } from "./ebpf_asm.ts";

/** Bytes of a `flows` key. */
export const FLOW_KEY_BYTES = 12;
/** Bytes of a `flows` value. */
export const FLOW_VALUE_BYTES = 32;
/** Bytes of a `reals` value. */
export const REAL_VALUE_BYTES = 20;
/** Bytes of a `real_counters` value. */
export const REAL_COUNTER_BYTES = 16;

const { MOV64_IMM, MOV64_REG, ADD64_IMM, AND64_IMM, LDX_B, LDX_H, LDX_W, STX_W, STX_DW, ATOMIC_ADD_DW } = OP;
const { JNE_IMM, JEQ_IMM, JSET_IMM, CALL, EXIT } = OP;

/** Descriptors of the program's maps. */
export interface DrFastPathMaps {
  /** `flows` hash map. */
  flows: number;
  /** `reals` array map. */
  reals: number;
  /** `real_counters` array map. */
  realCounters: number;
}

/**
 * Builds the fast-path program.
 *
 * @param maps the map descriptors (created by the caller with the sizes above)
 * @returns the instructions
 */
export function drFastPathProgram(maps: DrFastPathMaps): Uint8Array<ArrayBuffer> {
  const p = new EbpfProgram();
  // Stack: fp-48 .. fp-1 holds frame bytes 0..47 (byte k at fp-48+k); fp-56 the reals key.
  const at = (k: number) => -48 + k;
  p.op(MOV64_REG, 6, 1, 0, 0) // r6 = skb
    .op(MOV64_IMM, 2, 0, 0, 0)
    .stackPtr(3, at(0))
    .op(MOV64_IMM, 4, 0, 0, 48)
    .op(CALL, 0, 0, 0, BPF_FUNC.skbLoadBytes)
    .op(JNE_IMM, 0, 0, "next", 0)
    .op(LDX_H, 1, FP, at(12), 0) // EtherType 08 00 read little-endian
    .op(JNE_IMM, 1, 0, "next", 0x0008)
    .op(LDX_B, 1, FP, at(14), 0) // version/IHL
    .op(JNE_IMM, 1, 0, "next", 0x45)
    .op(LDX_B, 1, FP, at(23), 0) // protocol
    .op(JNE_IMM, 1, 0, "next", 6)
    .op(LDX_H, 1, FP, at(20), 0) // flags/fragment offset: MF | offset must be 0
    .op(AND64_IMM, 1, 0, 0, 0xff3f)
    .op(JNE_IMM, 1, 0, "next", 0)
    .op(LDX_B, 1, FP, at(47), 0) // TCP flags
    .op(JSET_IMM, 1, 0, "next", 0x07) // FIN | SYN | RST
    // r7 = flows[frame bytes 26..37]
    .loadMap(1, maps.flows)
    .stackPtr(2, at(26))
    .op(CALL, 0, 0, 0, BPF_FUNC.mapLookupElem)
    .op(JEQ_IMM, 0, 0, "next", 0)
    .op(MOV64_REG, 7, 0, 0, 0)
    // r8 = reals[slot]
    .op(LDX_W, 1, 7, 0, 0)
    .op(STX_W, FP, 1, -56, 0)
    .loadMap(1, maps.reals)
    .stackPtr(2, -56)
    .op(CALL, 0, 0, 0, BPF_FUNC.mapLookupElem)
    .op(JEQ_IMM, 0, 0, "next", 0)
    .op(MOV64_REG, 8, 0, 0, 0)
    .op(LDX_W, 1, 8, 16, 0)
    .op(JEQ_IMM, 1, 0, "next", 0)
    // r9 = IP bytes
    .op(LDX_W, 9, 6, 0, 0) // skb->len
    .op(ADD64_IMM, 9, 0, 0, -14)
    .op(CALL, 0, 0, 0, BPF_FUNC.ktimeGetNs)
    .op(STX_DW, 7, 0, 8, 0) // last seen
    .op(MOV64_IMM, 1, 0, 0, 1)
    .op(ATOMIC_ADD_DW, 7, 1, 16, 0)
    .op(ATOMIC_ADD_DW, 7, 9, 24, 0)
    // real_counters[slot] (the key is still at fp-56)
    .loadMap(1, maps.realCounters)
    .stackPtr(2, -56)
    .op(CALL, 0, 0, 0, BPF_FUNC.mapLookupElem)
    .op(JEQ_IMM, 0, 0, "rewrite", 0)
    .op(MOV64_IMM, 1, 0, 0, 1)
    .op(ATOMIC_ADD_DW, 0, 1, 0, 0)
    .op(ATOMIC_ADD_DW, 0, 9, 8, 0)
    .label("rewrite")
    .op(MOV64_REG, 1, 6, 0, 0)
    .op(MOV64_IMM, 2, 0, 0, 0)
    .op(MOV64_REG, 3, 8, 0, 0)
    .op(MOV64_IMM, 4, 0, 0, 12)
    .op(MOV64_IMM, 5, 0, 0, 0)
    .op(CALL, 0, 0, 0, BPF_FUNC.skbStoreBytes)
    .op(JNE_IMM, 0, 0, "next", 0)
    .op(LDX_W, 1, 8, 12, 0) // egress ifindex
    .op(MOV64_IMM, 2, 0, 0, 0)
    .op(CALL, 0, 0, 0, BPF_FUNC.redirect)
    .op(EXIT, 0, 0, 0, 0)
    .label("next")
    .op(MOV64_IMM, 0, 0, 0, TCX_NEXT)
    .op(EXIT, 0, 0, 0, 0);
  return p.assemble();
}
