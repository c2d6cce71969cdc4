import { assertEquals, assertThrows } from "../tests/_assert.ts";
import { ipv4ToInt } from "../core/addr.ts";
import { EBPF_INSN_BYTES, ipipDecapProgram, MAX_DECAP_DIRECTORS, TCX_NEXT, TCX_PASS } from "./ipip_decap_program.ts";

// The kernel runs the program in tc_decapsulator_test.ts (BPF_PROG_TEST_RUN, as root); these check the encoding.

function insn(prog: Uint8Array, i: number) {
  const v = new DataView(prog.buffer, prog.byteOffset + i * EBPF_INSN_BYTES, EBPF_INSN_BYTES);
  return { code: v.getUint8(0), regs: v.getUint8(1), off: v.getInt16(2, true), imm: v.getInt32(4, true) };
}

Deno.test("ipipDecapProgram() compares each director's address as the packet bytes read little-endian", () => {
  const prog = ipipDecapProgram({ directors: [ipv4ToInt("10.77.0.2"), ipv4ToInt("192.168.0.2")], counterMapFd: 7 });
  const compares = [...Array(prog.length / EBPF_INSN_BYTES).keys()].map((i) => insn(prog, i)).filter((x) =>
    x.code === 0x16
  );
  // 10.77.0.2 is bytes 0a 4d 00 02 → 0x02004d0a; 192.168.0.2 → 0x0200a8c0.
  assertEquals(compares.map((x) => x.imm >>> 0), [0x02004d0a, 0x0200a8c0]);
});

Deno.test("ipipDecapProgram() ends in TCX_PASS/TCX_NEXT exits and loads the counter map by descriptor", () => {
  const prog = ipipDecapProgram({ directors: [], counterMapFd: 9 });
  const n = prog.length / EBPF_INSN_BYTES;
  assertEquals(insn(prog, n - 1).code, 0x95);
  assertEquals(insn(prog, n - 2), { code: 0xb7, regs: 0, off: 0, imm: TCX_NEXT });
  assertEquals(insn(prog, n - 4), { code: 0xb7, regs: 0, off: 0, imm: TCX_PASS });
  const ld = [...Array(n).keys()].map((i) => insn(prog, i)).find((x) => x.code === 0x18)!;
  assertEquals([ld.regs, ld.imm], [0x11, 9]); // src_reg BPF_PSEUDO_MAP_FD, dst r1
  assertEquals([...Array(n).keys()].some((i) => insn(prog, i).code === 0x16), false); // no director compare
});

Deno.test("ipipDecapProgram() rejects more directors than it compares", () => {
  assertThrows(
    () => ipipDecapProgram({ directors: new Array(MAX_DECAP_DIRECTORS + 1).fill(1), counterMapFd: 3 }),
    RangeError,
    "65 directors exceed 64",
  );
});
