/**
 * A tiny eBPF assembler shared by netctl's in-kernel programs (the TUN decapsulator of
 * `ipip_decap_program.ts`, the DR fast path of `dr_fast_path_program.ts`): instructions with
 * symbolic jump targets, encoded as the kernel's `struct bpf_insn`. Pure: no I/O.
 *
 * Each instruction is 8 bytes, little-endian:
 *
 * ```text
 * +0 u8 opcode   +1 u8 dst_reg (low 4 bits) | src_reg (high 4 bits)   +2 s16 offset   +4 s32 imm
 * ```
 *
 * A 64-bit immediate load (`LD_IMM64`, used for map descriptors) takes two instructions; the second
 * is all zero here (descriptors fit in 32 bits).
 *
 * @module
 */

/** eBPF instruction bytes. */
export const EBPF_INSN_BYTES = 8;

/** tcx verdict: continue with the next program / the stack. */
export const TCX_NEXT = -1;
/** tcx verdict: accept now. */
export const TCX_PASS = 0;
/** tcx verdict: drop. */
export const TCX_DROP = 2;
/** tcx verdict: redirect (what `bpf_redirect()` returns on success). */
export const TCX_REDIRECT = 7;

/** `bpf_ringbuf_output()` flag: do not wake up a waiting reader. */
export const BPF_RB_NO_WAKEUP = 1;

/** Helper ids (uapi `enum bpf_func_id`). */
export const BPF_FUNC = {
  mapLookupElem: 1,
  mapUpdateElem: 2,
  mapDeleteElem: 3,
  ktimeGetNs: 5,
  ktimeGetCoarseNs: 160,
  skbStoreBytes: 9,
  redirect: 23,
  skbLoadBytes: 26,
  skbAdjustRoom: 50,
  ringbufOutput: 130,
  redirectPeer: 155,
} as const;

/** Opcodes (class | size/op | mode/source) used by netctl's programs. */
export const OP = {
  MOV64_IMM: 0xb7,
  MOV64_REG: 0xbf,
  ADD64_IMM: 0x07,
  ADD64_REG: 0x0f,
  SUB64_REG: 0x1f,
  /** `dst *= imm` (imm sign-extended; the low 32 bits of the product are those of a 32-bit multiply). */
  MUL64_IMM: 0x27,
  /** `dst %= imm`, unsigned. */
  MOD64_IMM: 0x97,
  /** `dst = (u32)src`: 32-bit move, zero-extends (truncates a 64-bit value to its low 32 bits). */
  MOV32_REG: 0xbc,
  XOR64_REG: 0xaf,
  LSH64_IMM: 0x67,
  OR64_REG: 0x4f,
  AND64_IMM: 0x57,
  RSH64_IMM: 0x77,
  XOR64_IMM: 0xa7,
  /** Byte swap to big-endian (imm 16/32/64): `dst = htons(dst)` on x86_64 for imm 16. */
  END_TO_BE: 0xdc,
  LDX_B: 0x71,
  LDX_H: 0x69,
  LDX_W: 0x61,
  LDX_DW: 0x79,
  ST_W: 0x62,
  STX_B: 0x73,
  STX_H: 0x6b,
  STX_W: 0x63,
  STX_DW: 0x7b,
  /** `lock *(u64 *)(dst + off) += src` (BPF_STX | BPF_DW | BPF_ATOMIC, imm BPF_ADD). */
  ATOMIC_ADD_DW: 0xdb,
  LD_IMM64: 0x18,
  JNE_IMM: 0x55,
  JEQ_IMM: 0x15,
  JGT_IMM: 0x25,
  JGT_REG: 0x2d,
  JSET_IMM: 0x45,
  JEQ32_IMM: 0x16,
  JA: 0x05,
  CALL: 0x85,
  EXIT: 0x95,
} as const;

/** The frame pointer register (read-only; the 512-byte stack lies below it). */
export const FP = 10;
/** `src_reg` of an `LD_IMM64` whose immediate is a map descriptor. */
export const PSEUDO_MAP_FD = 1;

interface Insn {
  code: number;
  dst: number;
  src: number;
  off: number | string;
  imm: number;
}

