import { assertEquals } from "../tests/_assert.ts";
import { EBPF_INSN_BYTES, ipipDecapProgram, TCX_NEXT, TCX_PASS } from "./ipip_decap_program.ts";

// The kernel runs the program in tc_decapsulator_test.ts (BPF_PROG_TEST_RUN, as root); these check the encoding.

function insns(prog: Uint8Array) {
  return [...Array(prog.length / EBPF_INSN_BYTES).keys()].map((i) => {
    const v = new DataView(prog.buffer, prog.byteOffset + i * EBPF_INSN_BYTES, EBPF_INSN_BYTES);
    return { code: v.getUint8(0), regs: v.getUint8(1), off: v.getInt16(2, true), imm: v.getInt32(4, true) };
  });
}

Deno.test("ipipDecapProgram() looks the outer source up in the director map instead of comparing immediates", () => {
  const all = insns(ipipDecapProgram({ directorMapFd: 7, counterMapFd: 9 }));
  // Map descriptors: LD_IMM64 with src_reg BPF_PSEUDO_MAP_FD into r1; the director map first, then the counters.
  const maps = all.filter((x) => x.code === 0x18).map((x) => [x.regs, x.imm]);
  assertEquals(maps, [[0x11, 7], [0x11, 9]]);
  assertEquals(all.some((x) => x.code === 0x16), false); // no JEQ32 compare of an address
  // The key is the outer source (frame bytes 26..29 → fp-16) stored at fp-52, then bpf_map_lookup_elem.
  const i = all.findIndex((x) => x.code === 0x18);
  assertEquals(all[i - 2], { code: 0x61, regs: 0x0a << 4 | 1, off: -42 + 26, imm: 0 });
  assertEquals(all[i - 1], { code: 0x63, regs: 1 << 4 | 0x0a, off: -52, imm: 0 });
  assertEquals(all[i + 4], { code: 0x85, regs: 0, off: 0, imm: 1 });
  assertEquals(all[i + 5].code, 0x15); // a miss (NULL) jumps to TCX_NEXT
});

Deno.test("ipipDecapProgram() ends in TCX_PASS/TCX_NEXT exits", () => {
  const all = insns(ipipDecapProgram({ directorMapFd: 3, counterMapFd: 4 }));
  const n = all.length;
  assertEquals(all[n - 1].code, 0x95);
  assertEquals(all[n - 2], { code: 0xb7, regs: 0, off: 0, imm: TCX_NEXT });
  assertEquals(all[n - 4], { code: 0xb7, regs: 0, off: 0, imm: TCX_PASS });
  // The miss jump lands on the TCX_NEXT exit.
  const i = all.findIndex((x) => x.code === 0x18) + 5;
  assertEquals(i + 1 + all[i].off, n - 2);
});