/** A program under construction: instructions with symbolic jump targets, encoded by {@link assemble}. */
export class EbpfProgram {
  readonly #insns: Insn[] = [];
  readonly #labels = new Map<string, number>();

  /**
   * Appends one instruction.
   *
   * @param off a jump offset, or a label name resolved at assembly
   */
  op(code: number, dst: number, src: number, off: number | string, imm: number): this {
    this.#insns.push({ code, dst, src, off, imm });
    return this;
  }

  /** Appends `r{dst} = map fd` (two instructions). */
  loadMap(dst: number, mapFd: number): this {
    return this.op(OP.LD_IMM64, dst, PSEUDO_MAP_FD, 0, mapFd).op(0, 0, 0, 0, 0);
  }

  /** Sets `reg` to the address `fp + off` (a pointer into the stack). */
  stackPtr(reg: number, off: number): this {
    return this.op(OP.MOV64_REG, reg, FP, 0, 0).op(OP.ADD64_IMM, reg, 0, 0, off);
  }

  /**
   * Appends the checks both tc programs start with, on a copy of the frame on the stack: Ethernet
   * type IPv4, version 4 with IHL 5 (no options), the given IP protocol, and not a fragment (MF and
   * offset 0); anything else jumps to `otherwise`. Uses r1.
   *
   * @param at the stack offset (from FP) of frame byte k
   * @param protocol the IP protocol number (6 TCP, 4 IP-in-IP)
   * @param otherwise the label taken when a check fails
   */
  plainIpv4(at: (k: number) => number, protocol: number, otherwise: string): this {
    return this.op(OP.LDX_H, 1, FP, at(12), 0) // EtherType (big-endian bytes read little-endian: 0x0800 → 0x0008)
      .op(OP.JNE_IMM, 1, 0, otherwise, 0x0008)
      .op(OP.LDX_B, 1, FP, at(14), 0) // version/IHL
      .op(OP.JNE_IMM, 1, 0, otherwise, 0x45)
      .op(OP.LDX_B, 1, FP, at(23), 0) // protocol
      .op(OP.JNE_IMM, 1, 0, otherwise, protocol)
      .op(OP.LDX_H, 1, FP, at(20), 0) // flags/fragment offset: MF | offset must be 0
      .op(OP.AND64_IMM, 1, 0, 0, 0xff3f)
      .op(OP.JNE_IMM, 1, 0, otherwise, 0);
  }

  /** Names the position of the next instruction. */
  label(name: string): this {
    this.#labels.set(name, this.#insns.length);
    return this;
  }

  /**
   * Encodes the instructions, resolving labels (jump offsets count from the next instruction).
   *
   * @returns the program (`insn_cnt` = length / {@link EBPF_INSN_BYTES})
   * @throws {RangeError} for an unknown label
   */
  assemble(): Uint8Array<ArrayBuffer> {
    const insns = this.#insns;
    const out = new Uint8Array(insns.length * EBPF_INSN_BYTES);
    const v = new DataView(out.buffer);
    insns.forEach((ins, i) => {
      let off = ins.off;
      if (typeof off === "string") {
        const at = this.#labels.get(off);
        if (at === undefined) throw new RangeError(`Cannot assemble eBPF program: no label "${off}"`);
        off = at - (i + 1);
      }
      const o = i * EBPF_INSN_BYTES;
      v.setUint8(o, ins.code);
      v.setUint8(o + 1, (ins.src << 4) | ins.dst);
      v.setInt16(o + 2, off, true);
      v.setInt32(o + 4, ins.imm, true);
    });
    return out;
  }
}

/**
 * A 32-bit immediate that equals the IPv4 address's network-order bytes read as a little-endian
 * u32 (what `LDX_W` of the packet bytes yields on x86_64).
 *
 * @param addr the address as an unsigned 32-bit number (`ipv4ToInt`)
 */
export function beWordImm(addr: number): number {
  return (((addr & 0xff) << 24) | ((addr >>> 8 & 0xff) << 16) | ((addr >>> 16 & 0xff) << 8) | (addr >>> 24)) | 0;
}
